/**
 * Object storage for envelope messages: `@envelope/envelope/s3`.
 *
 * - {@linkcode s3Source} / {@linkcode ossSource}: a `RandomAccessSource` over
 *   an object, for `openRandomAccess` (ranged, authenticated reads) and
 *   {@linkcode sourceStream} (streamed decryption with ranged GETs in flight).
 * - {@linkcode s3Sink} / {@linkcode ossSink}: a `WritableStream` that writes
 *   one object through a concurrent multipart upload, completed on close and
 *   aborted on failure, so the object appears only whole.
 * - {@linkcode rewrapS3Object}: a new key list for a stored message, the
 *   payload copied inside the store.
 * - {@linkcode listIncompleteUploads} / {@linkcode abortIncompleteUploads}:
 *   what a killed upload left behind.
 *
 * This subpath imports `@aws-sdk/client-s3` statically; nothing else in the
 * library imports it, so the SDK loads only for callers of `./s3`. Clients
 * are injected (`client`), with a default built from the environment (see
 * {@linkcode buildClient}): the AWS variables for `s3://`, the
 * `ALIBABA_CLOUD_*` ones and OSS's S3-compatible endpoint for `oss://`.
 *
 * @example Encrypting into a bucket, then reading a range back
 * ```ts ignore
 * import { encryptStream, openRandomAccess } from "@envelope/envelope";
 * import { s3Sink, s3Source } from "@envelope/envelope/s3";
 * const sink = s3Sink("s3://media/video.envl");
 * await (await Deno.open("video.mp4")).readable.pipeThrough(encryptStream({ keys })).pipeTo(sink.stream);
 * await sink.done;
 * const reader = await openRandomAccess(await s3Source("s3://media/video.envl"), { keys });
 * const bytes = await reader.read(1_000_000, 1_000_000);
 * await reader.close();
 * ```
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { type ObjectSink, objectSink, type ObjectWriteOptions } from "./sink.ts";
import { type ObjectSource, objectSource, type ObjectSourceOptions } from "./source.ts";
import { rewrapHeader, type RewrapOptions, type RewrapResult } from "../envelope/rewrap.ts";
import {
  readHeaderBytes,
  replaceHeader,
  type ReplaceHeaderOptions,
  type ReplaceHeaderResult,
} from "./replace_header.ts";
import { type ObjectLocation, type ObjectScheme, parseObjectUrl } from "./url.ts";

export {
  buildClient,
  type ObjectStoreClient,
  type ObjectStoreClientConfig,
  type ObjectStoreConnection,
  ossEndpoint,
} from "./client.ts";
export type { RandomAccessSource } from "../io/random_access_source.ts";
export type { RewrapOptions, RewrapResult } from "../envelope/rewrap.ts";
export { type ObjectInfo, type ObjectSource, type ObjectSourceOptions, sourceStream } from "./source.ts";
export type { SourceStreamOptions } from "./source.ts";
export { choosePartSize, type ObjectSink, type ObjectWriteOptions, type ObjectWriteResult } from "./sink.ts";
export { DEFAULT_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from "./sink.ts";
export {
  readHeaderBytes,
  replaceHeader,
  type ReplaceHeaderOptions,
  type ReplaceHeaderResult,
} from "./replace_header.ts";
export { abortIncompleteUploads, type IncompleteUpload, listIncompleteUploads } from "./cleanup.ts";
export { isObjectUrl, type ObjectLocation, type ObjectScheme, objectUrl, parseObjectUrl } from "./url.ts";

/** `s3://BUCKET/KEY`, `oss://BUCKET/KEY` or a location; the scheme must be `scheme`. */
export type ObjectRef = string | ObjectLocation;

function locate(ref: ObjectRef, scheme: ObjectScheme): ObjectLocation {
  const loc = typeof ref === "string" ? parseObjectUrl(ref) : ref;
  if (loc.scheme !== scheme) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Opening ${loc.scheme}://${loc.bucket}/${loc.key} failed: it is not ${scheme}://`,
      {
        hint: `use the ${loc.scheme === "s3" ? "s3" : "oss"}* function for ${loc.scheme}:// URLs`,
      },
    );
  }
  return loc;
}

/**
 * A random-access source over an S3 (or S3-compatible) object.
 *
 * @example
 * ```ts ignore
 * const reader = await openRandomAccess(await s3Source("s3://b/video.envl"), { keys });
 * ```
 */
export function s3Source(ref: ObjectRef, options?: ObjectSourceOptions): Promise<ObjectSource> {
  return objectSource(locate(ref, "s3"), options);
}

/**
 * A random-access source over an Alibaba Cloud OSS object (S3-compatible API).
 *
 * @example
 * ```ts ignore
 * const reader = await openRandomAccess(await ossSource("oss://b/video.envl"), { keys });
 * ```
 */
export function ossSource(ref: ObjectRef, options?: ObjectSourceOptions): Promise<ObjectSource> {
  return objectSource(locate(ref, "oss"), options);
}

/**
 * A sink writing one S3 object (see {@linkcode ObjectSink}).
 *
 * @example
 * ```ts ignore
 * const sink = s3Sink("s3://b/big.iso.envl", { queueSize: 8 });
 * await plaintext.pipeThrough(encryptStream({ keys })).pipeTo(sink.stream);
 * ```
 */
export function s3Sink(ref: ObjectRef, options?: ObjectWriteOptions): ObjectSink {
  return objectSink(locate(ref, "s3"), options);
}

/**
 * A sink writing one OSS object.
 *
 * @example
 * ```ts ignore
 * const sink = ossSink("oss://b/big.iso.envl");
 * ```
 */
export function ossSink(ref: ObjectRef, options?: ObjectWriteOptions): ObjectSink {
  return objectSink(locate(ref, "oss"), options);
}

/** Options of {@linkcode rewrapS3Object}: what to change in the key list, and how to copy. */
export interface RewrapObjectOptions extends RewrapOptions, ReplaceHeaderOptions {}

/** What {@linkcode rewrapS3Object} did: the rewrap, and the bytes moved. */
export interface RewrapObjectResult extends RewrapResult, ReplaceHeaderResult {}

/**
 * Rewraps a stored message in place (an `s3://` or `oss://` URL): the new
 * key list is built and proved by `rewrapHeader` (every new wrapped key
 * opens to the committed data key) before anything is written; then the
 * header is replaced with {@linkcode replaceHeader}, the payload copied
 * inside the store above 10 MiB. The payload bytes are unchanged.
 *
 * @example Adding a KMS key to a stored object
 * ```ts ignore
 * import { AwsKms } from "@envelope/envelope/aws";
 * import { rewrapS3Object } from "@envelope/envelope/s3";
 * const r = await rewrapS3Object("s3://b/big.iso.envl", { keys: [oldKey], add: [new AwsKms({ keyId: "alias/new" })] });
 * console.log(r.method, r.bytesDownloaded, r.bytesUploaded, r.bytesCopied);
 * ```
 */
export async function rewrapS3Object(ref: ObjectRef, options: RewrapObjectOptions): Promise<RewrapObjectResult> {
  const loc = typeof ref === "string" ? parseObjectUrl(ref) : ref;
  const source = await objectSource(loc, { client: options.client });
  try {
    const rewrapped = await rewrapHeader(await readHeaderBytes(source), options);
    const moved = await replaceHeader(loc, source, rewrapped.header, rewrapped.payloadOffset, options);
    return { ...rewrapped, ...moved };
  } finally {
    await source.close();
  }
}
