/**
 * Chunking at its edges: plaintext lengths around the chunk size crossed with
 * write sizes through encryptStream/decryptStream and the buffered paths, the
 * exact ciphertext length, byte-identical output across paths and
 * concurrency, random-access reads at many offsets, and a seeded property
 * test over lengths, chunk sizes, contexts and piece sizes.
 */
import assert from "node:assert/strict";
import { encrypt, type EncryptOptions, encryptStream } from "../src/envelope/encrypt.ts";
import { decrypt, type DecryptOptions, decryptStream } from "../src/envelope/decrypt.ts";
import { blobSource, bytesSource, openRandomAccess } from "../src/envelope/random_access.ts";
import { parseHeader } from "../src/format/header.ts";
import { RawDataKey } from "../src/keys/raw.ts";
import { LocalKey } from "../src/keys/local.ts";
import {
  concatBytes,
  decryptRandomAccess,
  decryptStreamed,
  drain,
  hex,
  prng,
  streamOf,
  withSalt,
} from "./support/envelope_harness.ts";

const TAG = 16;

/** encryptStream fed `pt` in pieces of `size`. */
async function encryptStreamed(pt: Uint8Array, options: EncryptOptions, size: number): Promise<Uint8Array> {
  const r = await drain(streamOf(pt, size).pipeThrough(encryptStream(options)));
  if (r.error !== undefined) throw r.error;
  return concatBytes(r.parts);
}

/** The exact message length: header, plaintext, and one tag per chunk (at least one chunk). */
function expectedLength(headerLength: number, len: number, cs: number): number {
  return headerLength + len + TAG * Math.max(1, Math.ceil(len / cs));
}

const pattern = (n: number, seed = 1) => prng(seed).bytes(n);

Deno.test("lengths 0, 1, cs-1, cs, cs+1, 2cs+500 x write sizes 1, 512, cs-1, cs, cs+1 round-trip at cs 64 and 256 with exact sizes", async () => {
  const key = await LocalKey.generate();
  for (const cs of [64, 256]) {
    for (const len of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500]) {
      const pt = pattern(len, len + cs);
      for (const ws of [1, 512, cs - 1, cs, cs + 1]) {
        const what = `cs ${cs}, length ${len}, writes of ${ws}`;
        const sealed = await encryptStreamed(pt, { keys: key, chunkSize: cs, context: { cs: String(cs) } }, ws);
        const h = parseHeader(sealed);
        assert.equal(h.chunkSize, cs);
        assert.equal(sealed.length, expectedLength(h.length, len, cs), `${what}: message length`);
        const opts: DecryptOptions = { keys: key, context: { cs: String(cs) } };
        assert.equal(hex(await decryptStreamed(sealed, opts, ws)), hex(pt), `${what}: decryptStream`);
        assert.equal(hex(await decrypt(sealed, opts)), hex(pt), `${what}: decrypt`);
      }
      // The buffered encoder gives the same length, and the streamed decoder reads it in other piece sizes.
      const sealed = await encrypt(pt, { keys: key, chunkSize: cs });
      assert.equal(
        sealed.length,
        expectedLength(parseHeader(sealed).length, len, cs),
        `cs ${cs}, length ${len}: encrypt length`,
      );
      for (const ws of [1, 7, cs + TAG, cs + TAG + 1, 100_000]) {
        assert.equal(
          hex(await decryptStreamed(sealed, { keys: key }, ws)),
          hex(pt),
          `cs ${cs}, length ${len}: decrypt in ${ws}`,
        );
      }
      assert.equal(hex(await decryptRandomAccess(sealed, { keys: key })), hex(pt));
    }
  }
});

Deno.test("encrypt and encryptStream write identical bytes for one salt and data key, at concurrency 1 and 4", async () => {
  const dk = pattern(32, 99);
  const salt = pattern(32, 100);
  const keys = await RawDataKey.create(dk);
  for (const cs of [64, 256, 4096]) {
    for (const len of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500, 9 * cs + 3]) {
      const pt = pattern(len, len);
      const base = { keys, chunkSize: cs, context: { a: "1", b: "2" }, ...withSalt(salt) };
      const reference = await encrypt(pt, { ...base, concurrency: 1 });
      const variants: [string, Promise<Uint8Array>][] = [
        ["encrypt concurrency 4", encrypt(pt, { ...base, concurrency: 4 })],
        ["encrypt concurrency 3", encrypt(pt, { ...base, concurrency: 3 })],
        ["encryptStream concurrency 1 writes of 1000", encryptStreamed(pt, { ...base, concurrency: 1 }, 1000)],
        ["encryptStream concurrency 4 writes of 1000", encryptStreamed(pt, { ...base, concurrency: 4 }, 1000)],
        ["encryptStream concurrency 4 writes of 13", encryptStreamed(pt, { ...base, concurrency: 4 }, 13)],
        ["encryptStream default writes of cs", encryptStreamed(pt, base, cs)],
      ];
      for (const [label, p] of variants) {
        assert.equal(hex(await p), hex(reference), `cs ${cs}, length ${len}: ${label}`);
      }
      assert.equal(hex(await decrypt(reference, { keys, concurrency: 1 })), hex(pt));
    }
  }
});

