/**
 * AES-GCM (128, 192 or 256-bit keys, any IV of at least one byte, 16-byte
 * tags) over the WASM core, with an optional WebCrypto path for large
 * messages ({@linkcode AesGcm.sealAsync}).
 *
 * `open` authenticates before it decrypts: on a wrong key, IV, AAD or any
 * changed byte it throws `PAYLOAD_AUTH_FAILED` and returns no plaintext.
 * Inputs larger than 1 MiB pass through the core in 1 MiB windows.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import {
  authFailed,
  check,
  checkIv,
  EMPTY,
  type Layout,
  layout,
  placeParams,
  releaseParams,
  TAG,
} from "./_aes_gcm_common.ts";
import { GcmOpener, GcmSealer, type GcmStream } from "./aes_gcm_stream.ts";
import { type Backend, chooseBackend, subtleOrUndefined } from "./backend.ts";
import { type Core, coreSync, type GcmOnce, loadCore, requireBytes, WINDOW } from "./wasm.ts";

export { GcmOpener, GcmSealer } from "./aes_gcm_stream.ts";

/**
 * An AES-GCM key loaded into the WASM core.
 *
 * @example Sealing and opening a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm } from "./aes_gcm.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const iv = crypto.getRandomValues(new Uint8Array(12));
 * const gcm = await AesGcm.create(key);
 * const sealed = gcm.seal(iv, new TextEncoder().encode("hello"), new TextEncoder().encode("header"));
 * const opened = gcm.open(iv, sealed, new TextEncoder().encode("header"));
 * assert.ok(new TextDecoder().decode(opened) === "hello");
 * gcm.dispose();
 * ```
 */
export class AesGcm {
  #core: Core;
  #ctx: number;
  #keyPtr: number;
  #keyLen: number;
  #webKey: Promise<CryptoKey> | undefined;
  /** The imported key once the import resolved, so later calls skip a promise hop. */
  #webKeyReady: CryptoKey | undefined;
  /** Unfinished incremental messages, made on first use (most keys never have one). */
  #streams: Set<GcmStream> | undefined;

  private constructor(core: Core, ctx: number, keyPtr: number, keyLen: number) {
    this.#core = core;
    this.#ctx = ctx;
    this.#keyPtr = keyPtr;
    this.#keyLen = keyLen;
  }

  /**
   * Loads `key` (16, 24 or 32 bytes) into the core. The caller may wipe its
   * copy afterwards; {@linkcode AesGcm.dispose} wipes the core's.
   *
   * @example
   * ```ts
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(16));
   * gcm.dispose();
   * ```
   */
  static async create(key: Uint8Array): Promise<AesGcm> {
    checkKey(key);
    return AesGcm.#load(await loadCore(), key);
  }

  /**
   * Like {@linkcode AesGcm.create}, without a promise: for callers that
   * make a key per message, where the await costs more than the work. It
   * needs the core loaded; in Deno, Node and workers it loads it
   * synchronously, and where a runtime refuses that (a browser's main
   * thread) it throws `WASM_UNAVAILABLE` until `ready()` or `loadCore()`
   * has resolved once.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = AesGcm.createSync(new Uint8Array(32));
   * assert.ok(gcm.seal(new Uint8Array(12), new Uint8Array(1)).length === 17);
   * gcm.dispose();
   * ```
   */
  static createSync(key: Uint8Array): AesGcm {
    checkKey(key);
    return AesGcm.#load(coreSync(), key);
  }

