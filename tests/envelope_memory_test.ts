/**
 * Constant memory: 256 MiB streamed from a generator through encryptStream
 * into decryptStream must come out whole and in order while the process's
 * resident memory grows by less than the data itself would take. Bounded by
 * size, not timed.
 */
import assert from "node:assert/strict";
import { decryptStream } from "../src/envelope/decrypt.ts";
import { encryptStream } from "../src/envelope/encrypt.ts";
import { LocalKey } from "../src/keys/local.ts";

const MiB = 1024 * 1024;
const TOTAL = 256 * MiB;
/** Pieces that do not line up with the 64 KiB chunks. */
const PIECE = 100_003;
/** Holding the whole plaintext (or ciphertext) would take 256 MiB; constant memory takes a few chunks. */
const MAX_GROWTH = 160 * MiB;

/** The byte at position `p`: cheap to make and to check, and different for every chunk and offset. */
const byteAt = (p: number) => ((p >>> 16) * 31 + (p & 0xffff) * 7) & 0xff;

function* plaintext(): Generator<Uint8Array> {
  for (let at = 0; at < TOTAL; at += PIECE) {
    const n = Math.min(PIECE, TOTAL - at);
    const piece = new Uint8Array(n);
    for (let i = 0; i < n; i++) piece[i] = byteAt(at + i);
    yield piece;
  }
}

Deno.test("256 MiB through encryptStream and decryptStream in bounded memory, every byte back in order", async () => {
  const key = await LocalKey.generate();
  const base = Deno.memoryUsage().rss;
  let peak = base;
  let seen = 0;
  let chunks = 0;
  const out = ReadableStream.from(plaintext())
    .pipeThrough(encryptStream({ keys: key, context: { test: "memory" } }))
    .pipeThrough(decryptStream({ keys: key, context: { test: "memory" } }));
  for await (const part of out) {
    for (let i = 0; i < part.length; i++) {
      if (part[i] !== byteAt(seen + i)) assert.fail(`byte ${seen + i} differs`);
    }
    seen += part.length;
    if (++chunks % 64 === 0) peak = Math.max(peak, Deno.memoryUsage().rss);
  }
  peak = Math.max(peak, Deno.memoryUsage().rss);
  assert.equal(seen, TOTAL);
  const growth = peak - base;
  assert.ok(
    growth < MAX_GROWTH,
    `resident memory grew by ${(growth / MiB).toFixed(0)} MiB (bound ${MAX_GROWTH / MiB} MiB)`,
  );
});