Deno.test("the same data key with two salts gives different payloads (a payload key per message)", async () => {
  const keys = await RawDataKey.create(pattern(32, 5));
  const pt = pattern(300, 6);
  const a = await encrypt(pt, { keys, chunkSize: 64, ...withSalt(pattern(32, 7)) });
  const b = await encrypt(pt, { keys, chunkSize: 64, ...withSalt(pattern(32, 8)) });
  const ha = parseHeader(a);
  const hb = parseHeader(b);
  assert.equal(ha.length, hb.length);
  assert.notEqual(hex(ha.commitment), hex(hb.commitment));
  // No chunk ciphertext repeats between the two messages.
  const chunksOf = (m: Uint8Array, h: number) =>
    Array.from({ length: 5 }, (_, i) => hex(m.subarray(h + i * 80, h + (i + 1) * 80)));
  const set = new Set(chunksOf(a, ha.length));
  for (const c of chunksOf(b, hb.length)) assert.ok(!set.has(c));
  // Without an injected source, every message draws a fresh salt.
  const c = await encrypt(pt, { keys, chunkSize: 64 });
  const d = await encrypt(pt, { keys, chunkSize: 64 });
  assert.notEqual(hex(parseHeader(c).salt), hex(parseHeader(d).salt));
});

Deno.test("random-access reads at many offsets and lengths equal the plaintext's slices", async () => {
  const key = await LocalKey.generate();
  const rnd = prng(42);
  for (const cs of [64, 100, 256]) {
    for (const len of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500, 7 * cs]) {
      const pt = pattern(len, cs * 7 + len);
      const sealed = await encrypt(pt, { keys: key, chunkSize: cs });
      for (const source of [bytesSource(sealed), blobSource(new Blob([sealed as Uint8Array<ArrayBuffer>]))]) {
        const reader = await openRandomAccess(source, { keys: key });
        try {
          assert.equal(reader.size, len);
          assert.equal(reader.header.chunkSize, cs);
          const probes: [number, number][] = [[0, 0], [0, len], [0, len + 100], [len, 10], [len + 5, 10]];
          for (const edge of [cs - 1, cs, cs + 1, 2 * cs - 1, 2 * cs, len - 1]) {
            if (edge >= 0) probes.push([edge, 1], [edge, 2], [edge, cs + 2]);
          }
          for (let i = 0; i < 30; i++) probes.push([rnd.int(0, len + 3), rnd.int(0, 3 * cs)]);
          for (const [o, n] of probes) {
            const got = await reader.read(o, n);
            assert.equal(hex(got), hex(pt.slice(o, o + n)), `cs ${cs}, length ${len}: read(${o}, ${n})`);
          }
          await assert.rejects(reader.read(-1, 4), RangeError);
          await assert.rejects(reader.read(0, 1.5), RangeError);
        } finally {
          await reader.close();
        }
      }
    }
  }
});

Deno.test("random access reads only the chunks that cover the range", async () => {
  const key = await LocalKey.generate();
  const cs = 64;
  const pt = pattern(20 * cs, 3);
  const sealed = await encrypt(pt, { keys: key, chunkSize: cs });
  const reads: [number, number][] = [];
  const inner = bytesSource(sealed);
  const reader = await openRandomAccess({ size: inner.size, read: (o, n) => (reads.push([o, n]), inner.read(o, n)) }, {
    keys: key,
  });
  try {
    const headerLength = reader.header.length;
    reads.length = 0;
    assert.equal(hex(await reader.read(5 * cs + 10, cs)), hex(pt.slice(5 * cs + 10, 6 * cs + 10)));
    // Chunks 5 and 6 cover the range: one read of exactly those two chunks (a run is fetched at once).
    assert.deepEqual(reads, [[headerLength + 5 * (cs + TAG), 2 * (cs + TAG)]]);
  } finally {
    await reader.close();
  }
});

