/**
 * The format layer on its own (src/format/): the context's canonical
 * encoding (byte order, not UTF-16 order), chunk nonces, payload layout, the
 * header's incremental parse (it asks for exactly what it needs), every limit
 * at and one past its edge, and the largest header the limits allow.
 */
import assert from "node:assert/strict";
import { canonicalPairs, encodeContext, readContext, sameContext } from "../src/format/context.ts";
import { contextJson } from "../src/kms/aliyun_context.ts";
import { chunkNonce, payloadLayout } from "../src/format/chunk.ts";
import {
  encodeCore,
  encodeHeader,
  encodeKeyList,
  hasMagic,
  parseHeader,
  tryParseHeader,
} from "../src/format/header.ts";
import { ByteReader } from "../src/format/bytes.ts";
import { MAGIC, MAX_HEADER_BYTES } from "../src/format/limits.ts";
import { EnvelopeError } from "../src/errors.ts";
import { decrypt } from "../src/envelope/decrypt.ts";
import { encrypt } from "../src/envelope/encrypt.ts";
import type { KeyProvider, WrappedKey } from "../src/keys/provider.ts";
import { decryptRandomAccess, decryptStreamed, hex, prng } from "./support/envelope_harness.ts";

const te = new TextEncoder();

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    return `${(e as Error).name}`;
  }
  return "no error";
}

Deno.test("the context is sorted by UTF-8 bytes, not UTF-16 code units, and has one encoding", () => {
  // U+FFFF is EF BF BF; U+1D11E is F0 9D 84 9E but its UTF-16 (D834 DD1E) sorts before FFFF.
  const ctx = { "𝄞": "clef", "\uffff": "max", "a": "1", "B": "2", "é": "3" };
  assert.deepEqual(canonicalPairs(ctx).map(([k]) => hex(k)), ["42", "61", "c3a9", "efbfbf", "f09d849e"]);
  const enc = encodeContext(ctx);
  // Any insertion order gives the same bytes.
  const shuffled = Object.fromEntries(Object.entries(ctx).reverse());
  assert.equal(hex(encodeContext(shuffled)), hex(enc));
  assert.equal(hex(enc.subarray(0, 2)), "0005");
  assert.equal(hex(enc.subarray(2, 7)), "0001" + "42" + "0001", "first pair: key B, then the value's length");
  const back = readContext(new ByteReader(enc));
  assert.deepEqual(back, { ...ctx });
  assert.ok(sameContext(back, ctx));
  assert.equal(contextJson(ctx), '{"B":"2","a":"1","é":"3","\uffff":"max","𝄞":"clef"}');
  assert.equal(hex(encodeContext({})), "0000");
});

Deno.test("sameContext: exactly the same pairs", () => {
  assert.ok(sameContext({}, {}));
  assert.ok(sameContext({ a: "1", b: "2" }, { b: "2", a: "1" }));
  assert.ok(!sameContext({ a: "1" }, { a: "1", b: "" }));
  assert.ok(!sameContext({ a: "" }, {}));
  assert.ok(!sameContext({ a: "1" }, { a: "2" }));
  assert.ok(!sameContext({ a: "1" }, { b: "1" }));
  assert.ok(!sameContext(JSON.parse('{"__proto__":"x"}'), {}));
  assert.ok(!sameContext({}, JSON.parse('{"__proto__":"x"}')));
});

Deno.test("chunk nonces are u88 big-endian counters with the last flag in the final byte", () => {
  assert.equal(hex(chunkNonce(0, false)), "000000000000000000000000");
  assert.equal(hex(chunkNonce(0, true)), "000000000000000000000001");
  assert.equal(hex(chunkNonce(1, false)), "000000000000000000000100");
  assert.equal(hex(chunkNonce(0x0102, true)), "000000000000000000010201");
  assert.equal(hex(chunkNonce(2 ** 32, false)), "000000000000010000000000");
  assert.equal(hex(chunkNonce(Number.MAX_SAFE_INTEGER, true)), "000000001fffffffffffff01");
  assert.throws(() => chunkNonce(-1, false), RangeError);
  assert.throws(() => chunkNonce(2 ** 53, false), RangeError);
  assert.throws(() => chunkNonce(1.5, false), RangeError);
});

