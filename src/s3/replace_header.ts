/**
 * Replacing the header of a stored object in place (what rewrap needs)
 * without moving its payload through the client: the new header plus the first 5 MiB of payload (read back and
 * written unchanged, because every part but the last must be at least 5 MiB)
 * form part 1 of a multipart upload, and the rest of the old object is
 * copied inside the store with `UploadPartCopy`, each copy pinned to the
 * old object's ETag. Small objects are downloaded and uploaded again. The
 * object is replaced only when the upload completes, and only if it still
 * has that ETag (`If-Match` on the PutObject or CompleteMultipartUpload);
 * any failure aborts it and leaves the object there as it was.
 *
 * @module
 */
import {
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type ServerSideEncryption,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { parseHeader, tryParseHeader } from "../format/header.ts";
import { MAX_HEADER_BYTES } from "../format/limits.ts";
import { EnvelopeError } from "../errors.ts";
import { clientFor, errorName, errorStatus, type ObjectStoreConnection, storeError } from "./client.ts";
import { getRange, type ObjectSource } from "./source.ts";
import { abortUpload, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from "./sink.ts";
import { type ObjectLocation, objectUrl } from "./url.ts";

/** Options of {@linkcode replaceHeader}. */
export interface ReplaceHeaderOptions extends ObjectStoreConnection {
  /** Payload bytes read back and written again in part 1 (default and minimum 5 MiB). */
  readonly firstPartPayload?: number;
  /** Bytes per server-side copy part (default: 1 GiB, larger when needed to stay under 10,000 parts). */
  readonly copyPartSize?: number;
  /** Copy parts in flight (default 4). */
  readonly queueSize?: number;
}

/** What {@linkcode replaceHeader} did. */
export interface ReplaceHeaderResult {
  /** `copy`: multipart with server-side copies; `rewrite`: downloaded and uploaded again. */
  readonly method: "copy" | "rewrite";
  /** Bytes downloaded through the client (the source's GETs included). */
  readonly bytesDownloaded: number;
  /** Bytes uploaded through the client. */
  readonly bytesUploaded: number;
  /** Bytes copied inside the store. */
  readonly bytesCopied: number;
  /** The new object's size. */
  readonly size: number;
}

/** Reads the whole header of `source` (one GET for any usual header). */
export async function readHeaderBytes(source: ObjectSource): Promise<Uint8Array> {
  let head = await source.read(0, Math.min(source.size, 4096));
  for (;;) {
    const r = tryParseHeader(head);
    if (typeof r !== "number") return head;
    if (r > MAX_HEADER_BYTES || head.length >= source.size) {
      parseHeader(head); // throws the precise error
      return head;
    }
    head = await source.read(0, Math.min(source.size, Math.max(r, head.length * 2)));
  }
}

/**
 * Writes `header` followed by the payload of the object `source` reads (from
 * `payloadOffset` on) over that object. Every read and copy is pinned to the
 * ETag the source saw; the object is replaced only when the upload completes.
 */
export async function replaceHeader(
  location: ObjectLocation,
  source: ObjectSource,
  header: Uint8Array,
  payloadOffset: number,
  options: ReplaceHeaderOptions = {},
): Promise<ReplaceHeaderResult> {
  const url = objectUrl(location);
  const { client, owned } = clientFor(location.scheme, options);
  const result = { header, payloadOffset };
  try {
    const etag = source.info.etag;
    // The write that replaces the object is pinned to the ETag read, as every read and copy is: an object changed
    // since (another writer's new version) is left as it is, and the rewrap fails.
    const condition = etag ? { IfMatch: etag } : {};
    const payloadLength = source.size - result.payloadOffset;
    const size = result.header.length + payloadLength;
    const firstLen = Math.max(MIN_PART_SIZE, options.firstPartPayload ?? MIN_PART_SIZE);
    const common = {
      Bucket: location.bucket,
      Key: location.key,
      ContentType: source.info.contentType,
      ...(source.info.metadata ? { Metadata: source.info.metadata } : {}),
      ...(source.info.serverSideEncryption
        ? { ServerSideEncryption: source.info.serverSideEncryption as ServerSideEncryption }
        : {}),
      ...(source.info.sseKmsKeyId ? { SSEKMSKeyId: source.info.sseKmsKeyId } : {}),
    };
    if (payloadLength <= firstLen + MIN_PART_SIZE) {
      const payload = await source.read(result.payloadOffset, payloadLength);
      const body = new Uint8Array(size);
      body.set(result.header);
      body.set(payload, result.header.length);
      try {
        await client.send(new PutObjectCommand({ ...common, ...condition, Body: body }));
      } catch (e) {
        throw replaceError(url, e);
      }
      return {
        method: "rewrite",
        bytesDownloaded: source.stats.bytes,
        bytesUploaded: size,
        bytesCopied: 0,
        size,
      };
    }
    const first = new Uint8Array(result.header.length + firstLen);
    first.set(result.header);
    first.set(
      await getRange(client, location, result.payloadOffset, firstLen, etag, source.stats),
      result.header.length,
    );
    const copyFrom = result.payloadOffset + firstLen;
    const rest = source.size - copyFrom;
    const copyPartSize = Math.min(
      MAX_PART_SIZE,
      Math.max(MIN_PART_SIZE, options.copyPartSize ?? 1024 ** 3, Math.ceil(rest / (MAX_PARTS - 1))),
    );
    let uploadId: string | undefined;
    try {
      const created = await client.send(new CreateMultipartUploadCommand(common));
      uploadId = created.UploadId!;
      const parts: CompletedPart[] = [];
      const one = await client.send(
        new UploadPartCommand({
          Bucket: location.bucket,
          Key: location.key,
          UploadId: uploadId,
          PartNumber: 1,
          Body: first,
        }),
      );
      parts.push({ PartNumber: 1, ETag: one.ETag });
      const copySource = `${location.bucket}/${location.key.split("/").map(encodeURIComponent).join("/")}`;
      const ranges: [number, number, number][] = [];
      for (let o = copyFrom, n = 2; o < source.size; o += copyPartSize, n++) {
        ranges.push([n, o, Math.min(source.size, o + copyPartSize) - 1]);
      }
      const queueSize = Math.max(1, options.queueSize ?? 4);
      let next = 0;
      const worker = async () => {
        while (next < ranges.length) {
          const [n, a, b] = ranges[next++];
          const out = await client.send(
            new UploadPartCopyCommand({
              Bucket: location.bucket,
              Key: location.key,
              UploadId: uploadId,
              PartNumber: n,
              CopySource: copySource,
              CopySourceRange: `bytes=${a}-${b}`,
              ...(etag ? { CopySourceIfMatch: etag } : {}),
            }),
          );
          parts.push({ PartNumber: n, ETag: out.CopyPartResult?.ETag });
        }
      };
      await Promise.all(Array.from({ length: Math.min(queueSize, ranges.length) }, worker));
      parts.sort((x, y) => x.PartNumber! - y.PartNumber!);
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: location.bucket,
          Key: location.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...condition,
        }),
      );
      uploadId = undefined;
      return {
        method: "copy",
        bytesDownloaded: source.stats.bytes,
        bytesUploaded: first.length,
        bytesCopied: rest,
        size,
      };
    } catch (e) {
      if (uploadId) await abortUpload(client, location, uploadId).catch(() => {});
      throw replaceError(url, e);
    }
  } finally {
    if (owned) client.destroy();
  }
}

/**
 * The error of replacing `url`: a refused `If-Match` (412, or the 409 S3
 * gives when another write to the key won meanwhile) means the object changed
 * since it was read, and it was left as it is.
 */
function replaceError(url: string, e: unknown): EnvelopeError {
  if (e instanceof EnvelopeError) return e;
  const status = errorStatus(e);
  const name = errorName(e);
  if (status === 412 || name === "PreconditionFailed" || name === "ConditionalRequestConflict") {
    return new EnvelopeError(
      "IO_FAILED",
      `Rewrapping ${url} failed: the object changed since it was read; it was left as it is (the other version kept)`,
      { hint: "run rewrap again on the object as it is now", cause: e },
    );
  }
  return storeError("Rewrapping", url, e);
}