Deno.test("property: 200 seeded cases of random length, chunk size, context, pieces and concurrency round-trip on every path", async () => {
  const rnd = prng(0x5eed);
  const local = await LocalKey.generate();
  const alphabet = ["a", "b", "Z", "é", "☃", "𝄞", "-", "_", " ", "0"];
  const word = (max: number) =>
    Array.from({ length: rnd.int(0, max) }, () => alphabet[rnd.int(0, alphabet.length - 1)]).join("");
  for (let i = 0; i < 200; i++) {
    const cs = rnd.next() < 0.5 ? rnd.int(64, 80) : rnd.int(64, 700);
    const len = rnd.next() < 0.2
      ? rnd.int(0, 2) * cs + rnd.int(-1, 1) * (rnd.next() < 0.5 ? 1 : 0)
      : rnd.int(0, 6 * cs);
    const n = Math.max(0, len);
    const pt = rnd.bytes(n);
    const context: Record<string, string> = {};
    for (let j = rnd.int(0, 4); j > 0; j--) context[word(6) || "k"] = word(10);
    const piece = rnd.int(1, 3 * cs);
    const concurrency = rnd.int(1, 5);
    const useRaw = rnd.next() < 0.5;
    const dk = rnd.bytes(32);
    const keys = useRaw ? await RawDataKey.create(dk) : local;
    const salt = rnd.bytes(32);
    const what = `case ${i}: cs ${cs}, length ${n}, pieces ${piece}, concurrency ${concurrency}, ${
      useRaw ? "raw" : "local"
    }`;
    const opts: EncryptOptions = { keys, chunkSize: cs, context, concurrency, ...withSalt(salt) };
    const sealed = await encryptStreamed(pt, opts, piece);
    const h = parseHeader(sealed);
    assert.deepEqual({ ...h.context }, context, what);
    assert.equal(sealed.length, expectedLength(h.length, n, cs), `${what}: length`);
    if (useRaw) {
      assert.equal(hex(await encrypt(pt, { ...opts, ...withSalt(salt) })), hex(sealed), `${what}: encrypt`);
    }
    const dopts: DecryptOptions = { keys, context, concurrency: rnd.int(1, 5) };
    assert.equal(hex(await decrypt(sealed, dopts)), hex(pt), `${what}: decrypt`);
    assert.equal(hex(await decryptStreamed(sealed, dopts, rnd.int(1, 2 * cs))), hex(pt), `${what}: decryptStream`);
    const reader = await openRandomAccess(bytesSource(sealed), dopts);
    try {
      assert.equal(reader.size, n);
      for (let k = 0; k < 3; k++) {
        const o = rnd.int(0, n);
        const m = rnd.int(0, 2 * cs);
        assert.equal(hex(await reader.read(o, m)), hex(pt.slice(o, o + m)), `${what}: read(${o}, ${m})`);
      }
    } finally {
      await reader.close();
    }
  }
});

Deno.test("empty pieces and views at odd offsets into larger buffers change nothing", async () => {
  const key = await LocalKey.generate();
  const cs = 64;
  const pt = pattern(5 * cs + 7, 21);
  /** `bytes` in pieces of `size`, each a view at an odd offset into a larger buffer, with an empty piece between. */
  const oddPieces = (bytes: Uint8Array, size: number) =>
    ReadableStream.from((function* () {
      yield new Uint8Array(0);
      for (let o = 0; o < bytes.length; o += size) {
        const piece = bytes.subarray(o, o + size);
        const host = new Uint8Array(piece.length + 10).fill(0xee);
        host.set(piece, 3);
        yield host.subarray(3, 3 + piece.length);
        yield new Uint8Array(new ArrayBuffer(8), 5, 0);
      }
    })());
  const sealedParts = await drain(oddPieces(pt, 50).pipeThrough(encryptStream({ keys: key, chunkSize: cs })));
  assert.equal(sealedParts.error, undefined);
  const sealed = concatBytes(sealedParts.parts);
  const opened = await drain(oddPieces(sealed, 37).pipeThrough(decryptStream({ keys: key })));
  assert.equal(opened.error, undefined);
  assert.equal(hex(concatBytes(opened.parts)), hex(pt));
  // The buffered paths with views too.
  const host = new Uint8Array(sealed.length + 21).fill(0x11);
  host.set(sealed, 13);
  assert.equal(hex(await decrypt(host.subarray(13, 13 + sealed.length), { keys: key })), hex(pt));
  const ptHost = new Uint8Array(pt.length + 9);
  ptHost.set(pt, 9);
  const sealed2 = await encrypt(ptHost.subarray(9), { keys: key, chunkSize: cs });
  assert.equal(hex(await decrypt(sealed2, { keys: key })), hex(pt));
});

Deno.test("results are independent copies: later calls do not change earlier plaintexts or ciphertexts", async () => {
  const key = await LocalKey.generate();
  const a = pattern(3000, 31);
  const b = pattern(3000, 32);
  const sa = await encrypt(a, { keys: key, chunkSize: 64 });
  const saCopy = sa.slice();
  const sb = await encrypt(b, { keys: key, chunkSize: 64 });
  assert.equal(hex(sa), hex(saCopy));
  const pa = await decrypt(sa, { keys: key });
  const pb = await decrypt(sb, { keys: key });
  assert.equal(hex(pa), hex(a));
  assert.equal(hex(pb), hex(b));
  // Streamed chunks kept by the consumer stay intact after more chunks arrive.
  const kept = await drain(streamOf(sa, 100).pipeThrough(decryptStream({ keys: key })));
  await decrypt(sb, { keys: key });
  assert.equal(hex(concatBytes(kept.parts)), hex(a));
});
