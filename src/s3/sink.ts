/**
 * Writing objects: a `WritableStream` that uploads what is written to it as
 * one object. Up to one part it is a single PutObject at close; beyond, a
 * multipart upload whose parts go up concurrently (at most `queueSize` in
 * flight, so memory stays near `partSize × (queueSize + 1)`), completed at
 * close and aborted when the stream is aborted or a part fails. Either way
 * the object appears only whole, and a failed or interrupted write leaves no
 * object and no parts.
 *
 * @module
 */
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { EnvelopeError } from "../errors.ts";
import { clientFor, errorName, errorStatus, type ObjectStoreConnection, storeError } from "./client.ts";
import { type ObjectLocation, objectUrl } from "./url.ts";

/** The smallest part S3 and OSS accept (all parts but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** The largest part S3 accepts. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** The most parts an upload may have. */
export const MAX_PARTS = 10_000;
/** The default part size. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIB = 1024 * 1024;

/** How the object is written. */
export interface ObjectWriteOptions extends ObjectStoreConnection {
  /** Bytes per part (5 MiB to 5 GiB); default from `expectedSize`, else 8 MiB growing with the part count. */
  readonly partSize?: number;
  /** The object's expected size (an upper bound), to choose a part size that stays under 10,000 parts. */
  readonly expectedSize?: number;
  /** Parts uploaded at once (default 4). */
  readonly queueSize?: number;
  /** The object's Content-Type (default `application/octet-stream`). */
  readonly contentType?: string;
  /** User metadata (`x-amz-meta-*`). */
  readonly metadata?: Record<string, string>;
  /** Server-side encryption: `AES256` or `aws:kms` (OSS: `AES256` or `KMS`). */
  readonly serverSideEncryption?: string;
  /** The KMS key for `aws:kms` server-side encryption. */
  readonly sseKmsKeyId?: string;
  /** Called with the upload id once a multipart upload exists (the CLI aborts it on SIGINT/SIGTERM). */
  readonly onUploadStarted?: (uploadId: string) => void;
  /**
   * Never replace an object: the PutObject or CompleteMultipartUpload is
   * conditional (`If-None-Match: *`), so if an object appeared at the key,
   * even while this one was being written, the write fails with
   * `OUTPUT_EXISTS` and the object that is there stays. Default false (the
   * object is replaced). The CLI sets it unless `--force` is given.
   */
  readonly noOverwrite?: boolean;
}

/** What a finished sink wrote. */
export interface ObjectWriteResult {
  /** Bytes written. */
  readonly bytes: number;
  /** 0 for a single PutObject. */
  readonly parts: number;
  /** The part size used (the first part's, for a growing schedule). */
  readonly partSize: number;
  /** The new object's ETag. */
  readonly etag?: string;
}

/** A sink: the stream to write, and the outcome once it closed. */
export interface ObjectSink {
  /** The stream to write the object's bytes to; close it to complete the object. */
  readonly stream: WritableStream<Uint8Array>;
  /** Resolves after close with what was written; rejects when the write failed or was aborted. */
  readonly done: Promise<ObjectWriteResult>;
  /** Aborts the multipart upload now (for signal handlers); safe to call more than once. */
  abortNow(): Promise<void>;
}

/**
 * The part size for an object of `expectedSize` bytes (or unknown): the
 * requested one if it is valid and fits in 10,000 parts, else the smallest
 * whole number of MiB, at least 8 MiB, that does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choosePartSize } from "./sink.ts";
 * assert.equal(choosePartSize(undefined, 1024 ** 3), 8 * 1024 ** 2);
 * assert.equal(choosePartSize(undefined, 200 * 1024 ** 3), 21 * 1024 ** 2); // 200 GiB in at most 10,000 parts
 * ```
 */
