/**
 * Constant memory: 256 MiB streamed from a generator through encryptStream
 * into decryptStream must come out whole and in order without the process
 * keeping the data. Bounded by size, not timed.
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
 * What this isolate holds (`heapUsed + external`: its heap and the buffers it owns) rises with garbage and
 * falls at each collection; its low-water mark is what is retained. Keeping the data would retain at least
 * the part already streamed (192 MiB by the last quarter); constant memory retains a few chunks, though under
 * load garbage can wait for a collection for a while (up to ~85 MiB seen here running beside other tests).
 */
const MAX_RETAINED_GROWTH = 128 * MiB;
/** The process's resident size, shared with other test modules under `--parallel`: a generous bound. */
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
  let lowInLastQuarter = Infinity;
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
    if (++chunks % 4 === 0) {
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      if (seen >= TOTAL * 0.75) lowInLastQuarter = Math.min(lowInLastQuarter, isolateBytes());
    }
  }
  assert.equal(seen, TOTAL);
  const retained = lowInLastQuarter - baseIsolate;
  const rss = peakRss - baseRss;
  assert.ok(
    retained < MAX_RETAINED_GROWTH,
    `the isolate retained ${(retained / MiB).toFixed(0)} MiB more at its low point in the last quarter (bound ${
      MAX_RETAINED_GROWTH / MiB
    })`,
  );
  assert.ok(
    rss < MAX_RSS_GROWTH,
    `resident memory grew by ${(rss / MiB).toFixed(0)} MiB (bound ${MAX_RSS_GROWTH / MiB})`,
  );
});
