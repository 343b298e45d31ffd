/**
 * Network failures both KMS clients classify the same way: a connection the
 * peer (the KMS endpoint, or a proxy or load balancer on the way) reset or
 * dropped in the middle of a request.
 *
 * @module
 */

/** Error codes and message fragments of a reset or dropped connection, from Node, Deno's fetch and hyper. */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"]);
const RESET_TEXT =
  /ECONNRESET|EPIPE|connection reset|reset by peer|broken pipe|socket hang up|connection closed before message completed/i;

/**
 * True when `err`, or an error in its `cause` chain, says the connection was
 * reset or dropped by the other side.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConnectionReset } from "./net_errors.ts";
 * const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
 * assert.ok(isConnectionReset(new TypeError("fetch failed", { cause: reset })));
 * assert.ok(!isConnectionReset(new Error("getaddrinfo ENOTFOUND kms.example")));
 * ```
 */
export function isConnectionReset(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === "string" && RESET_CODES.has(code)) return true;
    if (typeof name === "string" && RESET_CODES.has(name)) return true;
    if (typeof message === "string" && RESET_TEXT.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
