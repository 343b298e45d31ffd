/**
 * Object URLs: `s3://BUCKET/KEY` (Amazon S3 or any S3-compatible store) and
 * `oss://BUCKET/KEY` (Alibaba Cloud OSS through its S3-compatible API). This
 * module loads no SDK, so the CLI can tell an object URL from a path without
 * loading one.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** Which store an object lives in: `s3` (AWS or S3-compatible) or `oss` (Alibaba Cloud). */
export type ObjectScheme = "s3" | "oss";

/** An object (or, with a key ending in `/` or empty, a prefix) in a bucket. */
export interface ObjectLocation {
  /** `s3` or `oss`. */
  readonly scheme: ObjectScheme;
  /** The bucket name. */
  readonly bucket: string;
  /** The object key; `""` or ending in `/` names a prefix. */
  readonly key: string;
}

const URL_FORM = /^(s3|oss):\/\/([^/]+)(?:\/(.*))?$/s;

/**
 * True when `text` is an `s3://` or `oss://` URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isObjectUrl } from "./url.ts";
 * assert.ok(isObjectUrl("s3://bucket/a.envl") && isObjectUrl("oss://bucket/a.envl"));
 * assert.ok(!isObjectUrl("./s3:/a") && !isObjectUrl("https://bucket.s3.amazonaws.com/a"));
 * ```
 */
export function isObjectUrl(text: string): boolean {
  return /^(s3|oss):\/\//.test(text);
}

/**
 * Parses `s3://BUCKET/KEY` or `oss://BUCKET/KEY`. The key is taken as
 * written (no percent-decoding: S3 keys may hold `%`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseObjectUrl } from "./url.ts";
 * assert.deepEqual(parseObjectUrl("s3://bkt/dir/file.envl"), { scheme: "s3", bucket: "bkt", key: "dir/file.envl" });
 * assert.equal(parseObjectUrl("oss://bkt/prefix/").key, "prefix/");
 * assert.throws(() => parseObjectUrl("s3://b/x")); // bucket names have 3 to 255 characters
 * ```
 */
export function parseObjectUrl(text: string): ObjectLocation {
  const m = URL_FORM.exec(text);
  if (!m || !/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(m[2])) {
    throw new EnvelopeError(
      "USAGE",
      `Reading the object URL ${JSON.stringify(text)} failed: it is not s3://BUCKET/KEY`,
      {
        hint: "write s3://BUCKET/KEY or oss://BUCKET/KEY (a key ending in / names a prefix)",
      },
    );
  }
  return { scheme: m[1] as ObjectScheme, bucket: m[2], key: m[3] ?? "" };
}

/** The URL of `location`, as a user writes it. */
export function objectUrl(location: ObjectLocation): string {
  return `${location.scheme}://${location.bucket}/${location.key}`;
}

/** True when `location` names a prefix (its key is empty or ends in `/`). */
export function isPrefix(location: ObjectLocation): boolean {
  return location.key === "" || location.key.endsWith("/");
}