Deno.test("payloadLayout: chunk count, final chunk and plaintext length from the payload length", () => {
  const cs = 64;
  const full = cs + 16;
  const cases: [number, number, number, number][] = [
    // payload length, chunks, final chunk plaintext, plaintext length
    [16, 1, 0, 0],
    [17, 1, 1, 1],
    [full, 1, 64, 64],
    [full + 17, 2, 1, 65],
    [2 * full, 2, 64, 128],
    [3 * full, 3, 64, 192],
    [2 * full + 16, 3, 0, 128], // an empty final chunk after full ones (the decoders refuse it)
  ];
  for (const [len, chunks, last, pt] of cases) {
    assert.deepEqual(
      payloadLayout(len, cs),
      { chunks, lastChunkPlaintext: last, plaintextLength: pt },
      `payload ${len}`,
    );
  }
  for (const len of [0, 1, 15, full + 1, full + 15, 2 * full + 5]) {
    assert.equal(code(() => payloadLayout(len, cs)), "TRUNCATED", `payload ${len}`);
  }
});

/** A header with the given context and keys, with a fixed salt, commitment and tag. */
function header(context: Record<string, string>, keys: WrappedKey[], chunkSize = 64): Uint8Array {
  const core = encodeCore({
    chunkSize,
    salt: new Uint8Array(32).fill(1),
    context,
    commitment: new Uint8Array(32).fill(2),
  });
  return encodeHeader(core, new Uint8Array(32).fill(3), keys);
}
const entry = (provider = "local", keyId = "0123456789abcdef", wrapped = new Uint8Array(60)): WrappedKey => ({
  provider,
  keyId,
  wrapped,
});

Deno.test("tryParseHeader asks for exactly what it needs next, and parses once it has it", () => {
  const h = header({ a: "1", bb: "22" }, [entry(), entry("raw", "x", new Uint8Array(0))]);
  const parsed = parseHeader(h);
  assert.equal(parsed.length, h.length);
  assert.equal(parsed.keys.length, 2);
  assert.deepEqual({ ...parsed.context }, { a: "1", bb: "22" });
  assert.equal(hex(parsed.core), hex(h.subarray(0, parsed.keyListOffset - 32)));
  // Feeding the prefix it asks for, step by step, reaches the whole header without overshooting.
  let have = 0;
  let steps = 0;
  for (;;) {
    const r = tryParseHeader(h.subarray(0, have));
    if (typeof r !== "number") {
      assert.equal(r.length, h.length);
      break;
    }
    assert.ok(r > have && r <= h.length, `asked for ${r} with ${have}`);
    have = r;
    steps++;
  }
  assert.ok(steps > 5);
  // Every prefix is either "need more" or (for the whole) the header; never an error.
  for (let n = 0; n < h.length; n++) assert.equal(typeof tryParseHeader(h.subarray(0, n)), "number", `prefix ${n}`);
  for (let n = 0; n < h.length; n++) assert.equal(code(() => parseHeader(h.subarray(0, n))), "TRUNCATED");
  // Extra bytes after the header are the payload's.
  assert.equal((tryParseHeader(new Uint8Array([...h, 9, 9, 9])) as { length: number }).length, h.length);
});

Deno.test("the magic: a wrong first byte is FORMAT_UNKNOWN as soon as it is read; hasMagic wants all 8 bytes", () => {
  assert.equal(code(() => tryParseHeader(new Uint8Array([0x89, 0x45, 0x4f]))), "FORMAT_UNKNOWN");
  assert.equal(code(() => tryParseHeader(te.encode("P"))), "FORMAT_UNKNOWN");
  assert.equal(tryParseHeader(MAGIC.subarray(0, 3)), 8);
  assert.ok(hasMagic(MAGIC));
  assert.ok(!hasMagic(MAGIC.subarray(0, 7)));
  assert.ok(!hasMagic(te.encode("\x89ENV\r\n\x1a\r")));
});

/** A header's bytes with the context encoding replaced by `ctx` (header tag left as is). */
function withContextBytes(ctx: Uint8Array): Uint8Array {
  const h = header({}, [entry()]);
  return new Uint8Array([...h.subarray(0, 46), ...ctx, ...h.subarray(48)]);
}
const u16 = (n: number) => [n >>> 8, n & 0xff];
const pair = (k: Uint8Array | string, v: Uint8Array | string) => {
  const kb = typeof k === "string" ? te.encode(k) : k;
  const vb = typeof v === "string" ? te.encode(v) : v;
  return [...u16(kb.length), ...kb, ...u16(vb.length), ...vb];
};

