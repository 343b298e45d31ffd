/**
 * Reading objects: a {@linkcode RandomAccessSource} over an S3 or OSS object
 * (ranged GETs, every one pinned to the ETag seen at open, so an object
 * replaced while it is read fails instead of mixing two versions), and a
 * stream over any random-access source with a bounded number of ranged reads
 * in flight.
 *
 * @module
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EnvelopeError } from "../errors.ts";
import type { RandomAccessSource } from "../io/random_access_source.ts";
import { readLimited } from "../io/byte_streams.ts";
import { clientFor, errorName, errorStatus, type ObjectStoreConnection, storeError } from "./client.ts";
import { type ObjectLocation, objectUrl } from "./url.ts";

/** Bytes fetched with the first GET, which also gives the size: enough for any usual header. */
export const HEAD_PREFETCH = 16 * 1024;

/** What a source knows about its object, from the first response. */
export interface ObjectInfo {
  /** The ETag every later read is pinned to. */
  readonly etag: string;
  /** The object's Content-Type. */
  readonly contentType?: string;
  /** The object's user metadata. */
  readonly metadata?: Record<string, string>;
  /** Its server-side encryption (`AES256`, `aws:kms`...). */
  readonly serverSideEncryption?: string;
  /** The KMS key of its server-side encryption. */
  readonly sseKmsKeyId?: string;
}

/** A random-access source over one object; counts what it fetched. */
export interface ObjectSource extends RandomAccessSource {
  /** Where the object is. */
  readonly location: ObjectLocation;
  /** What the first response said about it. */
  readonly info: ObjectInfo;
  /** GET requests made and bytes received so far. */
  readonly stats: { requests: number; bytes: number };
  /** Destroys the client if this source built it. */
  close(): Promise<void>;
}

/** Options of {@linkcode objectSource}. */
export interface ObjectSourceOptions extends ObjectStoreConnection {
  /** Bytes fetched by the first GET (default 16 KiB); later reads inside them cost no request. */
  readonly prefetch?: number;
}

/** The SDK's response body, as the runtimes give it (a Node stream on Deno and Node, a web stream in browsers). */
interface SdkBody {
  transformToByteArray?: () => Promise<Uint8Array>;
  transformToWebStream?: () => ReadableStream<Uint8Array>;
  destroy?: () => void;
  cancel?: () => Promise<void>;
}

/**
 * The body of a GET of at most `max` bytes. A store that ignores `Range`
 * answers with the whole object: the body is then dropped unread (by its
 * Content-Length) or as soon as it passes `max`, so memory never grows with
 * the object. `what` names the read for the error.
 */
async function body(out: { Body?: unknown; ContentLength?: number }, max: number, what: string): Promise<Uint8Array> {
  const b = out.Body as SdkBody | undefined;
  if (!b) return new Uint8Array(0);
  const tooLong = () =>
    new EnvelopeError("IO_FAILED", `${what} failed: the store sent more than the ${max} bytes asked for`, {
      hint: "the endpoint ignored the Range header; use an S3-compatible endpoint that serves ranged GETs",
    });
  if (out.ContentLength !== undefined && out.ContentLength > max) {
    drop(b);
    throw tooLong();
  }
  if (out.ContentLength !== undefined || !b.transformToWebStream) {
    return b.transformToByteArray ? await b.transformToByteArray() : new Uint8Array(0);
  }
  // No length given (chunked): read piece by piece, up to max.
  return await readLimited(b.transformToWebStream(), max, tooLong);
}

/** Lets go of a body that is not read (closing its connection's stream). */
function drop(b: SdkBody): void {
  try {
    if (b.destroy) b.destroy();
    else b.cancel?.().catch(() => {});
  } catch {
    // nothing to release
  }
}

/**
 * Opens an object for random access. One ranged GET of the first bytes
 * gives the size and the ETag; every later read is a ranged GET with
 * `If-Match`, so the object cannot change under the reader.
 *
 * @example Reading a range of an encrypted object (here against a local S3-compatible endpoint)
 * ```ts ignore
 * import { openRandomAccess } from "@envelope/envelope";
 * import { s3Source } from "@envelope/envelope/s3";
 * const reader = await openRandomAccess(await s3Source("s3://media/video.envl"), { keys });
 * const bytes = await reader.read(1_000_000, 1_000_000);
 * await reader.close();
 * ```
 */
