/**
 * SHA-256, HMAC-SHA256, HKDF-SHA256 (RFC 5869) and constant-time comparison
 * over the WASM core, so they work where `crypto.subtle` is missing (for
 * example on insecure browser pages).
 *
 * The functions are synchronous. They need the core loaded: call
 * `await ready()` once first. In Deno, Node and workers they also load the
 * core synchronously on first use; a browser's main thread may refuse that,
 * and then they throw `WASM_UNAVAILABLE` until `ready()` has resolved.
 *
 * Inputs up to about 1 MiB in total go through a fixed scratch area; larger
 * ones are copied into the core whole (its ABI hashes in one call), wiped
 * and freed afterwards; the core's memory does not shrink again.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { type Core, coreSync, loadCore, requireBytes } from "./wasm.ts";

/**
 * The largest HKDF-SHA256 output: 255 blocks of 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HKDF_SHA256_MAX } from "./hash.ts";
 * assert.ok(HKDF_SHA256_MAX === 8160);
 * ```
 */
export const HKDF_SHA256_MAX = 255 * 32;

/**
 * Loads the core so the synchronous functions in this module can run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ready, sha256 } from "./hash.ts";
 * await ready();
 * assert.ok(sha256(new Uint8Array(0)).length === 32);
 * ```
 */
export async function ready(): Promise<void> {
  await loadCore();
}

/** `n` rounded up to a multiple of 16: inputs are placed 16-byte aligned. */
const up = (n: number) => (n + 15) & ~15;

/**
 * The start of `total` bytes of the core for one call's inputs and output:
 * the scratch area when they fit, else a fresh allocation. Each function
 * below places its inputs itself (no arrays or closures per call, which
 * showed in the profile of small messages) and ends with {@linkcode areaEnd}.
 */
function areaStart(core: Core, total: number): number {
  return total <= core.scratchSize ? core.scratch() : core.alloc(total);
}

/**
 * Copies `n` bytes of the core's memory at `from` into `out` at `offset`:
 * byte by byte up to 128 bytes (keys and tags), where a view for `set` cost
 * more than the copy; with `set` beyond.
 */
function copyOut(mem: Uint8Array, from: number, out: Uint8Array, offset: number, n: number): void {
  if (n > 128) {
    out.set(mem.subarray(from, from + n), offset);
    return;
  }
  for (let i = 0; i < n; i++) out[offset + i] = mem[from + i];
}

/** Wipes the scratch area's used part, or wipes and frees the allocation. */
function areaEnd(core: Core, base: number, total: number): void {
  if (total <= core.scratchSize) core.wipeRange(base, total);
  else core.free(base, total);
}

/**
 * The SHA-256 digest of `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256 } from "./hash.ts";
 * import { encodeHex } from "../encoding/base64.ts";
 * const d = sha256(new TextEncoder().encode("abc"));
 * assert.ok(encodeHex(d) === "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export function sha256(data: Uint8Array): Uint8Array {
  requireBytes(data, "The data to hash");
  const core = coreSync();
  const total = data.length + 16 + 32;
  const base = areaStart(core, total);
  try {
    core.mem().set(data, base);
    const out = base + up(data.length);
    core.exports.sha256(base, data.length, out);
    return core.take(out, 32);
  } finally {
    areaEnd(core, base, total);
  }
}

/**
 * HMAC-SHA256 of `data` under `key` (any length).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hmacSha256 } from "./hash.ts";
 * import { encodeHex } from "../encoding/base64.ts";
 * const te = new TextEncoder();
 * const mac = hmacSha256(te.encode("Jefe"), te.encode("what do ya want for nothing?"));
 * assert.ok(encodeHex(mac) === "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
 * ```
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  hmacSha256Into(key, data, out, 0);
  return out;
}

/**
 * {@linkcode hmacSha256} written into `out` at `offset` instead of a new
 * array: an encoder puts a header's tag straight into the header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hmacSha256, hmacSha256Into } from "./hash.ts";
 * const key = new Uint8Array(32).fill(1), data = new Uint8Array([1, 2, 3]);
 * const out = new Uint8Array(40);
 * hmacSha256Into(key, data, out, 8);
 * assert.deepEqual(out.subarray(8), hmacSha256(key, data));
 * ```
 */
export function hmacSha256Into(key: Uint8Array, data: Uint8Array, out: Uint8Array, offset: number): void {
  requireBytes(out, "The output");
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + 32 > out.length) {
    throw new RangeError(`The output has no room for 32 bytes at offset ${offset}`);
  }
  macInCore(key, data, (core, at) => copyOut(core.mem(), at, out, offset, 32));
}

/**
 * Computes HMAC-SHA256 of `data` under `key` inside the core and hands `use`
 * the core and the MAC's offset there (with 32 free bytes after it); the
 * core's work area, key included, is released and wiped after `use`.
 */
function macInCore<T>(key: Uint8Array, data: Uint8Array, use: (core: Core, at: number) => T): T {
  const core = coreSync();
  const base = macIn(core, key, data);
  const total = macTotal(key, data);
  try {
    const src = base + up(key.length), at = src + up(data.length);
    core.exports.hmac_sha256(base, key.length, src, data.length, at);
    return use(core, at);
  } finally {
    areaEnd(core, base, total);
  }
}