Deno.test("context limits at and one past each edge, read before allocating", () => {
  const ok = (bytes: number[]) =>
    assert.equal(typeof tryParseHeader(withContextBytes(new Uint8Array(bytes))), "object");
  const fails = (bytes: number[], c: string, what: string) =>
    assert.equal(code(() => tryParseHeader(withContextBytes(new Uint8Array(bytes)))), c, what);
  ok([...u16(1), ...pair("k".repeat(256), "v".repeat(4096))]);
  fails([...u16(1), ...pair("k".repeat(257), "v")], "LIMIT_EXCEEDED", "key 257");
  fails([...u16(1), ...pair("k", "v".repeat(4097))], "LIMIT_EXCEEDED", "value 4097");
  fails([...u16(1), ...pair("", "v")], "HEADER_INVALID", "empty key");
  ok([...u16(64), ...Array.from({ length: 64 }, (_, i) => pair(`k${String(i).padStart(2, "0")}`, "")).flat()]);
  fails([...u16(65)], "LIMIT_EXCEEDED", "65 pairs (the count alone is enough)");
  fails([...u16(0xffff)], "LIMIT_EXCEEDED", "65535 pairs");
  // A length past the limit fails even though its bytes are not there: nothing was allocated for it.
  fails([...u16(1), ...u16(0xffff)], "LIMIT_EXCEEDED", "a 65535-byte key with no bytes behind it");
  // Exactly 16,384 encoded bytes, then one more.
  const four = (
    last: number,
  ) => [...u16(4), ...[0, 1, 2].flatMap((i) => pair(`k${i}`, "v".repeat(4096))), ...pair("k3", "v".repeat(last))];
  const at = 16384 - (2 + 3 * (2 + 2 + 2 + 4096) + 2 + 2 + 2);
  assert.equal(four(at).length, 16384);
  ok(four(at));
  fails(four(at + 1), "LIMIT_EXCEEDED", "16,385 bytes");
  fails([...u16(2), ...pair("b", ""), ...pair("a", "")], "HEADER_INVALID", "unsorted");
  fails([...u16(2), ...pair("a", ""), ...pair("a", "")], "HEADER_INVALID", "duplicate");
  fails([...u16(2), ...pair("ab", ""), ...pair("a", "")], "HEADER_INVALID", "a key before its own prefix");
  ok([...u16(2), ...pair("a", ""), ...pair("ab", "")]);
  fails([...u16(1), ...pair(new Uint8Array([0xff]), "")], "HEADER_INVALID", "key not UTF-8");
  fails([...u16(1), ...pair("k", new Uint8Array([0xed, 0xa0, 0x80]))], "HEADER_INVALID", "an encoded surrogate");
  fails([...u16(1), ...pair("k", new Uint8Array([0xc0, 0x80]))], "HEADER_INVALID", "an overlong NUL");
});

