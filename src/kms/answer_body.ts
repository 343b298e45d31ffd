/**
 * Reading a service's answer with a bound: a KMS, STS or metadata answer is a
 * few KiB, so a longer one (a hostile or broken endpoint streaming without
 * end) is dropped unread past the bound instead of filling memory.
 *
 * @module
 */

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
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await res.body.cancel().catch(() => {});
    return undefined;
  }
  const reader = res.body.getReader();
  const pieces: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    pieces.push(value);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const p of pieces) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all);
}