/**
 * True when `tag` is HMAC-SHA256 of `data` under `key`. The MAC is made and
 * compared in the core, in time that does not depend on the bytes (only on
 * the lengths, which are not secret), and never leaves it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hmacSha256, hmacSha256Verify } from "./hash.ts";
 * const key = new Uint8Array(32).fill(1), data = new Uint8Array([1, 2, 3]);
 * const tag = hmacSha256(key, data);
 * assert.ok(hmacSha256Verify(key, data, tag));
 * tag[0] ^= 1;
 * assert.ok(!hmacSha256Verify(key, data, tag));
 * ```
 */
export function hmacSha256Verify(key: Uint8Array, data: Uint8Array, tag: Uint8Array): boolean {
  requireBytes(tag, "The tag to check");
  if (tag.length !== 32) return false;
  return macInCore(key, data, (core, at) => {
    core.mem().set(tag, at + 32);
    return core.exports.ct_eq(at, at + 32, 32) === 1;
  });
}

/** The core bytes an HMAC call uses: the key, then the data, then the MAC and a tag to compare it with (each 16-byte aligned). */
function macTotal(key: Uint8Array, data: Uint8Array): number {
  return up(key.length) + up(data.length) + 64;
}

/** Checks the arguments of an HMAC and copies the key and the data into the core; returns where they start. */
function macIn(core: Core, key: Uint8Array, data: Uint8Array): number {
  requireBytes(key, "The HMAC key");
  requireBytes(data, "The data to authenticate");
  const base = areaStart(core, macTotal(key, data));
  const m = core.mem();
  m.set(key, base);
  m.set(data, base + up(key.length));
  return base;
}

/**
 * HKDF-SHA256 (RFC 5869, extract then expand): `length` bytes (at most
 * 8160) from `ikm`, `salt` and `info`.
 *
 * @example RFC 5869 test case 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdfSha256 } from "./hash.ts";
 * import { decodeHex, encodeHex } from "../encoding/base64.ts";
 * const okm = hkdfSha256(
 *   decodeHex("0b".repeat(22)),
 *   decodeHex("000102030405060708090a0b0c"),
 *   decodeHex("f0f1f2f3f4f5f6f7f8f9"),
 *   42,
 * );
 * assert.ok(encodeHex(okm).startsWith("3cb25f25faacd57a90434f64d0362f2a"));
 * ```
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkLength(length);
  const out = new Uint8Array(length);
  hkdfSha256Into(ikm, salt, info, out);
  return out;
}

/**
 * {@linkcode hkdfSha256} of `out.length` bytes written into `out`: a caller
 * that uses a key once and wipes it can keep one array for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdfSha256, hkdfSha256Into } from "./hash.ts";
 * const ikm = new Uint8Array(32).fill(7), salt = new Uint8Array(32), info = new Uint8Array([1]);
 * const out = new Uint8Array(32);
 * hkdfSha256Into(ikm, salt, info, out);
 * assert.deepEqual(out, hkdfSha256(ikm, salt, info, 32));
 * ```
 */
export function hkdfSha256Into(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, out: Uint8Array): void {
  requireBytes(ikm, "The HKDF input key material");
  requireBytes(salt, "The HKDF salt");
  requireBytes(info, "The HKDF info");
  requireBytes(out, "The output");
  const length = out.length;
  checkLength(length);
  const core = coreSync();
  const total = ikm.length + 16 + salt.length + 16 + info.length + 16 + length;
  const base = areaStart(core, total);
  try {
    const m = core.mem();
    const s = base + up(ikm.length);
    const n = s + up(salt.length);
    const at = n + up(info.length);
    m.set(ikm, base);
    m.set(salt, s);
    m.set(info, n);
    const r = core.exports.hkdf_sha256(base, ikm.length, s, salt.length, n, info.length, at, length);
    if (r !== 0) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `Deriving a key with HKDF-SHA256 failed: the crypto core refused it (code ${r})`,
      );
    }
    copyOut(core.mem(), at, out, 0, length);
  } finally {
    areaEnd(core, base, total);
  }
}

/** Throws unless `length` is an HKDF-SHA256 output length (0 to 8160). */
function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Deriving a key with HKDF-SHA256 failed: the length ${length} is not an integer from 0 to 8160`,
    );
  }
}

/**
 * HKDF-SHA256 with one salt and input key but several `infos`: one
 * HKDF-Extract, then one HKDF-Expand of `length` bytes per info. Each output
 * equals `hkdfSha256(ikm, salt, info, length)` for its info. It is one
 * call to the core, which extracts once and keys the PRK's HMAC once, so
 * each further 32-byte output costs two SHA-256 compressions, not six.
 *
 * @example The same bytes as separate calls
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdfSha256, hkdfSha256Each } from "./hash.ts";
 * const te = new TextEncoder();
 * const ikm = new Uint8Array(32).fill(7), salt = new Uint8Array(32).fill(9);
 * const [a, b] = hkdfSha256Each(ikm, salt, [te.encode("a"), te.encode("b")], 32);
 * assert.deepEqual(a, hkdfSha256(ikm, salt, te.encode("a"), 32));
 * assert.deepEqual(b, hkdfSha256(ikm, salt, te.encode("b"), 32));
 * ```
 */
