/**
 * Inflating small entries whole (src/archive/zip_inflate_whole.ts `WholeInflater`): the same output, bounds and
 * errors as `inflateRawSync`, through one zlib handle and one output buffer reused from call to call, and the same
 * again through the fallback for a stream without that handle.
 */
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { type InflateEngine, WholeInflater } from "../src/archive/zip_inflate_whole.ts";
import { noise, utf8 } from "./support/archive_helpers.ts";

const TEXT = utf8.encode("const value = read(stream, options);\n".repeat(500));
const RANDOM = noise(200_000, 9);

/** The bytes of `out` as a plain Uint8Array (the fallback returns a Buffer), for deepEqual. */
const plain = (out: Uint8Array | undefined) => out && new Uint8Array(out.buffer, out.byteOffset, out.length);

/** A stream without the handle: every call falls back to `inflateRawSync`. */
const withoutHandle = (): InflateEngine => ({ close() {} });

for (const [kind, open] of [["zlib handle", undefined], ["fallback", withoutHandle]] as const) {
  Deno.test(`whole inflater (${kind}): the output of inflateRawSync, for text, random bytes and nothing`, () => {
    const inflater = new WholeInflater(open);
    try {
      for (const data of [TEXT, RANDOM, new Uint8Array(0), TEXT.subarray(0, 1)]) {
        const packed = deflateRawSync(data);
        assert.deepEqual(plain(inflater.inflate(packed, data.length)), data);
        assert.deepEqual(plain(inflater.inflate(packed, data.length + 10)), data);
      }
      // Stored blocks (level 0), and input in a view that starts inside its buffer.
      const stored = deflateRawSync(TEXT, { level: 0 });
      const shifted = new Uint8Array(stored.length + 7);
      shifted.set(stored, 7);
      assert.deepEqual(plain(inflater.inflate(shifted.subarray(7), TEXT.length)), TEXT);
    } finally {
      inflater.close();
    }
  });

  Deno.test(`whole inflater (${kind}): more than max bytes is undefined, broken data throws, and the next entry inflates`, () => {
    const inflater = new WholeInflater(open);
    try {
      const packed = deflateRawSync(TEXT);
      assert.equal(inflater.inflate(packed, TEXT.length - 1), undefined);
      assert.equal(inflater.inflate(packed, 0), undefined);
      assert.throws(() => inflater.inflate(packed.subarray(0, packed.length - 5), TEXT.length), /unexpected end/);
      assert.deepEqual(plain(inflater.inflate(packed, TEXT.length)), TEXT);
      assert.throws(() => inflater.inflate(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 100), /invalid block type/);
      assert.deepEqual(plain(inflater.inflate(packed, TEXT.length)), TEXT);
      // Bytes after the final block are ignored, as inflateRawSync ignores them.
      assert.deepEqual(plain(inflater.inflate(new Uint8Array([...packed, 1, 2, 3]), TEXT.length)), TEXT);
    } finally {
      inflater.close();
    }
  });
}

Deno.test("whole inflater: one output buffer for every entry, not one per call", () => {
  const inflater = new WholeInflater();
  try {
    const a = inflater.inflate(deflateRawSync(TEXT), TEXT.length)!;
    const b = inflater.inflate(deflateRawSync(RANDOM), RANDOM.length)!;
    const c = inflater.inflate(deflateRawSync(TEXT), TEXT.length)!;
    assert.deepEqual(c, TEXT);
    // The buffer grows to the largest entry's size (plus one byte), then stays.
    assert.equal(c.buffer, b.buffer);
    assert.equal(b.buffer.byteLength, RANDOM.length + 1);
    assert.notEqual(a.buffer, b.buffer);
  } finally {
    inflater.close();
  }
});

Deno.test("whole inflater: one stream for every entry, closed by close() and opened again when needed", () => {
  let opened = 0;
  let closed = 0;
  const inflater = new WholeInflater(() => {
    opened++;
    const engine = new WholeInflater().open();
    return Object.assign(Object.create(engine), { close: () => (closed++, engine.close()) });
  });
  for (let i = 0; i < 100; i++) assert.deepEqual(plain(inflater.inflate(deflateRawSync(TEXT), TEXT.length)), TEXT);
  assert.deepEqual([opened, closed], [1, 0]);
  inflater.close();
  inflater.close();
  assert.deepEqual([opened, closed], [1, 1]);
  assert.deepEqual(plain(inflater.inflate(deflateRawSync(TEXT), TEXT.length)), TEXT);
  inflater.close();
  assert.deepEqual([opened, closed], [2, 2]);
});
