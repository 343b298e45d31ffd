/**
 * Loading the WASM core and moving bytes in and out of its memory.
 *
 * The core (`wasm/`, described in `docs/wasm-abi.md`) is embedded as base64
 * in `_wasm/core.generated.ts`. It is compiled once, on first use, behind a
 * shared promise ({@linkcode loadCore}); every later caller gets the same
 * instance. Only the modules in `src/crypto/` call it.
 *
 * Memory discipline: every temporary that held key material or plaintext is
 * zeroed before it is freed (the core's `free` zeroes too), views of the
 * linear memory are re-read after any call that may grow it, and inputs
 * larger than {@linkcode WINDOW} go through the core in windows so its memory
 * stays bounded.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { decodeBase64 } from "../encoding/base64.ts";
import { WASM_BASE64 } from "./_wasm/core.generated.ts";

/**
 * The core's one-shot AES-GCM calls (`gcm_seal_once`, `gcm_open_once`): a raw
 * key, the IV and AAD, the buffer sealed or opened in place and the tag, all
 * as offsets into the core's memory; 0 on success.
 */
export type GcmOnce = (
  key: number,
  keyLen: number,
  iv: number,
  ivLen: number,
  aad: number,
  aadLen: number,
  buf: number,
  len: number,
  tag: number,
) => number;

/**
 * The raw exports of the core, as `docs/wasm-abi.md` lists them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CoreExports, loadCore } from "./wasm.ts";
 * const raw: CoreExports = (await loadCore()).exports;
 * assert.ok(raw.memory instanceof WebAssembly.Memory);
 * ```
 */
export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  alloc(len: number): number;
  free(ptr: number, len: number): void;
  wipe(ptr: number, len: number): void;
  gcm_new(key: number, keyLen: number): number;
  gcm_free(ctx: number): void;
  gcm_seal(
    ctx: number,
    iv: number,
    ivLen: number,
    aad: number,
    aadLen: number,
    buf: number,
    len: number,
    tag: number,
  ): number;
  gcm_open(
    ctx: number,
    iv: number,
    ivLen: number,
    aad: number,
    aadLen: number,
    buf: number,
    len: number,
    tag: number,
  ): number;
  gcm_seal_once: GcmOnce;
  gcm_open_once: GcmOnce;
  gcm_stream_new(ctx: number, encrypt: number, iv: number, ivLen: number, aad: number, aadLen: number): number;
  gcm_stream_update(st: number, buf: number, len: number): number;
  gcm_stream_finish(st: number, tag: number): number;
  gcm_stream_free(st: number): void;
  cbc_encrypt(key: number, keyLen: number, iv: number, src: number, srcLen: number, dst: number): number;
  cbc_decrypt(key: number, keyLen: number, iv: number, src: number, srcLen: number, dst: number): number;
  sha256(src: number, len: number, out: number): void;
  hmac_sha256(key: number, keyLen: number, src: number, len: number, out: number): void;
  hkdf_sha256(
    ikm: number,
    ikmLen: number,
    salt: number,
    saltLen: number,
    info: number,
    infoLen: number,
    out: number,
    outLen: number,
  ): number;
  hkdf_sha256_each(
    ikm: number,
    ikmLen: number,
    salt: number,
    saltLen: number,
    infos: number,
    infosLen: number,
    lens: number,
    count: number,
    out: number,
    outLen: number,
  ): number;
  ct_eq(a: number, b: number, len: number): number;
  fernet_encrypt(key32: number, tsHi: number, tsLo: number, iv: number, src: number, len: number, out: number): number;
  fernet_decrypt(key32: number, tok: number, tokLen: number, out: number): number;
}

/**
 * Bytes processed per core call for large inputs (1 MiB): the core's memory stays bounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WINDOW } from "./wasm.ts";
 * assert.ok(WINDOW === 1 << 20);
 * ```
 */
export const WINDOW = 1 << 20;

/** Bytes reserved in the scratch area for small arguments (IV, AAD, tag, keys). */
const HEAD = 64 * 1024;

/**
 * The loaded core: its exports plus helpers to copy bytes in and out.
 *
 * A scratch area of `HEAD + WINDOW` bytes is allocated once; callers that
 * finish their work synchronously use it instead of allocating per call, and
 * wipe what they wrote before returning. JavaScript runs one call at a time,
 * so the scratch area is never shared by two operations.
 *
 * @example Hashing bytes through the raw core
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCore } from "./wasm.ts";
 * const core = await loadCore();
 * const out = core.scratch();
 * core.put(out, new TextEncoder().encode("abc"));
 * core.exports.sha256(out, 3, out + 64);
 * const digest = core.take(out + 64, 32);
 * core.wipeRange(out, 96);
 * assert.ok(digest[0] === 0xba);
 * ```
 */
export class Core {
  /** The raw exports. */
  readonly exports: CoreExports;
  #u8: Uint8Array<ArrayBuffer>;
  #scratch = 0;

