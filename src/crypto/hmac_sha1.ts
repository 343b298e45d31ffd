/**
 * HMAC-SHA1 over `crypto.subtle`, for the Alibaba Cloud RPC signature (v1),
 * which mandates SHA-1. Kept in `crypto/` because only this folder touches
 * `crypto.subtle`. Not used for anything this project encrypts or
 * authenticates itself.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/**
 * HMAC-SHA1 of `data` under `key` (both UTF-8 text).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hmacSha1 } from "./hmac_sha1.ts";
 * const mac = await hmacSha1("key", "The quick brown fox jumps over the lazy dog");
 * assert.ok(mac.length === 20 && mac[0] === 0xde && mac[19] === 0xd9);
 * ```
 */
export async function hmacSha1(key: string, data: string): Promise<Uint8Array> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Signing the Alibaba Cloud KMS request failed: this runtime has no crypto.subtle",
      {
        hint: "use Deno, Node 20 or later, or a browser page served over HTTPS",
      },
    );
  }
  const enc = new TextEncoder();
  const k = await subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, enc.encode(data)));
}
