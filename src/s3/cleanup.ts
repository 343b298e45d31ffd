/**
 * Incomplete multipart uploads: listing and aborting them. A run killed with
 * SIGKILL (or a lost machine) cannot abort its upload; its parts stay
 * (billed, invisible) until this is run, for example by
 * `envelope s3-cleanup s3://bucket/prefix`, or until a bucket lifecycle rule
 * (`AbortIncompleteMultipartUpload`) removes them.
 *
 * @module
 */
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { clientFor, type ObjectStoreConnection, storeError } from "./client.ts";
import { isPrefix, type ObjectLocation, objectUrl } from "./url.ts";

/** One incomplete multipart upload. */
export interface IncompleteUpload {
  /** The object key the upload writes. */
  readonly key: string;
  /** The store's upload id. */
  readonly uploadId: string;
  /** When it was started (epoch ms), if the store says. */
  readonly initiated?: number;
}

/**
 * Lists the incomplete multipart uploads of `location`: under it when it is a
 * prefix (its key empty or ending in `/`), else of exactly that key, so that
 * `s3://b/db.envl` never takes in another tool's upload of
 * `s3://b/db.envl.tmp`.
 */
export async function listIncompleteUploads(
  location: ObjectLocation,
  options: ObjectStoreConnection = {},
): Promise<IncompleteUpload[]> {
  const { client, owned } = clientFor(location.scheme, options);
  const found: IncompleteUpload[] = [];
  try {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const out = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: location.bucket,
          Prefix: location.key,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of out.Uploads ?? []) {
        if (!isPrefix(location) && u.Key !== location.key) continue;
        if (u.Key && u.UploadId) found.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated?.getTime() });
      }
      if (!out.IsTruncated) break;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
    return found;
  } catch (e) {
    throw storeError("Listing the uploads under", objectUrl(location), e);
  } finally {
    if (owned) client.destroy();
  }
}

/**
 * Aborts the incomplete uploads of `location` (a prefix, or one key: see
 * {@linkcode listIncompleteUploads}) that started at least
 * `olderThanMs` ago (default 0: all of them, including another run's upload
 * in progress, which then fails without writing anything). Returns those
 * aborted.
 */
export async function abortIncompleteUploads(
  location: ObjectLocation,
  options: ObjectStoreConnection & { readonly olderThanMs?: number; readonly now?: number } = {},
): Promise<IncompleteUpload[]> {
  const { client, owned } = clientFor(location.scheme, options);
  try {
    const cutoff = (options.now ?? Date.now()) - (options.olderThanMs ?? 0);
    const all = await listIncompleteUploads(location, { client });
    const old = all.filter((u) => u.initiated === undefined || u.initiated <= cutoff);
    for (const u of old) {
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: u.key, UploadId: u.uploadId }),
        );
      } catch (e) {
        throw storeError("Aborting an upload of", `${location.scheme}://${location.bucket}/${u.key}`, e);
      }
    }
    return old;
  } finally {
    if (owned) client.destroy();
  }
}
