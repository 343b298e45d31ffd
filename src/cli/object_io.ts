/**
 * The CLI's inputs and outputs at `s3://` and `oss://` URLs. Loaded (and the
 * S3 SDK with it) only when a command names such a URL.
 *
 * - An input is read with ranged GETs, 8 MiB each, four in flight
 *   (`ENVELOPE_S3_PARTS_IN_FLIGHT` changes the count), every one pinned to
 *   the ETag of the first.
 * - An output is a multipart upload (a single PutObject up to one part); the
 *   object appears only when the whole message was written. A failure aborts
 *   the upload; so does SIGINT, SIGTERM or SIGHUP. After a SIGKILL the
 *   upload's parts stay until `envelope s3-cleanup URL` (or a lifecycle
 *   rule) removes them; the next upload to the same key says so.
 * - Without `--force`, an existing object is not replaced (`OUTPUT_EXISTS`;
 *   checked before the upload starts, not atomically).
 *
 * @module
 */
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EnvelopeError } from "../errors.ts";
import { buildClient, errorName, errorStatus, storeError } from "../s3/client.ts";
import { listIncompleteUploads } from "../s3/cleanup.ts";
import { replaceHeader, type ReplaceHeaderResult } from "../s3/replace_header.ts";
import { objectSink } from "../s3/sink.ts";
import { type ObjectSource, objectSource, sourceStream } from "../s3/source.ts";
import { isPrefix, type ObjectLocation, type ObjectScheme, objectUrl, parseObjectUrl } from "../s3/url.ts";
import type { Input } from "../io/input.ts";
import type { UploadFlags } from "./object_flags.ts";
import { note } from "./output.ts";
import { abortOnSignal } from "./temp_files.ts";

const clients = new Map<ObjectScheme, S3Client>();

/** The CLI's client for `scheme`, built once from the environment. */
export function cliClient(scheme: ObjectScheme): S3Client {
  let c = clients.get(scheme);
  if (!c) clients.set(scheme, c = buildClient(scheme));
  return c;
}

function partsInFlight(): number {
  const text = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.ENVELOPE_S3_PARTS_IN_FLIGHT;
  return text && /^\d+$/.test(text) && Number(text) >= 1 ? Math.min(64, Number(text)) : 4;
}

/** Parses an object URL that must name one object, not a prefix. */
export function objectLocation(url: string, action: string): ObjectLocation {
  const loc = parseObjectUrl(url);
  if (isPrefix(loc)) {
    throw new EnvelopeError("USAGE", `${action} ${url} failed: it names a prefix, not an object`, {
      hint: "give the object's full key (with -r, a prefix ending in / names where the objects go)",
    });
  }
  return loc;
}

/** Opens an object for random access with the CLI's client. */
export async function openObjectSource(url: string): Promise<ObjectSource> {
  const loc = objectLocation(url, "Reading");
  return await objectSource(loc, { client: cliClient(loc.scheme) });
}

/** An object as a CLI input: streamed with ranged GETs from `start`. */
export async function openObjectInput(url: string, start = 0): Promise<Input> {
  const source = await openObjectSource(url);
  return { name: url, size: source.size, stream: sourceStream(source, { start, concurrency: partsInFlight() }) };
}

/** Refuses to replace an existing object without `force`. */
export async function checkObjectWritable(url: string, force: boolean): Promise<void> {
  const loc = objectLocation(url, "Writing");
  if (force) return;
  try {
    await cliClient(loc.scheme).send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
  } catch (e) {
    if (errorStatus(e) === 404 || errorName(e) === "NotFound" || errorName(e) === "NoSuchKey") return;
    throw storeError("Writing", url, e);
  }
  throw new EnvelopeError("OUTPUT_EXISTS", `Writing ${url} failed: the object already exists`, {
    hint: "choose another output with -o, or pass --force to replace it",
  });
}

/**
 * Uploads `source` to the object at `url`: aborted (no object, no parts) on
 * any failure or on SIGINT/SIGTERM/SIGHUP.
 */
export async function writeObjectOutput(
  source: ReadableStream<Uint8Array>,
  url: string,
  options: { force: boolean; upload?: UploadFlags; expectedSize?: number },
): Promise<void> {
  let loc: ObjectLocation;
  try {
    await checkObjectWritable(url, options.force);
    loc = objectLocation(url, "Writing");
    const left = await listIncompleteUploads(loc, { client: cliClient(loc.scheme) }).catch(() => []);
    const same = left.filter((u) => u.key === loc.key);
    if (same.length > 0) {
      note(
        `${same.length} incomplete upload(s) of ${url} from earlier runs are left; \`envelope s3-cleanup ${url}\` removes them`,
      );
    }
  } catch (e) {
    await source.cancel().catch(() => {});
    throw e;
  }
  const u = options.upload ?? {};
  const sink = objectSink(loc, {
    client: cliClient(loc.scheme),
    partSize: u.partSize,
    expectedSize: u.partSize === undefined ? options.expectedSize : undefined,
    queueSize: u.queueSize ?? partsInFlight(),
    contentType: u.contentType,
    metadata: u.metadata,
    serverSideEncryption: u.serverSideEncryption,
    sseKmsKeyId: u.sseKmsKeyId,
    // The HEAD above fails early; the conditional write also refuses an object that appears during the upload.
    noOverwrite: !options.force,
  });
  // From now on a signal aborts the upload (waiting for CreateMultipartUpload if it is under way).
  const forget = abortOnSignal(() => sink.abortNow());
  try {
    await source.pipeTo(sink.stream);
    await sink.done;
  } finally {
    forget();
  }
}

/**
 * Replaces the header of the object `source` reads, in place (the payload
 * copied inside the store when it is over 10 MiB); returns the bytes moved.
 */
export async function rewriteObjectHeader(
  source: ObjectSource,
  header: Uint8Array,
  payloadOffset: number,
): Promise<ReplaceHeaderResult> {
  return await replaceHeader(source.location, source, header, payloadOffset, {
    client: cliClient(source.location.scheme),
  });
}

/** The URL of `loc` (re-exported for the commands). */
export { objectUrl };