  /** Wraps an instantiated core. Use {@linkcode loadCore} instead. */
  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as CoreExports;
    this.#u8 = new Uint8Array(this.exports.memory.buffer as ArrayBuffer);
  }

  /**
   * A current view of the whole linear memory (re-made after the memory
   * grew). Growing detaches the old buffer, which leaves the old view with
   * length 0, so that check replaces a read of `memory.buffer` on every call.
   */
  mem(): Uint8Array<ArrayBuffer> {
    if (this.#u8.length === 0) this.#u8 = new Uint8Array(this.exports.memory.buffer as ArrayBuffer);
    return this.#u8;
  }

  /** Allocates `len` bytes in the core; throws `LIMIT_EXCEEDED` when its memory is exhausted. */
  alloc(len: number): number {
    const p = this.exports.alloc(len);
    if (p === 0) {
      throw new EnvelopeError("LIMIT_EXCEEDED", "Allocating memory in the WASM core failed: it is out of memory", {
        hint: "process the data in smaller pieces",
      });
    }
    return p;
  }

  /** Zeroes and frees `len` bytes at `ptr` (no-op for a null pointer). */
  free(ptr: number, len: number): void {
    if (ptr !== 0) this.exports.free(ptr, len);
  }

  /** Allocates room for `data` and copies it in. */
  copyIn(data: Uint8Array): number {
    const p = this.alloc(data.length);
    this.mem().set(data, p);
    return p;
  }

  /** Copies `data` to `ptr` (which must have room). */
  put(ptr: number, data: Uint8Array): void {
    this.mem().set(data, ptr);
  }

  /** Copies `len` bytes at `ptr` out into a new array. */
  take(ptr: number, len: number): Uint8Array<ArrayBuffer> {
    return this.mem().slice(ptr, ptr + len);
  }

  /** Zeroes `len` bytes at `ptr` in the core's memory. */
  wipeRange(ptr: number, len: number): void {
    if (len > 0) this.mem().fill(0, ptr, ptr + len);
  }

  /**
   * The start of the scratch area: {@linkcode scratchSize} bytes, for
   * synchronous use only; the user wipes what it wrote.
   */
  scratch(): number {
    if (this.#scratch === 0) this.#scratch = this.alloc(HEAD + WINDOW);
    return this.#scratch;
  }

  /** The size of the scratch area. */
  get scratchSize(): number {
    return HEAD + WINDOW;
  }
}

let corePromise: Promise<Core> | undefined;
let core: Core | undefined;

function wasmApi(): typeof WebAssembly {
  const wa = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
  if (wa === undefined || typeof wa.Module !== "function") {
    throw new EnvelopeError("WASM_UNAVAILABLE", "Loading the crypto core failed: this runtime has no WebAssembly", {
      hint: "use Deno, Node 20 or later, or a browser with WebAssembly enabled",
    });
  }
  return wa;
}

/** `Uint8Array.fromBase64` (TC39 base64; Deno 2.9, current browsers), where the runtime has it. */
type FromBase64 = (text: string, options?: { lastChunkHandling?: "strict" }) => Uint8Array<ArrayBuffer>;

/**
 * The core's bytes. The runtime's native base64 decoder when there is one:
 * the portable decoder was the larger part of loading the core in Deno (the
 * in-process line of scripts/bench_startup.ts; docs/benchmarks.md), a visible
 * part of a small file's encrypt. Node 20 and 22 have no native decoder and
 * use the portable one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moduleBytes } from "./wasm.ts";
 * assert.deepEqual([...moduleBytes().subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]); // "\0asm"
 * ```
 */
export function moduleBytes(): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as { fromBase64?: FromBase64 }).fromBase64;
  if (typeof native === "function") return native(WASM_BASE64, { lastChunkHandling: "strict" });
  return decodeBase64(WASM_BASE64) as Uint8Array<ArrayBuffer>;
}

/**
 * Compiles and instantiates the core once; every caller shares the result.
 * A failed load is not cached, so a later call tries again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCore } from "./wasm.ts";
 * const a = await loadCore();
 * const b = await loadCore();
 * assert.ok(a === b);
 * ```
 */
export function loadCore(): Promise<Core> {
  if (core !== undefined) return Promise.resolve(core);
  if (corePromise === undefined) {
    corePromise = (async () => {
      const wa = wasmApi();
      const { instance } = await wa.instantiate(moduleBytes(), {});
      core ??= new Core(instance);
      return core;
    })();
    corePromise.catch(() => {
      corePromise = undefined;
    });
  }
  return corePromise;
}

/**
 * The core, synchronously. When it is not loaded yet this compiles it
 * synchronously, which works in Deno, Node and browser workers; where the
 * runtime refuses a synchronous compile (a browser's main thread), it throws
 * `WASM_UNAVAILABLE` telling the caller to `await loadCore()` first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coreSync, loadCore } from "./wasm.ts";
 * assert.ok(coreSync() === await loadCore());
 * ```
 */
export function coreSync(): Core {
  if (core !== undefined) return core;
  const wa = wasmApi();
  let instance: WebAssembly.Instance;
  try {
    instance = new wa.Instance(new wa.Module(moduleBytes()), {});
  } catch (cause) {
    throw new EnvelopeError(
      "WASM_UNAVAILABLE",
      "Loading the crypto core synchronously failed: this runtime only compiles it asynchronously",
      {
        hint: "await ready() (or loadCore()) once before using the synchronous functions",
        cause,
      },
    );
  }
  core = new Core(instance);
  return core;
}

/**
 * True once the core is loaded (by {@linkcode loadCore} or {@linkcode coreSync}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coreLoaded, loadCore } from "./wasm.ts";
 * await loadCore();
 * assert.ok(coreLoaded());
 * ```
 */
export function coreLoaded(): boolean {
  return core !== undefined;
}

/**
 * Throws a `TypeError` naming `what` unless `value` is a `Uint8Array`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireBytes } from "./wasm.ts";
 * requireBytes(new Uint8Array(1), "The key");
 * try {
 *   requireBytes("text", "The key");
 *   throw new Error("unreachable");
 * } catch (err) {
 *   assert.ok(err instanceof TypeError);
 * }
 * ```
 */
export function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array`);
  }
}