export function choosePartSize(requested: number | undefined, expectedSize: number | undefined): number {
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < MIN_PART_SIZE || requested > MAX_PART_SIZE) {
      throw new EnvelopeError("USAGE", `Choosing the part size failed: ${requested} is not 5 MiB to 5 GiB`, {
        hint: "give --part-size between 5242880 and 5368709120 bytes",
      });
    }
    if (expectedSize !== undefined && Math.ceil(expectedSize / requested) > MAX_PARTS) {
      throw new EnvelopeError(
        "USAGE",
        `Choosing the part size failed: ${expectedSize} bytes in parts of ${requested} would be over ${MAX_PARTS} parts`,
        { hint: `give --part-size of at least ${Math.ceil(expectedSize / MAX_PARTS)} or leave it out` },
      );
    }
    return requested;
  }
  if (expectedSize === undefined) return DEFAULT_PART_SIZE;
  return Math.max(DEFAULT_PART_SIZE, Math.ceil(expectedSize / MAX_PARTS / MIB) * MIB);
}

/**
 * Opens a sink that writes one object. With no `expectedSize` and no
 * `partSize`, parts start at 8 MiB and double every 1,000 parts, so an
 * object of unknown size can still reach 10,000 parts (about 8 TiB, more
 * than the store's 5 TiB object limit).
 *
 * @example Encrypting a stream into a bucket
 * ```ts ignore
 * import { encryptStream } from "@envelope/envelope";
 * import { s3Sink } from "@envelope/envelope/s3";
 * const sink = s3Sink("s3://backups/db.dump.envl", { queueSize: 4, serverSideEncryption: "aws:kms" });
 * await file.readable.pipeThrough(encryptStream({ keys })).pipeTo(sink.stream);
 * console.log(await sink.done); // { bytes, parts, partSize, etag }
 * ```
 */
