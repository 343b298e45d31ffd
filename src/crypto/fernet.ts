/**
 * Fernet tokens (github.com/fernet/spec), byte-compatible with Python's
 * `cryptography.fernet`: AES-128-CBC with PKCS#7 padding and HMAC-SHA256,
 * base64url text with `=` padding.
 *
 * Decoding is strict: the token must be base64url with its padding and
 * nothing else (no whitespace, no `+/`, no `%`). The HMAC is verified in
 * constant time before anything is decrypted. Every malformed, forged or
 * badly padded token is `TOKEN_INVALID`; with a TTL, an old token or one
 * stamped more than 60 seconds in the future (Python's `_MAX_CLOCK_SKEW`) is
 * `TOKEN_EXPIRED`. As in Python, the timestamp is not checked without a TTL.
 *
 * The synchronous methods pass the whole message through the core in one
 * call (the ABI has no incremental Fernet), so the core's memory grows to
 * about twice the message and does not shrink again; for large data prefer
 * `encryptAsync`/`decryptAsync`, which use WebCrypto where it exists.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { encodeBase64Url } from "../encoding/base64.ts";
import { randomBytes } from "./random.ts";
import { fixedRandom } from "./fixed_random_internal.ts";
import { type Backend, subtleOrUndefined } from "./backend.ts";
import { type Core, loadCore, requireBytes } from "./wasm.ts";
import {
  checkTime,
  decodeTokenText,
  HEADER,
  invalid,
  MAC,
  MIN_TOKEN,
  nowSeconds,
  parseKey,
  toBase64Url,
  tokenText,
} from "./fernet_token.ts";

export { decodeTokenText, MAX_CLOCK_SKEW } from "./fernet_token.ts";

/**
 * The async methods' size thresholds, in bytes of plaintext (encryption) or
 * of token text (decryption): from these sizes `encryptAsync` and
 * `decryptAsync` use WebCrypto's AES-CBC and HMAC (native, AES-NI); below
 * them one synchronous core call does everything, which beats two promise
 * round trips. Measured by `deno task bench` ("Fernet backend crossover");
 * see `docs/benchmarks.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FERNET_WEBCRYPTO_THRESHOLDS } from "./fernet.ts";
 * assert.ok(FERNET_WEBCRYPTO_THRESHOLDS.encrypt > 0 && FERNET_WEBCRYPTO_THRESHOLDS.decrypt > 0);
 * ```
 */
export const FERNET_WEBCRYPTO_THRESHOLDS: { readonly encrypt: number; readonly decrypt: number } = {
  encrypt: 8 * 1024,
  decrypt: 16 * 1024,
};

/**
 * Options for {@linkcode Fernet.encrypt}. The IV always comes from the
 * CSPRNG: there is no public option to fix it (a repeated IV breaks CBC's
 * confidentiality), and a leftover `iv` property is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FernetEncryptOptions } from "./fernet.ts";
 * const opts: FernetEncryptOptions = { now: new Date(0) };
 * assert.ok(opts.now instanceof Date);
 * ```
 */
export interface FernetEncryptOptions {
  /** The token's timestamp: a `Date` or milliseconds since the epoch (default: now). */
  now?: Date | number;
  /** For the async methods: force a backend (WebCrypto falls back to the core where missing). */
  backend?: Backend;
}

/**
 * Options for {@linkcode Fernet.decrypt}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FernetDecryptOptions } from "./fernet.ts";
 * const opts: FernetDecryptOptions = { ttl: 3600 };
 * assert.ok(opts.ttl === 3600);
 * ```
 */
export interface FernetDecryptOptions {
  /** Maximum age in seconds; without it the timestamp is not checked (as in Python). */
  ttl?: number;
  /** The current time: a `Date` or milliseconds since the epoch (default: now). */
  now?: Date | number;
  /** For the async methods: force a backend (WebCrypto falls back to the core where missing). */
  backend?: Backend;
}