export async function objectSource(location: ObjectLocation, options: ObjectSourceOptions = {}): Promise<ObjectSource> {
  const url = objectUrl(location);
  const { client, owned } = clientFor(location.scheme, options);
  const stats = { requests: 0, bytes: 0 };
  const prefetch = Math.max(1, options.prefetch ?? HEAD_PREFETCH);
  let head: Uint8Array;
  let size: number;
  let info: ObjectInfo;
  try {
    try {
      stats.requests++;
      const out = await client.send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key, Range: `bytes=0-${prefetch - 1}` }),
      );
      head = await body(out, prefetch, `Reading the first ${prefetch} bytes of ${url}`);
      stats.bytes += head.length;
      const m = /\/(\d+)\s*$/.exec(out.ContentRange ?? "");
      size = m ? Number(m[1]) : head.length;
      info = describe(out);
    } catch (e) {
      // A range of an empty object is unsatisfiable (416): the object is empty.
      if (!(errorName(e) === "InvalidRange" || errorStatus(e) === 416)) throw e;
      const out = await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
      head = new Uint8Array(0);
      size = out.ContentLength ?? 0;
      info = describe(out);
    }
  } catch (e) {
    if (owned) client.destroy();
    throw storeError("Reading", url, e);
  }
  return {
    location,
    info,
    size,
    stats,
    async read(offset, length) {
      const end = Math.min(size, offset + length);
      if (end <= offset) return new Uint8Array(0);
      if (end <= head.length) return head.subarray(offset, end);
      return await getRange(client, location, offset, end - offset, info.etag, stats);
    },
    close() {
      if (owned) client.destroy();
      return Promise.resolve();
    },
  };
}

function describe(
  out: {
    ETag?: string;
    ContentType?: string;
    Metadata?: Record<string, string>;
    ServerSideEncryption?: string;
    SSEKMSKeyId?: string;
  },
): ObjectInfo {
  return {
    etag: out.ETag ?? "",
    contentType: out.ContentType,
    metadata: out.Metadata,
    serverSideEncryption: out.ServerSideEncryption,
    sseKmsKeyId: out.SSEKMSKeyId,
  };
}

/** One ranged GET pinned to `etag` (internal to the S3 modules). */
export async function getRange(
  client: S3Client,
  location: ObjectLocation,
  offset: number,
  length: number,
  etag: string,
  stats?: { requests: number; bytes: number },
): Promise<Uint8Array> {
  try {
    if (stats) stats.requests++;
    const out = await client.send(
      new GetObjectCommand({
        Bucket: location.bucket,
        Key: location.key,
        Range: `bytes=${offset}-${offset + length - 1}`,
        ...(etag ? { IfMatch: etag } : {}),
      }),
    );
    const bytes = await body(out, length, `Reading bytes ${offset}-${offset + length - 1} of ${objectUrl(location)}`);
    if (stats) stats.bytes += bytes.length;
    if (bytes.length !== length) {
      throw new EnvelopeError(
        "TRUNCATED",
        `Reading bytes ${offset}-${offset + length - 1} of ${
          objectUrl(location)
        } failed: ${bytes.length} bytes came back`,
        { hint: "the object changed or the connection dropped; run again" },
      );
    }
    return bytes;
  } catch (e) {
    throw storeError("Reading", objectUrl(location), e);
  }
}

/** Options of {@linkcode sourceStream}. */
export interface SourceStreamOptions {
  /** Where to start (default 0). */
  readonly start?: number;
  /** Bytes per ranged read (default 8 MiB). */
  readonly partSize?: number;
  /** Ranged reads in flight (default 4); memory is about `partSize × concurrency`. */
  readonly concurrency?: number;
}

/**
 * Streams `source` from `start` to its end with ranged reads of `partSize`,
 * up to `concurrency` in flight, delivered in order. Cancelling stops new
 * reads.
 */
export function sourceStream(
  source: RandomAccessSource,
  options: SourceStreamOptions = {},
): ReadableStream<Uint8Array> {
  const partSize = options.partSize ?? 8 * 1024 * 1024;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let next = options.start ?? 0;
  const queue: Promise<Uint8Array>[] = [];
  const fill = () => {
    while (queue.length < concurrency && next < source.size) {
      const p = source.read(next, Math.min(partSize, source.size - next));
      p.catch(() => {}); // awaited in order below
      queue.push(p);
      next += partSize;
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      fill();
      const p = queue.shift();
      if (!p) {
        controller.close();
        return;
      }
      controller.enqueue(await p);
    },
    cancel() {
      next = source.size;
      queue.length = 0;
    },
  }, { highWaterMark: 0 });
}