Deno.test("key-list limits at and one past each edge", () => {
  const parses = (keys: WrappedKey[]) => parseHeader(header({}, keys)).keys.length;
  assert.equal(parses(Array.from({ length: 32 }, () => entry())), 32);
  assert.equal(parses([entry("a".repeat(64), "k".repeat(2048), new Uint8Array(8192))]), 1);
  assert.equal(parses([entry("0-9-z", "", new Uint8Array(0))]), 1);
  // The encoder refuses what the decoder would.
  assert.equal(code(() => encodeKeyList(Array.from({ length: 33 }, () => entry()))), "LIMIT_EXCEEDED");
  assert.equal(code(() => encodeKeyList([])), "INVALID_ARGUMENT");
  assert.equal(code(() => encodeKeyList([entry("a".repeat(65))])), "RangeError");
  assert.equal(code(() => encodeKeyList([entry("Local")])), "RangeError");
  assert.equal(code(() => encodeKeyList([entry("local", "k".repeat(2049))])), "LIMIT_EXCEEDED");
  assert.equal(code(() => encodeKeyList([entry("local", "k", new Uint8Array(8193))])), "LIMIT_EXCEEDED");
  assert.equal(
    code(() => encodeKeyList([entry("local", "é".repeat(1025))])),
    "LIMIT_EXCEEDED",
    "key ids count UTF-8 bytes",
  );
  // And the decoder, byte by byte.
  const base = header({}, [entry("p", "id", new Uint8Array([7]))]);
  const at = parseHeader(base).keyListOffset;
  const withList = (list: number[]) => new Uint8Array([...base.subarray(0, at), ...list]);
  const one = (
    p: number[],
    id: number[],
    w: number[],
  ) => [p.length, ...p, ...u16(id.length), ...id, ...u16(w.length), ...w];
  assert.equal(code(() => parseHeader(withList([0]))), "HEADER_INVALID");
  assert.equal(code(() => parseHeader(withList([33]))), "LIMIT_EXCEEDED");
  assert.equal(code(() => parseHeader(withList([255]))), "LIMIT_EXCEEDED");
  assert.equal(code(() => parseHeader(withList([1, 0, ...u16(0), ...u16(0)]))), "HEADER_INVALID");
  assert.equal(
    code(() => parseHeader(withList([1, 65, ...Array(65).fill(0x61), ...u16(0), ...u16(0)]))),
    "HEADER_INVALID",
  );
  assert.equal(code(() => parseHeader(withList([1, ...one([0x61, 0x5f], [], [])]))), "HEADER_INVALID", "underscore");
  assert.equal(code(() => parseHeader(withList([1, 1, 0x61, ...u16(2049)]))), "LIMIT_EXCEEDED");
  assert.equal(
    code(() => parseHeader(withList([1, ...one([0x61], [0xff], [])]))),
    "HEADER_INVALID",
    "key id not UTF-8",
  );
  assert.equal(code(() => parseHeader(withList([1, 1, 0x61, ...u16(0), ...u16(8193)]))), "LIMIT_EXCEEDED");
  assert.equal(code(() => parseHeader(withList([1, ...one([0x61], [], [1, 2])]))), "no error");
});

Deno.test("the header's chunk size, version and suite are checked as they are read", () => {
  const h = header({}, [entry()]);
  const set = (at: number, bytes: number[]) => {
    const c = h.slice();
    c.set(bytes, at);
    return c;
  };
  assert.equal(code(() => parseHeader(set(8, [2]))), "UNSUPPORTED_VERSION");
  assert.equal(code(() => parseHeader(set(8, [0]))), "UNSUPPORTED_VERSION");
  assert.equal(code(() => parseHeader(set(9, [2]))), "no error", "suite 2 is the signed suite");
  assert.equal(code(() => parseHeader(set(9, [3]))), "UNSUPPORTED_VERSION");
  assert.equal(
    code(() => tryParseHeader(set(8, [2]).subarray(0, 10))),
    "UNSUPPORTED_VERSION",
    "before the rest arrives",
  );
  assert.equal(code(() => parseHeader(set(10, [0, 0, 0, 63]))), "LIMIT_EXCEEDED");
  assert.equal(code(() => parseHeader(set(10, [0, 0, 0, 64]))), "no error");
  assert.equal(code(() => parseHeader(set(10, [1, 0, 0, 0]))), "no error", "16 MiB");
  assert.equal(code(() => parseHeader(set(10, [1, 0, 0, 1]))), "LIMIT_EXCEEDED");
  assert.equal(code(() => parseHeader(set(10, [0xff, 0xff, 0xff, 0xff]))), "LIMIT_EXCEEDED");
  assert.equal(
    code(() => encodeCore({ chunkSize: 64, salt: new Uint8Array(31), context: {}, commitment: new Uint8Array(32) })),
    "RangeError",
  );
});

/** A provider with the longest name and key id the limits allow, whose wrapped key is 8192 bytes. */
function bigProvider(i: number): KeyProvider {
  const keyId = String(i).padStart(2, "0") + "k".repeat(2046);
  const provider = "p".repeat(64);
  return {
    provider,
    keyId,
    wrap: (dk) => {
      const wrapped = new Uint8Array(8192);
      wrapped.set(dk);
      return Promise.resolve({ provider, keyId, wrapped });
    },
    unwrap: (w) => Promise.resolve(w.keyId === keyId ? w.wrapped.slice(0, 32) : null),
  };
}