/**
 * A Fernet key loaded into the WASM core.
 *
 * @example Encrypting and decrypting a token
 * ```ts
 * import assert from "node:assert/strict";
 * import { Fernet } from "./fernet.ts";
 * const f = await Fernet.create(Fernet.generateKey());
 * const token = f.encrypt("secret message");
 * assert.ok(new TextDecoder().decode(f.decrypt(token, { ttl: 60 })) === "secret message");
 * f.dispose();
 * ```
 */
export class Fernet {
  #core: Core;
  #key: number;
  #web: Promise<{ sign: CryptoKey; enc: CryptoKey }> | undefined;

  private constructor(core: Core, key: number) {
    this.#core = core;
    this.#key = key;
  }

  /**
   * Loads a key: 32 bytes, or their text in base64url or standard base64
   * (padding optional), as Python's `Fernet(key)` takes it.
   *
   * @example
   * ```ts
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=");
   * f.dispose();
   * ```
   */
  static async create(key: Uint8Array | string): Promise<Fernet> {
    const raw = parseKey(key);
    try {
      if (raw.length !== 32) {
        throw new EnvelopeError("INVALID_KEY", `Loading the Fernet key failed: it is ${raw.length} bytes, not 32`, {
          hint: "pass the 32-byte key as the text Fernet.generateKey() or Python's Fernet.generate_key() made",
        });
      }
      const core = await loadCore();
      return new Fernet(core, core.copyIn(raw));
    } finally {
      raw.fill(0);
    }
  }

  /**
   * A new random key as base64url text with padding, like Python's
   * `Fernet.generate_key()`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Fernet } from "./fernet.ts";
   * assert.ok(Fernet.generateKey().length === 44);
   * ```
   */
  static generateKey(): string {
    const raw = randomBytes(32);
    const text = encodeBase64Url(raw, true);
    raw.fill(0);
    return text;
  }

