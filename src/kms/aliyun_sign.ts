/**
 * Alibaba Cloud RPC signature version 1.0 (`HMAC-SHA1`), as the KMS
 * 2016-01-20 API documents it:
 *
 * 1. take every request parameter but `Signature`, sort by name (code point
 *    order), percent-encode name and value (RFC 3986: `A-Z a-z 0-9 - _ . ~`
 *    kept, everything else `%XY` in uppercase hex of the UTF-8 bytes, so a
 *    space is `%20` and `*` is `%2A`), join `name=value` pairs with `&`;
 * 2. string to sign = `METHOD & %2F & percentEncode(that query)`;
 * 3. signature = base64(HMAC-SHA1(key = secret + "&", string to sign)).
 *
 * HMAC-SHA1 runs on `crypto.subtle` (through `src/crypto/hmac_sha1.ts`) (Deno, Node 20+, browsers in secure
 * contexts), so signing is asynchronous.
 *
 * @module
 */
import { hmacSha1 } from "../crypto/hmac_sha1.ts";
import { EnvelopeError } from "../errors.ts";
import { encodeBase64 } from "../encoding/base64.ts";

/** The request parameters, by name; values are sent as given. */
export type RpcParams = Readonly<Record<string, string>>;

const EXTRA = /[!'()*]/g;

/**
 * Percent-encodes `text` per RFC 3986 (unreserved characters kept,
 * everything else `%XY` of its UTF-8 bytes, uppercase hex).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentEncode } from "./aliyun_sign.ts";
 * assert.ok(percentEncode("a b*c~") === "a%20b%2Ac~");
 * ```
 */
export function percentEncode(text: string): string {
  let out: string;
  try {
    out = encodeURIComponent(text);
  } catch {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Signing the Alibaba Cloud KMS request failed: a parameter is not valid UTF-16 text",
      {
        hint: "pass parameters as well-formed strings",
      },
    );
  }
  // encodeURIComponent keeps ! ' ( ) * which RFC 3986 reserves.
  return out.replace(EXTRA, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function byCodePoint(a: string, b: string): number {
  // Names are compared as strings of code points; for the ASCII names the API
  // uses this equals byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonicalized query string: sorted, encoded `name=value` pairs joined by `&` (no `Signature`). */
export function canonicalQuery(params: RpcParams): string {
  return Object.keys(params)
    .filter((k) => k !== "Signature")
    .sort(byCodePoint)
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k])}`)
    .join("&");
}

/** The v1 string to sign for `method` (`GET` or `POST`) and `params`. */
export function stringToSign(method: string, params: RpcParams): string {
  return `${method.toUpperCase()}&${percentEncode("/")}&${percentEncode(canonicalQuery(params))}`;
}

/** base64(HMAC-SHA1(key, data)) over UTF-8 text. */
export async function hmacSha1Base64(key: string, data: string): Promise<string> {
  return encodeBase64(await hmacSha1(key, data));
}

/**
 * Computes the v1 `Signature` for `params` sent with `method`, using the
 * AccessKey secret.
 *
 * @example The official vector (DescribeRegions, secret `testsecret`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { signRpc } from "./aliyun_sign.ts";
 * const sig = await signRpc("GET", {
 *   AccessKeyId: "testid", Action: "DescribeRegions", Format: "XML",
 *   SignatureMethod: "HMAC-SHA1", SignatureNonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
 *   SignatureVersion: "1.0", Timestamp: "2016-02-23T12:46:24Z", Version: "2014-05-26",
 * }, "testsecret");
 * assert.ok(sig === "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
 * ```
 */
export function signRpc(method: string, params: RpcParams, accessKeySecret: string): Promise<string> {
  return hmacSha1Base64(accessKeySecret + "&", stringToSign(method, params));
}

/** `YYYY-MM-DDThh:mm:ssZ` in UTC, the form the `Timestamp` parameter takes. */
export function rpcTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Encodes signed parameters as an `application/x-www-form-urlencoded` body
 * (or query string) with the same RFC 3986 encoding, `Signature` included.
 */
export function encodeForm(params: RpcParams): string {
  return Object.keys(params)
    .sort(byCodePoint)
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k])}`)
    .join("&");
}