export function hkdfSha256Each(
  ikm: Uint8Array,
  salt: Uint8Array,
  infos: readonly Uint8Array[],
  length: number,
): Uint8Array[] {
  checkLength(length);
  // The core takes at most 255 infos per call.
  if (infos.length > 255) {
    return [
      ...hkdfSha256Each(ikm, salt, infos.slice(0, 255), length),
      ...hkdfSha256Each(ikm, salt, infos.slice(255), length),
    ];
  }
  return expandEach(ikm, salt, infos, length, null)!;
}

/**
 * {@linkcode hkdfSha256Each} written into `out`, one output after another
 * (`infos.length * length` bytes from its start): the keys of a message in
 * one array instead of one array each. At most 255 infos.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdfSha256Each, hkdfSha256EachInto } from "./hash.ts";
 * const te = new TextEncoder();
 * const ikm = new Uint8Array(32).fill(7), salt = new Uint8Array(32).fill(9);
 * const infos = [te.encode("a"), te.encode("b")];
 * const out = new Uint8Array(64);
 * hkdfSha256EachInto(ikm, salt, infos, 32, out);
 * const [a, b] = hkdfSha256Each(ikm, salt, infos, 32);
 * assert.deepEqual(out.subarray(0, 32), a);
 * assert.deepEqual(out.subarray(32), b);
 * ```
 */
export function hkdfSha256EachInto(
  ikm: Uint8Array,
  salt: Uint8Array,
  infos: readonly Uint8Array[],
  length: number,
  out: Uint8Array,
): void {
  checkLength(length);
  requireBytes(out, "The output");
  if (infos.length > 255) throw new RangeError("hkdfSha256EachInto takes at most 255 infos");
  if (out.length < infos.length * length) {
    throw new RangeError(`The output has no room for ${infos.length * length} bytes`);
  }
  expandEach(ikm, salt, infos, length, out);
}

/** One core call for up to 255 infos: the outputs as arrays of their own, or written into `into` (then null). */
function expandEach(
  ikm: Uint8Array,
  salt: Uint8Array,
  infos: readonly Uint8Array[],
  length: number,
  into: Uint8Array | null,
): Uint8Array[] | null {
  requireBytes(ikm, "The HKDF input key material");
  requireBytes(salt, "The HKDF salt");
  for (const info of infos) requireBytes(info, "The HKDF info");
  const count = infos.length;
  let infoBytes = 0;
  for (const info of infos) infoBytes += info.length;
  // One call: the core extracts once, keys the PRK's HMAC once and expands each info from that state.
  const core = coreSync();
  const total = ikm.length + 16 + salt.length + 16 + infoBytes + 16 + 4 * count + 16 + count * length;
  const base = areaStart(core, total);
  try {
    const s = base + up(ikm.length);
    const inf = s + up(salt.length);
    const lens = inf + up(infoBytes);
    const out = lens + up(4 * count);
    const m = core.mem();
    m.set(ikm, base);
    m.set(salt, s);
    for (let i = 0, p = inf; i < count; i++) {
      const info = infos[i];
      m.set(info, p);
      p += info.length;
      // Its length as a little-endian u32.
      const n = info.length, q = lens + 4 * i;
      m[q] = n & 0xff;
      m[q + 1] = (n >>> 8) & 0xff;
      m[q + 2] = (n >>> 16) & 0xff;
      m[q + 3] = n >>> 24;
    }
    const r = core.exports.hkdf_sha256_each(base, ikm.length, s, salt.length, inf, infoBytes, lens, count, out, length);
    if (r !== 0) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `Deriving keys with HKDF-SHA256 failed: the crypto core refused it (code ${r})`,
      );
    }
    const after = core.mem();
    if (into !== null) {
      copyOut(after, out, into, 0, count * length);
      return null;
    }
    const outs: Uint8Array[] = new Array(count);
    for (let i = 0; i < count; i++) outs[i] = after.slice(out + i * length, out + (i + 1) * length);
    return outs;
  } finally {
    areaEnd(core, base, total);
  }
}

/**
 * True when `a` and `b` hold the same bytes, compared in time that does not
 * depend on their contents (only on their lengths, which are not secret).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { constantTimeEqual } from "./hash.ts";
 * assert.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
 * assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
 * assert.ok(!constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 2])));
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  requireBytes(a, "The first value to compare");
  requireBytes(b, "The second value to compare");
  if (a.length !== b.length) return false;
  const core = coreSync();
  const total = a.length + 16 + b.length + 16;
  const base = areaStart(core, total);
  try {
    const m = core.mem();
    const pb = base + up(a.length);
    m.set(a, base);
    m.set(b, pb);
    return core.exports.ct_eq(base, pb, a.length) === 1;
  } finally {
    areaEnd(core, base, total);
  }
}