export function objectSink(location: ObjectLocation, options: ObjectWriteOptions = {}): ObjectSink {
  const url = objectUrl(location);
  const fixed = options.partSize !== undefined || options.expectedSize !== undefined;
  const baseSize = choosePartSize(options.partSize, options.expectedSize);
  const queueSize = Math.max(1, options.queueSize ?? 4);
  const { client, owned } = clientFor(location.scheme, options);
  const common = {
    Bucket: location.bucket,
    Key: location.key,
    ContentType: options.contentType ?? "application/octet-stream",
    ...(options.metadata ? { Metadata: options.metadata } : {}),
    ...(options.serverSideEncryption
      ? { ServerSideEncryption: options.serverSideEncryption as ServerSideEncryption }
      : {}),
    ...(options.sseKmsKeyId ? { SSEKMSKeyId: options.sseKmsKeyId } : {}),
  };
  // The request that makes the object visible carries the condition (S3 checks it there, not at the upload's start).
  const condition = options.noOverwrite ? { IfNoneMatch: "*" } : {};
  const writeError = (e: unknown) => options.noOverwrite ? createOnlyError(url, e) : storeError("Writing", url, e);
  const partSizeFor = (n: number) =>
    fixed ? baseSize : Math.min(MAX_PART_SIZE, baseSize * 2 ** Math.floor((n - 1) / 1000));

  let uploadId: string | undefined;
  let creating: Promise<string> | undefined;
  let partNumber = 0;
  let buffer = new Uint8Array(partSizeFor(1));
  let filled = 0;
  let total = 0;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let aborted: Promise<void> | undefined;
  let finished = false;
  // (Promise.withResolvers is not in Node 20, which the npm package supports.)
  let resolve!: (r: ObjectWriteResult) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<ObjectWriteResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {});

  const start = () =>
    creating ??= (async () => {
      const out = await client.send(new CreateMultipartUploadCommand(common));
      if (!out.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
      uploadId = out.UploadId;
      options.onUploadStarted?.(uploadId);
      return uploadId;
    })();

  const sendPart = (n: number, bytes: Uint8Array) => {
    const p = (async () => {
      const id = await start();
      const out = await client.send(
        new UploadPartCommand({ Bucket: location.bucket, Key: location.key, UploadId: id, PartNumber: n, Body: bytes }),
      );
      parts.push({ PartNumber: n, ETag: out.ETag });
    })().catch((e) => {
      failure ??= e;
    });
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
    return p;
  };

  const check = () => {
    if (failure !== undefined) throw storeError("Writing", url, failure);
  };

  const abortUpload = () =>
    aborted ??= (async () => {
      await Promise.allSettled([...inFlight]);
      const id = uploadId ?? (creating ? await creating.catch(() => undefined) : undefined);
      if (id) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: location.key, UploadId: id }))
          .catch(() => {});
      }
    })();

  const fail = async (e: unknown) => {
    if (finished) return;
    finished = true;
    await abortUpload();
    if (owned) client.destroy();
    reject(e);
  };

  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        check();
        let off = 0;
        while (off < chunk.length) {
          const n = Math.min(buffer.length - filled, chunk.length - off);
          buffer.set(chunk.subarray(off, off + n), filled);
          filled += n;
          off += n;
          total += n;
          if (filled === buffer.length) {
            sendPart(++partNumber, buffer);
            buffer = new Uint8Array(partSizeFor(partNumber + 1));
            filled = 0;
            while (inFlight.size >= queueSize) await Promise.race(inFlight);
            check();
          }
        }
      } catch (e) {
        const err = storeError("Writing", url, e);
        await fail(err);
        throw err;
      }
    },
    async close() {
      try {
        check();
        if (partNumber === 0) {
          const out = await client.send(
            new PutObjectCommand({ ...common, ...condition, Body: buffer.subarray(0, filled) }),
          );
          finished = true;
          if (owned) client.destroy();
          resolve({ bytes: total, parts: 0, partSize: buffer.length, etag: out.ETag });
          return;
        }
        if (filled > 0) sendPart(++partNumber, buffer.subarray(0, filled));
        buffer = new Uint8Array(0);
        await Promise.all([...inFlight]);
        check();
        if (parts.length > MAX_PARTS) {
          throw new EnvelopeError("LIMIT_EXCEEDED", `Writing ${url} failed: it needs over ${MAX_PARTS} parts`, {
            hint: "give a larger --part-size",
          });
        }
        parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
        const out = await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: location.bucket,
            Key: location.key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...condition,
          }),
        );
        finished = true;
        if (owned) client.destroy();
        resolve({ bytes: total, parts: parts.length, partSize: baseSize, etag: out.ETag });
      } catch (e) {
        const err = writeError(e);
        await fail(err);
        throw err;
      }
    },
    async abort(reason) {
      await fail(reason ?? new EnvelopeError("IO_FAILED", `Writing ${url} failed: the write was aborted`));
    },
  });
  return { stream, done, abortNow: abortUpload };
}

/**
 * The error of a create-only write (`If-None-Match: *`) to `url`: a refused
 * condition means an object is there, which is `OUTPUT_EXISTS`; a store that
 * does not take the condition says so, with the way round it.
 */
export function createOnlyError(url: string, e: unknown): EnvelopeError {
  if (e instanceof EnvelopeError) return e;
  const status = errorStatus(e);
  if (status === 412 || errorName(e) === "PreconditionFailed") {
    return new EnvelopeError(
      "OUTPUT_EXISTS",
      `Writing ${url} failed: the object already exists (it appeared while this one was written)`,
      {
        hint: "choose another output with -o, or pass --force to replace it",
        cause: e,
      },
    );
  }
  if (status === 501 || errorName(e) === "NotImplemented") {
    return new EnvelopeError(
      "IO_FAILED",
      `Writing ${url} failed: the store does not support conditional writes (If-None-Match), which keep an existing object from being replaced`,
      {
        hint: "make sure nothing is at that key, then pass --force to write without the condition",
        cause: e,
      },
    );
  }
  return storeError("Writing", url, e);
}

/** Aborts one multipart upload; failures are the caller's to report. */
export async function abortUpload(client: S3Client, location: ObjectLocation, uploadId: string): Promise<void> {
  await client.send(
    new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: location.key, UploadId: uploadId }),
  );
}