  static #load(core: Core, key: Uint8Array): AesGcm {
    const keyPtr = core.copyIn(key);
    const ctx = core.exports.gcm_new(keyPtr, key.length);
    if (ctx === 0) {
      core.free(keyPtr, key.length);
      throw new EnvelopeError("LIMIT_EXCEEDED", "Loading the AES-GCM key failed: the crypto core is out of memory");
    }
    return new AesGcm(core, ctx, keyPtr, key.length);
  }

  #live(): number {
    if (this.#ctx === 0) {
      throw new EnvelopeError("INVALID_ARGUMENT", "Using the AES-GCM key failed: it was disposed", {
        hint: "create a new AesGcm for further use",
      });
    }
    return this.#ctx;
  }

  /**
   * Encrypts `plaintext` and returns ciphertext followed by the 16-byte tag.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const sealed = gcm.seal(new Uint8Array(12), new Uint8Array(5));
   * assert.ok(sealed.length === 5 + 16);
   * gcm.dispose();
   * ```
   */
  seal(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    this.#live();
    checkIv(iv);
    requireBytes(plaintext, "The plaintext");
    requireBytes(aad, "The associated data");
    const out = new Uint8Array(plaintext.length + TAG);
    this.#sealTo(iv, plaintext, aad, out, 0);
    return out;
  }

  /**
   * Like {@linkcode AesGcm.seal}, but writes the ciphertext and tag into
   * `out` from `offset` on (`plaintext.length + 16` bytes), so a caller that
   * builds a larger message saves an array and a copy. Throws a `RangeError`
   * when `out` has no room, before writing anything; `out` must not overlap
   * `plaintext`, and after any other error it may hold part of the
   * ciphertext (discard it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const out = new Uint8Array(3 + 5 + 16);
   * gcm.sealInto(iv, new Uint8Array(5), new Uint8Array(0), out, 3);
   * assert.deepEqual(out.subarray(3), gcm.seal(iv, new Uint8Array(5)));
   * gcm.dispose();
   * ```
   */
  sealInto(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
    this.#live();
    checkIv(iv);
    requireBytes(plaintext, "The plaintext");
    requireBytes(aad, "The associated data");
    requireBytes(out, "The output");
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + plaintext.length + TAG > out.length) {
      throw new RangeError(`The output has no room for ${plaintext.length + TAG} bytes at offset ${offset}`);
    }
    this.#sealTo(iv, plaintext, aad, out, offset);
  }

  #sealTo(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
    const ctx = this.#live();
    const core = this.#core;
    const n = plaintext.length;
    const l = layout(core);
    if (n <= WINDOW && iv.length + aad.length <= l.headSize) {
      const m = core.mem();
      m.set(plaintext, l.data);
      m.set(iv, l.head);
      m.set(aad, l.head + iv.length);
      const r = core.exports.gcm_seal(ctx, l.head, iv.length, l.head + iv.length, aad.length, l.data, n, l.data + n);
      if (r !== 0) {
        core.wipeRange(l.data, n);
        check(r);
      }
      out.set(core.mem().subarray(l.data, l.data + n + TAG), offset);
      return;
    }
    const st = this.#streamNew(1, iv, aad);
    try {
      for (let off = 0; off < n; off += WINDOW) {
        const w = Math.min(WINDOW, n - off);
        core.put(l.data, plaintext.subarray(off, off + w));
        const r = core.exports.gcm_stream_update(st, l.data, w);
        if (r !== 0) {
          core.wipeRange(l.data, w);
          check(r);
        }
        out.set(core.mem().subarray(l.data, l.data + w), offset + off);
      }
    } catch (err) {
      core.exports.gcm_stream_free(st);
      throw err;
    }
    core.exports.gcm_stream_finish(st, l.tag);
    out.set(core.mem().subarray(l.tag, l.tag + TAG), offset + n);
  }

  /**
   * Authenticates and decrypts `sealed` (ciphertext followed by the tag).
   * Throws `PAYLOAD_AUTH_FAILED`, with no plaintext, when anything is wrong.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * import { isEnvelopeError } from "../errors.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const sealed = gcm.seal(iv, new Uint8Array([1, 2, 3]));
   * sealed[0] ^= 1;
   * try {
   *   gcm.open(iv, sealed);
   *   throw new Error("unreachable");
   * } catch (err) {
   *   assert.ok(isEnvelopeError(err, "PAYLOAD_AUTH_FAILED"));
   * }
   * gcm.dispose();
   * ```
   */
  open(iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    const ctx = this.#live();
    checkIv(iv);
    requireBytes(sealed, "The sealed message");
    requireBytes(aad, "The associated data");
    if (sealed.length < TAG) throw authFailed();
    const core = this.#core;
    const n = sealed.length - TAG;
    const l = layout(core);
    if (n <= WINDOW && iv.length + aad.length <= l.headSize) {
      const m = core.mem();
      m.set(sealed, l.data);
      m.set(iv, l.head);
      m.set(aad, l.head + iv.length);
      const r = core.exports.gcm_open(ctx, l.head, iv.length, l.head + iv.length, aad.length, l.data, n, l.data + n);
      if (r !== 0) {
        if (r === 1) throw authFailed();
        check(r);
      }
      const out = core.take(l.data, n);
      core.wipeRange(l.data, n);
      return out;
    }
    const out = new Uint8Array(n);
    const st = this.#streamNew(0, iv, aad);
    try {
      for (let off = 0; off < n; off += WINDOW) {
        const w = Math.min(WINDOW, n - off);
        core.put(l.data, sealed.subarray(off, off + w));
        const r = core.exports.gcm_stream_update(st, l.data, w);
        if (r !== 0) check(r);
        out.set(core.mem().subarray(l.data, l.data + w), off);
        core.wipeRange(l.data, w);
      }
    } catch (err) {
      core.exports.gcm_stream_free(st);
      out.fill(0);
      throw err;
    }
    core.put(l.tag, sealed.subarray(n));
    if (core.exports.gcm_stream_finish(st, l.tag) !== 0) {
      out.fill(0);
      throw authFailed();
    }
    return out;
  }

  #streamNew(encrypt: 0 | 1, iv: Uint8Array, aad: Uint8Array): number {
    const ctx = this.#live();
    const core = this.#core;
    const l = layout(core);
    const p = placeParams(core, l.head, l.headSize, iv, aad);
    const st = core.exports.gcm_stream_new(ctx, encrypt, p.iv, iv.length, p.aad, aad.length);
    releaseParams(core, p, iv, aad);
    if (st === 0) {
      throw new EnvelopeError("LIMIT_EXCEEDED", "Starting an AES-GCM message failed: the crypto core is out of memory");
    }
    return st;
  }

  async #webCryptoKey(subtle: SubtleCrypto): Promise<CryptoKey> {
    if (this.#webKey === undefined) {
      const raw = this.#core.take(this.#keyPtr, this.#keyLen);
      const pending = subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
      this.#webKey = pending;
      pending.then((k) => {
        if (this.#webKey === pending) this.#webKeyReady = k;
      }, () => {}).finally(() => raw.fill(0));
    }
    return await this.#webKey;
  }

  /**
   * Like {@linkcode AesGcm.seal}, on the backend {@linkcode chooseBackend}
   * picks for this size (WebCrypto for large messages with 12-byte IVs,
   * where that is faster). Both backends produce the same bytes;
   * `options.backend` forces one (WebCrypto only where it can do the job).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const big = new Uint8Array(1 << 20);
   * const a = await gcm.sealAsync(iv, big);
   * const b = gcm.seal(iv, big);
   * assert.ok(a.every((x, i) => x === b[i]));
   * gcm.dispose();
   * ```
   */
  async sealAsync(
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array = EMPTY,
    options: { backend?: Backend } = {},
  ): Promise<Uint8Array> {
    this.#live();
    checkIv(iv);
    requireBytes(plaintext, "The plaintext");
    requireBytes(aad, "The associated data");
    const subtle = subtleOrUndefined();
    const backend = pick(options.backend, "seal", iv.length, plaintext.length);
    if (backend === "wasm" || subtle === undefined) return this.seal(iv, plaintext, aad);
    const params = webParams(iv, aad);
    const key = this.#webKeyReady ?? await this.#webCryptoKey(subtle);
    this.#live();
    return new Uint8Array(await subtle.encrypt(params, key, plaintext as Uint8Array<ArrayBuffer>));
  }

  /**
   * Like {@linkcode AesGcm.open}, on the backend {@linkcode chooseBackend}
   * picks for this size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const sealed = await gcm.sealAsync(iv, new Uint8Array(100_000));
   * assert.ok((await gcm.openAsync(iv, sealed)).length === 100_000);
   * gcm.dispose();
   * ```
   */
  async openAsync(
    iv: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array = EMPTY,
    options: { backend?: Backend } = {},
  ): Promise<Uint8Array> {
    this.#live();
    checkIv(iv);
    requireBytes(sealed, "The sealed message");
    requireBytes(aad, "The associated data");
    if (sealed.length < TAG) throw authFailed();
    const subtle = subtleOrUndefined();
    const backend = pick(options.backend, "open", iv.length, sealed.length);
    if (backend === "wasm" || subtle === undefined) return this.open(iv, sealed, aad);
    const params = webParams(iv, aad);
    const key = this.#webKeyReady ?? await this.#webCryptoKey(subtle);
    this.#live();
    let pt: ArrayBuffer;
    try {
      pt = await subtle.decrypt(params, key, sealed as Uint8Array<ArrayBuffer>);
    } catch {
      throw authFailed();
    }
    return new Uint8Array(pt);
  }

  /**
   * Starts sealing one message incrementally: `update` returns ciphertext
   * for each chunk (any sizes), `finish` returns the 16-byte tag.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const s = gcm.beginSeal(iv);
   * const c1 = s.update(new Uint8Array(10));
   * const c2 = s.update(new Uint8Array(7));
   * const tag = s.finish();
   * const whole = gcm.seal(iv, new Uint8Array(17));
   * assert.ok(whole.length === c1.length + c2.length + tag.length);
   * gcm.dispose();
   * ```
   */
  beginSeal(iv: Uint8Array, aad: Uint8Array = EMPTY): GcmSealer {
    this.#live();
    checkIv(iv);
    requireBytes(aad, "The associated data");
    const streams = this.#streams ??= new Set();
    const s = new GcmSealer(this.#core, this.#streamNew(1, iv, aad), streams);
    streams.add(s);
    return s;
  }

  /**
   * Starts opening one message incrementally: `update` returns plaintext
   * for each chunk of ciphertext, and `finish(tag)` throws
   * `PAYLOAD_AUTH_FAILED` if the message was not authentic. The plaintext
   * from `update` is unauthenticated until `finish` returns: do not release
   * it before then.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * const iv = new Uint8Array(12);
   * const sealed = gcm.seal(iv, new Uint8Array([1, 2, 3]));
   * const o = gcm.beginOpen(iv);
   * const pt = o.update(sealed.subarray(0, 3));
   * o.finish(sealed.subarray(3));
   * assert.ok(pt[2] === 3);
   * gcm.dispose();
   * ```
   */
  beginOpen(iv: Uint8Array, aad: Uint8Array = EMPTY): GcmOpener {
    this.#live();
    checkIv(iv);
    requireBytes(aad, "The associated data");
    const streams = this.#streams ??= new Set();
    const s = new GcmOpener(this.#core, this.#streamNew(0, iv, aad), streams);
    streams.add(s);
    return s;
  }

  /**
   * Wipes the key from the core's memory and aborts unfinished incremental
   * messages. Every later call throws. Calling it twice is harmless.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AesGcm } from "./aes_gcm.ts";
   * const gcm = await AesGcm.create(new Uint8Array(32));
   * gcm.dispose();
   * try {
   *   gcm.seal(new Uint8Array(12), new Uint8Array(1));
   *   throw new Error("unreachable");
   * } catch (err) {
   *   assert.ok((err as { code?: string }).code === "INVALID_ARGUMENT");
   * }
   * ```
   */
  dispose(): void {
    if (this.#ctx === 0) return;
    for (const s of [...this.#streams ?? []]) s.abort();
    this.#core.exports.gcm_free(this.#ctx);
    this.#core.free(this.#keyPtr, this.#keyLen);
    this.#ctx = 0;
    this.#keyPtr = 0;
    this.#webKey = undefined;
    this.#webKeyReady = undefined;
  }
}

/** Bytes of the scratch head a one-shot call reserves for the key, ahead of the IV and AAD. */
const KEY_ROOM = 32;

/**
 * Stages a one-shot call in the core's window (the key and then the IV and
 * AAD in the head, `data` in the data area, the tag right after its `n`
 * bytes), makes it, and wipes the key from the core's memory; returns the
 * result code and the memory view read afresh (the call may have grown it).
 */
function callOnce(
  fn: GcmOnce,
  core: Core,
  l: Layout,
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  data: Uint8Array,
  n: number,
): { r: number; after: Uint8Array } {
  const m = core.mem();
  const ivp = l.head + KEY_ROOM;
  m.set(key, l.head);
  try {
    m.set(data, l.data);
    m.set(iv, ivp);
    m.set(aad, ivp + iv.length);
    const r = fn(l.head, key.length, ivp, iv.length, ivp + iv.length, aad.length, l.data, n, l.data + n);
    return { r, after: core.mem() };
  } finally {
    // Even when the call traps: the raw key does not stay in the core's memory (mem() again: it may have grown).
    core.mem().fill(0, l.head, l.head + key.length);
  }
}

/**
 * Seals `plaintext` under a raw `key` in one call to the core, writing the
 * ciphertext and the 16-byte tag into `out` from `offset` on: the same bytes
 * as `AesGcm.createSync(key)` then {@linkcode AesGcm.sealInto}, for a key
 * used once (a per-wrap or per-message key). No key object is made: the core
 * expands the key on its stack, builds no vector-permute key and, for inputs
 * of up to 96 bytes, no table of GHASH key powers, and wipes it all before
 * returning. Synchronous, so it needs the core loaded (as
 * {@linkcode AesGcm.createSync} does). `out` must not overlap `plaintext`.
 *
 * @example The same bytes as a key object
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm, gcmSealOnce } from "./aes_gcm.ts";
 * const key = new Uint8Array(32).fill(1), iv = new Uint8Array(12), pt = new Uint8Array(40).fill(2);
 * const out = new Uint8Array(40 + 16);
 * gcmSealOnce(key, iv, pt, new Uint8Array(0), out, 0);
 * const gcm = AesGcm.createSync(key);
 * assert.deepEqual(out, gcm.seal(iv, pt));
 * gcm.dispose();
 * ```
 */
export function gcmSealOnce(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  checkKey(key);
  checkIv(iv);
  requireBytes(plaintext, "The plaintext");
  requireBytes(aad, "The associated data");
  requireBytes(out, "The output");
  const n = plaintext.length;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + n + TAG > out.length) {
    throw new RangeError(`The output has no room for ${n + TAG} bytes at offset ${offset}`);
  }
  const core = coreSync();
  const l = layout(core);
  if (n > WINDOW || KEY_ROOM + iv.length + aad.length > l.headSize) {
    const gcm = AesGcm.createSync(key);
    try {
      gcm.sealInto(iv, plaintext, aad, out, offset);
    } finally {
      gcm.dispose();
    }
    return;
  }
  const { r, after } = callOnce(core.exports.gcm_seal_once, core, l, key, iv, aad, plaintext, n);
  if (r !== 0) {
    after.fill(0, l.data, l.data + n);
    check(r);
  }
  out.set(after.subarray(l.data, l.data + n + TAG), offset);
}

/**
 * Authenticates and decrypts `sealed` (ciphertext then tag) under a raw
 * `key` in one call to the core: {@linkcode gcmSealOnce}'s counterpart, the
 * same result as `AesGcm.createSync(key)` then {@linkcode AesGcm.open}. The
 * tag is checked in constant time before any plaintext is formed; on a
 * mismatch it throws `PAYLOAD_AUTH_FAILED` and returns nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gcmOpenOnce, gcmSealOnce } from "./aes_gcm.ts";
 * import { isEnvelopeError } from "../errors.ts";
 * const key = new Uint8Array(16).fill(3), iv = new Uint8Array(12), aad = new Uint8Array([1]);
 * const sealed = new Uint8Array(5 + 16);
 * gcmSealOnce(key, iv, new Uint8Array([1, 2, 3, 4, 5]), aad, sealed, 0);
 * assert.deepEqual(gcmOpenOnce(key, iv, sealed, aad), new Uint8Array([1, 2, 3, 4, 5]));
 * sealed[0] ^= 1;
 * assert.throws(() => gcmOpenOnce(key, iv, sealed, aad), (e: unknown) => isEnvelopeError(e, "PAYLOAD_AUTH_FAILED"));
 * ```
 */
export function gcmOpenOnce(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKey(key);
  checkIv(iv);
  requireBytes(sealed, "The sealed message");
  requireBytes(aad, "The associated data");
  if (sealed.length < TAG) throw authFailed();
  const core = coreSync();
  const l = layout(core);
  const n = sealed.length - TAG;
  if (n > WINDOW || KEY_ROOM + iv.length + aad.length > l.headSize) {
    const gcm = AesGcm.createSync(key);
    try {
      return gcm.open(iv, sealed, aad);
    } finally {
      gcm.dispose();
    }
  }
  const { r, after } = callOnce(core.exports.gcm_open_once, core, l, key, iv, aad, sealed, n);
  if (r !== 0) {
    if (r === 1) throw authFailed();
    check(r);
  }
  const out = after.slice(l.data, l.data + n);
  after.fill(0, l.data, l.data + n);
  return out;
}

/** Throws unless `key` is 16, 24 or 32 bytes. */
function checkKey(key: Uint8Array): void {
  requireBytes(key, "The AES-GCM key");
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new EnvelopeError(
      "INVALID_KEY",
      `Loading the AES-GCM key failed: it is ${key.length} bytes, not 16, 24 or 32`,
      {
        hint: "pass a 128-, 192- or 256-bit key",
      },
    );
  }
}

/** WebCrypto's AES-GCM parameters (tag length 128 is the default; empty AAD is left out: each costs a conversion). */
function webParams(iv: Uint8Array, aad: Uint8Array): AesGcmParams {
  return aad.length === 0
    ? { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer> }
    : { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: aad as Uint8Array<ArrayBuffer> };
}

function pick(forced: Backend | undefined, op: "seal" | "open", ivLength: number, size: number): Backend {
  if (forced === "wasm") return "wasm";
  if (forced === "webcrypto") return ivLength === 12 ? "webcrypto" : "wasm";
  return chooseBackend(op, ivLength, size);
}
