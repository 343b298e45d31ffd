/**
 * Reading a service's answer with a bound: a KMS, STS or metadata answer is a
 * few KiB, so a longer one (a hostile or broken endpoint streaming without
 * end) is dropped unread past the bound instead of filling memory.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { readLimited } from "../io/byte_streams.ts";

/**
 * The body of `res` as text when it is at most `max` bytes; `undefined` when
 * it is longer (the rest is not read, and the body is cancelled).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAnswer } from "./answer_body.ts";
 * assert.equal(await readAnswer(new Response("{}"), 16), "{}");
 * assert.equal(await readAnswer(new Response("x".repeat(17)), 16), undefined);
 * ```
 */
export async function readAnswer(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return "";
  if (Number(res.headers.get("content-length") ?? NaN) > max) {
    await res.body.cancel().catch(() => {});
    return undefined;
  }
  const over = new EnvelopeError("LIMIT_EXCEEDED", `the answer is over ${max} bytes`);
  try {
    return new TextDecoder().decode(await readLimited(res.body, max, () => over));
  } catch (e) {
    if (e === over) return undefined;
    throw e;
  }
}
