/**
 * Constant memory: 256 MiB streamed from a generator through encryptStream
 * into decryptStream must come out whole and in order while the process's
 * memory grows by less than the data itself would take. Bounded by
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
/**
 * Holding the whole plaintext (or ciphertext) would take 256 MiB; constant memory takes a few chunks. This
 * isolate's heap plus the buffers it owns (`heapUsed + external`) must stay well under that. The process's
 * resident size gets a generous bound too: with `--parallel` other test modules share the process.
 */
const MAX_ISOLATE_GROWTH = 128 * MiB;
const MAX_RSS_GROWTH = 400 * MiB;
const isolateBytes = () => {
  const u = Deno.memoryUsage();
  return u.heapUsed + u.external;
};

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
  const baseRss = Deno.memoryUsage().rss;
  const baseIsolate = isolateBytes();
  let peakRss = baseRss;
  let peakIsolate = baseIsolate;
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
    if (++chunks % 16 === 0) {
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      peakIsolate = Math.max(peakIsolate, isolateBytes());
    }
  }
  assert.equal(seen, TOTAL);
  const isolate = peakIsolate - baseIsolate;
  const rss = peakRss - baseRss;
  assert.ok(
    isolate < MAX_ISOLATE_GROWTH,
    `heap and buffers grew by ${(isolate / MiB).toFixed(0)} MiB (bound ${MAX_ISOLATE_GROWTH / MiB})`,
  );
  assert.ok(
    rss < MAX_RSS_GROWTH,
    `resident memory grew by ${(rss / MiB).toFixed(0)} MiB (bound ${MAX_RSS_GROWTH / MiB})`,
  );
});