  #live(): number {
    if (this.#key === 0) {
      throw new EnvelopeError("INVALID_ARGUMENT", "Using the Fernet key failed: it was disposed", {
        hint: "create a new Fernet for further use",
      });
    }
    return this.#key;
  }

  /**
   * Encrypts `data` (bytes, or a string taken as UTF-8) into a token.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create(new Uint8Array(32));
   * const t = f.encrypt("hello", { now: new Date("1985-10-26T08:20:00Z") });
   * assert.ok(t.startsWith("gAAAAAAdwJ6w"));
   * assert.ok(new TextDecoder().decode(f.decrypt(t)) === "hello");
   * f.dispose();
   * ```
   */
  encrypt(data: Uint8Array | string, options: FernetEncryptOptions = {}): string {
    const key = this.#live();
    const { bytes, ts, iv, owned } = this.#prepare(data, options);
    const core = this.#core;
    const n = bytes.length;
    const outLen = n - (n % 16) + 16 + 57;
    const need = 16 + n + 16 + outLen;
    const fits = need <= core.scratchSize;
    const base = fits ? core.scratch() : core.alloc(need);
    try {
      const ivp = base;
      const src = base + 16;
      const out = src + ((n + 15) & ~15);
      const m = core.mem();
      m.set(iv, ivp);
      m.set(bytes, src);
      const len = core.exports.fernet_encrypt(key, Math.floor(ts / 2 ** 32), ts >>> 0, ivp, src, n, out);
      if (len !== outLen) {
        throw new EnvelopeError(
          "INVALID_ARGUMENT",
          `Encrypting the Fernet token failed: the crypto core refused it (code ${len})`,
        );
      }
      return toBase64Url(core.mem().subarray(out, out + len));
    } finally {
      if (owned) bytes.fill(0);
      if (fits) core.wipeRange(base, need);
      else core.free(base, need);
    }
  }

  #prepare(
    data: Uint8Array | string,
    options: FernetEncryptOptions,
  ): { bytes: Uint8Array; ts: number; iv: Uint8Array; owned: boolean } {
    let bytes: Uint8Array;
    let owned = false;
    if (typeof data === "string") {
      bytes = new TextEncoder().encode(data);
      owned = true;
    } else {
      requireBytes(data, "The data to encrypt");
      bytes = data;
    }
    const ts = nowSeconds(options.now, "Encrypting the Fernet token");
    if (ts >= 2 ** 53) {
      throw new EnvelopeError("INVALID_ARGUMENT", "Encrypting the Fernet token failed: the time is out of range");
    }
    let iv = fixedRandom(options, "iv", "Encrypting the Fernet token");
    if (iv === undefined) iv = randomBytes(16);
    else {
      requireBytes(iv, "The Fernet IV");
      if (iv.length !== 16) {
        throw new EnvelopeError(
          "INVALID_ARGUMENT",
          `Encrypting the Fernet token failed: the IV is ${iv.length} bytes, not 16`,
        );
      }
    }
    return { bytes, ts, iv, owned };
  }

  /**
   * Verifies and decrypts a token (text, or its ASCII bytes). Throws
   * `TOKEN_INVALID` for anything malformed or forged, `TOKEN_EXPIRED` when
   * `ttl` is given and the token is too old or stamped in the future.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=");
   * const token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
   * const pt = f.decrypt(token, { ttl: 60, now: new Date("1985-10-26T01:20:01-07:00") });
   * assert.ok(new TextDecoder().decode(pt) === "hello");
   * f.dispose();
   * ```
   */
  decrypt(token: string | Uint8Array, options: FernetDecryptOptions = {}): Uint8Array {
    const key = this.#live();
    const raw = decodeTokenText(tokenText(token));
    if (raw.length < MIN_TOKEN) throw invalid("the token is too short");
    if (raw[0] !== 0x80) throw invalid("the token's version is not 0x80");
    const core = this.#core;
    const n = raw.length;
    const need = n + 16 + n;
    const fits = need <= core.scratchSize;
    const base = fits ? core.scratch() : core.alloc(need);
    const tok = base;
    const out = base + ((n + 15) & ~15);
    let used = need;
    try {
      core.put(tok, raw);
      const len = core.exports.fernet_decrypt(key, tok, n, out);
      if (len === -1) throw invalid("the token is malformed");
      if (len === -2) throw invalid("its HMAC does not verify");
      if (len === -3) throw invalid("its padding is wrong");
      if (len < 0) throw invalid(`the crypto core refused it (code ${len})`);
      checkTime(raw, options);
      used = (out - base) + len;
      return core.take(out, len);
    } finally {
      if (fits) core.wipeRange(base, used);
      else core.free(base, need);
    }
  }

  async #webKeys(subtle: SubtleCrypto): Promise<{ sign: CryptoKey; enc: CryptoKey }> {
    if (this.#web === undefined) {
      const raw = this.#core.take(this.#key, 32);
      this.#web = (async () => {
        try {
          const [sign, enc] = await Promise.all([
            subtle.importKey("raw", raw.subarray(0, 16), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
            subtle.importKey("raw", raw.subarray(16, 32), "AES-CBC", false, ["encrypt", "decrypt"]),
          ]);
          return { sign, enc };
        } finally {
          raw.fill(0);
        }
      })();
    }
    return await this.#web;
  }

  /**
   * Like {@linkcode Fernet.encrypt}, using the platform's WebCrypto where
   * that is faster ({@linkcode FERNET_WEBCRYPTO_THRESHOLDS}). Same tokens.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create(new Uint8Array(32));
   * const t = await f.encryptAsync(new Uint8Array(1 << 20));
   * assert.ok((await f.decryptAsync(t)).length === 1 << 20);
   * f.dispose();
   * ```
   */
  async encryptAsync(data: Uint8Array | string, options: FernetEncryptOptions = {}): Promise<string> {
    this.#live();
    const size = typeof data === "string" ? data.length * 3 : data.length;
    const subtle = subtleOrUndefined();
    const forced = options.backend;
    if (
      subtle === undefined || forced === "wasm" ||
      (forced === undefined && size < FERNET_WEBCRYPTO_THRESHOLDS.encrypt)
    ) {
      return this.encrypt(data, options);
    }
    const { bytes, ts, iv, owned } = this.#prepare(data, options);
    try {
      const keys = await this.#webKeys(subtle);
      this.#live();
      const ct = new Uint8Array(
        await subtle.encrypt(
          { name: "AES-CBC", iv: iv as Uint8Array<ArrayBuffer> },
          keys.enc,
          bytes as Uint8Array<ArrayBuffer>,
        ),
      );
      const raw = new Uint8Array(HEADER + ct.length + MAC);
      raw[0] = 0x80;
      const view = new DataView(raw.buffer);
      view.setUint32(1, Math.floor(ts / 2 ** 32));
      view.setUint32(5, ts >>> 0);
      raw.set(iv, 9);
      raw.set(ct, HEADER);
      const body = raw.subarray(0, HEADER + ct.length);
      raw.set(new Uint8Array(await subtle.sign("HMAC", keys.sign, body)), HEADER + ct.length);
      return toBase64Url(raw);
    } finally {
      if (owned) bytes.fill(0);
    }
  }

  /**
   * Like {@linkcode Fernet.decrypt}; large tokens go to the platform's
   * WebCrypto where that is faster. The HMAC is verified before decrypting.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create(new Uint8Array(32));
   * const t = f.encrypt("hi");
   * assert.ok(new TextDecoder().decode(await f.decryptAsync(t)) === "hi");
   * f.dispose();
   * ```
   */
  async decryptAsync(token: string | Uint8Array, options: FernetDecryptOptions = {}): Promise<Uint8Array> {
    this.#live();
    const text = tokenText(token);
    const subtle = subtleOrUndefined();
    const useWeb = subtle !== undefined &&
      (options.backend === "webcrypto" ||
        (options.backend === undefined && text.length >= FERNET_WEBCRYPTO_THRESHOLDS.decrypt));
    if (!useWeb) return this.decrypt(text, options);
    const raw = decodeTokenText(text);
    if (raw.length < MIN_TOKEN) throw invalid("the token is too short");
    if (raw[0] !== 0x80) throw invalid("the token's version is not 0x80");
    const ctLen = raw.length - HEADER - MAC;
    if (ctLen % 16 !== 0) throw invalid("the token is malformed");
    const keys = await this.#webKeys(subtle);
    this.#live();
    const ok = await subtle.verify(
      "HMAC",
      keys.sign,
      raw.subarray(raw.length - MAC) as Uint8Array<ArrayBuffer>,
      raw.subarray(0, raw.length - MAC) as Uint8Array<ArrayBuffer>,
    );
    if (!ok) throw invalid("its HMAC does not verify");
    let pt: ArrayBuffer;
    try {
      pt = await subtle.decrypt(
        { name: "AES-CBC", iv: raw.subarray(9, HEADER) as Uint8Array<ArrayBuffer> },
        keys.enc,
        raw.subarray(HEADER, HEADER + ctLen) as Uint8Array<ArrayBuffer>,
      );
    } catch {
      throw invalid("its padding is wrong");
    }
    const out = new Uint8Array(pt);
    try {
      checkTime(raw, options);
    } catch (err) {
      out.fill(0);
      throw err;
    }
    return out;
  }

  /**
   * Wipes the key from the core's memory; every later call throws.
   *
   * @example
   * ```ts
   * import { Fernet } from "./fernet.ts";
   * const f = await Fernet.create(new Uint8Array(32));
   * f.dispose();
   * f.dispose(); // harmless
   * ```
   */
  dispose(): void {
    if (this.#key === 0) return;
    this.#core.free(this.#key, 32);
    this.#key = 0;
    this.#web = undefined;
  }
}
