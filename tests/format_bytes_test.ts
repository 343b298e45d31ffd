/**
 * format/bytes.ts: the writer's big-endian integers and its growth past its
 * first buffer, checked against a plain reference encoding and read back by
 * the reader.
 */
import assert from "node:assert/strict";
import { ByteReader, ByteWriter, concat, utf8DecodeStrict, utf8Encode } from "../src/format/bytes.ts";

/** The same operations written the slow, obvious way. */
function reference(ops: [string, number | Uint8Array][]): Uint8Array {
  return concat(ops.map(([op, v]) => {
    if (op === "bytes") return v as Uint8Array;
    const n = v as number;
    if (op === "u8") return new Uint8Array([n & 0xff]);
    if (op === "u16") return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
    return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  }));
}

Deno.test("ByteWriter writes big-endian integers and bytes in order, across its buffer's growth", () => {
  for (const total of [0, 1, 255, 256, 257, 1000, 70_000]) {
    const ops: [string, number | Uint8Array][] = [];
    const w = new ByteWriter(total % 3 ? undefined : 1);
    let n = 0;
    let i = 0;
    while (n < total) {
      const kind = i++ % 4;
      if (kind === 0) {
        const v = (i * 37) & 0xff;
        ops.push(["u8", v]);
        w.u8(v);
        n += 1;
      } else if (kind === 1) {
        const v = (i * 4099) & 0xffff;
        ops.push(["u16", v]);
        w.u16(v);
        n += 2;
      } else if (kind === 2) {
        const v = (i * 2654435761) >>> 0;
        ops.push(["u32", v]);
        w.u32(v);
        n += 4;
      } else {
        const b = crypto.getRandomValues(new Uint8Array(i % 300));
        ops.push(["bytes", b]);
        w.bytes(b);
        n += b.length;
      }
    }
    const out = w.finish();
    assert.deepEqual(out, reference(ops), `total ${total}`);
    assert.equal(out.byteLength, out.buffer.byteLength, "finish returns an array of exactly the written length");
    const r = new ByteReader(out);
    for (const [op, v] of ops) {
      if (op === "u8") assert.equal(r.u8(), v);
      else if (op === "u16") assert.equal(r.u16(), v);
      else if (op === "u32") assert.equal(r.u32(), v);
      else assert.deepEqual(r.bytes((v as Uint8Array).length), v);
    }
    assert.equal(r.offset, out.length);
  }
});

Deno.test("ByteWriter.finish: writing on does not change what it returned, with or without an exact size", () => {
  for (const capacity of [undefined, 1, 2, 3, 1000]) {
    const w = new ByteWriter(capacity).u16(0x0102);
    const first = w.finish();
    w.u8(3).bytes(new Uint8Array([4, 5]));
    assert.deepEqual(first, new Uint8Array([1, 2]), `capacity ${capacity}`);
    assert.deepEqual(w.finish(), new Uint8Array([1, 2, 3, 4, 5]), `capacity ${capacity}`);
  }
});

Deno.test("ByteWriter.finish(room) appends that many zero bytes, in the buffer itself when it fits exactly", () => {
  for (const capacity of [undefined, 2, 5, 6, 100]) {
    const w = new ByteWriter(capacity).u16(0x0102);
    const out = w.finish(3);
    assert.deepEqual(out, new Uint8Array([1, 2, 0, 0, 0]), `capacity ${capacity}`);
    out[2] = 7; // the caller fills its room
    w.u8(9);
    assert.deepEqual(out, new Uint8Array([1, 2, 7, 0, 0]), `later writes leave it alone, capacity ${capacity}`);
  }
});

Deno.test("utf8DecodeStrict gives what a fatal TextDecoder gives, and null where it throws", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const te = new TextEncoder();
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    te.encode("local"),
    te.encode("0123456789abcdef"),
    new Uint8Array([0, 1, 0x7f]),
    te.encode("a".repeat(63)),
    te.encode("a".repeat(64)),
    te.encode("a".repeat(65)),
    te.encode("é"),
    te.encode("a".repeat(63) + "é"),
    te.encode("\ufeffbom"),
    new Uint8Array([0x80]),
    new Uint8Array([0x61, 0xc3]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    new Uint8Array([0xff, 0x61]),
  ];
  for (let i = 0; i < 200; i++) {
    cases.push(crypto.getRandomValues(new Uint8Array(i % 70)).map((b) => i % 2 ? b & 0x7f : b));
  }
  for (const b of cases) {
    let want: string | null;
    try {
      want = fatal.decode(b);
    } catch {
      want = null;
    }
    assert.equal(utf8DecodeStrict(b), want, `bytes ${[...b].join(",")}`);
  }
});

Deno.test("utf8Encode gives TextEncoder's bytes, and refuses a lone surrogate, on both sides of its ASCII shortcut", () => {
  const te = new TextEncoder();
  const texts = [
    "",
    "local",
    "0123456789abcdef",
    "a".repeat(64),
    "a".repeat(65),
    "\0\x7f",
    "é",
    "a".repeat(63) + "é",
    "😀",
  ];
  for (let i = 0; i < 200; i++) {
    texts.push(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(i % 70)).map((b) => (i % 3 ? b & 0x7f : b))),
    );
  }
  for (const t of texts) assert.deepEqual(utf8Encode(t, "a test string"), te.encode(t), JSON.stringify(t));
  for (const bad of ["\ud800", "a\udc00", "x".repeat(70) + "\ud800"]) {
    assert.throws(
      () => utf8Encode(bad, "a test string"),
      (e: unknown) => (e as { code?: string }).code === "INVALID_ARGUMENT",
    );
  }
});