Deno.test("the largest header the limits allow is MAX_HEADER_BYTES long, and every decoder reads a message that has one", async () => {
  assert.equal(MAX_HEADER_BYTES, 8 + 1 + 1 + 4 + 32 + 16384 + 32 + 32 + 1 + 32 * (1 + 64 + 2 + 2048 + 2 + 8192));
  assert.equal(MAX_HEADER_BYTES, 346_383);
  const context: Record<string, string> = {};
  for (let i = 0; i < 3; i++) context[`k${i}`] = "v".repeat(4096);
  context.k3 = "v".repeat(16384 - (2 + 3 * (2 + 2 + 2 + 4096) + 2 + 2 + 2));
  const providers = Array.from({ length: 32 }, (_, i) => bigProvider(i));
  const pt = prng(12).bytes(1000);
  const sealed = await encrypt(pt, { keys: providers, context, chunkSize: 64 });
  const h = parseHeader(sealed);
  assert.equal(h.length, MAX_HEADER_BYTES);
  const last = providers[31];
  assert.equal(hex(await decrypt(sealed, { keys: last })), hex(pt));
  assert.equal(hex(await decryptStreamed(sealed, { keys: last }, 4096)), hex(pt));
  assert.equal(hex(await decryptStreamed(sealed, { keys: last }, 7)), hex(pt));
  assert.equal(hex(await decryptRandomAccess(sealed, { keys: last })), hex(pt));
});

Deno.test("contextJson keeps the canonical byte order for integer-like keys too (§3.2)", () => {
  // JSON.stringify of an object puts integer-like keys first, in numeric order; the spec wants UTF-8 byte order.
  const text = contextJson({ b: "1", "10": "x", "9": "y", "01": "z" });
  assert.equal(text, '{"01":"z","10":"x","9":"y","b":"1"}');
  assert.deepEqual(JSON.parse(text), { b: "1", "10": "x", "9": "y", "01": "z" });
});

Deno.test("a header read from a file that breaks a limit or names an older version hints that the file is damaged", () => {
  const core = encodeCore({
    chunkSize: 64,
    salt: new Uint8Array(32),
    context: { app: "x" },
    commitment: new Uint8Array(32),
    suite: 1,
  });
  const header = encodeHeader(core, new Uint8Array(32), [{
    provider: "local",
    keyId: "k",
    wrapped: new Uint8Array(4),
  }]);
  const hintOf = (mutate: (b: Uint8Array) => void) => {
    const b = header.slice();
    mutate(b);
    try {
      parseHeader(b);
    } catch (e) {
      assert.ok(e instanceof EnvelopeError);
      return `${e.code}: ${e.hint}`;
    }
    assert.fail("parsed");
  };
  const damaged = /the file is damaged or was not written by envelope/;
  assert.match(hintOf((b) => b[46] = 1), /^LIMIT_EXCEEDED: /); // 257 context pairs
  assert.match(hintOf((b) => b[46] = 1), damaged);
  assert.match(hintOf((b) => b[8] = 0), damaged); // version 0 never existed
  assert.match(hintOf((b) => b[9] = 0), damaged); // nor suite 0
  assert.match(hintOf((b) => b[8] = 2), /upgrade envelope/); // a later version may
  assert.match(hintOf((b) => b[9] = 3), /upgrade envelope/);
});

Deno.test("encodeHeader with room: the same header followed by that many zero bytes, which parsing ignores", () => {
  const core = encodeCore({
    chunkSize: 64,
    salt: new Uint8Array(32).fill(1),
    context: { a: "b" },
    commitment: new Uint8Array(32).fill(2),
  });
  const tag = new Uint8Array(32).fill(3);
  const keys = [entry(), entry("aws-kms", "arn:aws:kms:eu-west-1:111122223333:key/x", new Uint8Array(200).fill(9))];
  const plain = encodeHeader(core, tag, keys);
  for (const room of [0, 1, 16, 4112]) {
    const withRoom = encodeHeader(core, tag, keys, room);
    assert.equal(withRoom.length, plain.length + room);
    assert.deepEqual(withRoom.subarray(0, plain.length), plain, `room ${room}`);
    assert.ok(withRoom.subarray(plain.length).every((b) => b === 0), `room ${room} is zero`);
    const h = parseHeader(withRoom);
    assert.equal(h.length, plain.length);
    assert.deepEqual(h.keys, keys);
  }
});
