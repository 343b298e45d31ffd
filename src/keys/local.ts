/**
 * `LocalKey`: a 256-bit key-encryption key held by the caller (normally in a
 * local key file), the zero-setup default (docs/FORMAT.md §6).
 *
 * @module
 */
import { gcmOpenOnce, gcmSealOnce } from "../crypto/aes_gcm.ts";
import { hkdfSha256, hkdfSha256Into, ready } from "../crypto/hash.ts";
import { fillRandom, randomBytes } from "../crypto/random.ts";
import { decodeBase64Url, encodeBase64Url, encodeHex } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { planContext, writeContext } from "../format/context.ts";
import { LABEL } from "../format/limits.ts";
import type { EncryptionContext, KeyProvider, WrappedKey } from "./provider.ts";

const enc = new TextEncoder();
const PREFIX = "ENVELOPE-LOCAL-KEY-V1:";
/** The first byte of a version-2 wrap, and the lengths of both versions (docs/FORMAT.md §6). */
const WRAP_V2 = 0x02;
const WRAPPED_V2_BYTES = 1 + 32 + 32 + 16;
const WRAPPED_V1_BYTES = 12 + 32 + 16;
/** Version 2 derives a key per wrap, so its nonce can be fixed. */
const ZERO_NONCE = new Uint8Array(12);
/** The labels as bytes, encoded once (each is both an HKDF info and the start of a wrap's AAD). */
const WRAP_V1_LABEL = enc.encode(LABEL.localWrap);
const WRAP_V2_LABEL = enc.encode(LABEL.localWrapV2);

/**
 * A local key-encryption key.
 *
 * @example Wrapping with a generated local key
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const text = key.toText(); // store this in a file with mode 0600
 * const again = await LocalKey.fromText(text);
 * assert.ok(again.keyId === key.keyId);
 * const sealed = await encrypt(new Uint8Array([7]), { keys: key });
 * assert.ok((await decrypt(sealed, { keys: again }))[0] === 7);
 * ```
 */
export class LocalKey implements KeyProvider {
  /** Always `local`. */
  readonly provider = "local";
  /** 16 hex digits derived from the key (not secret). */
  readonly keyId: string;
  /** The version-1 wrap key (docs/FORMAT.md §6), kept to read wraps made before 2026-12. */
  #wrapKeyV1: Uint8Array;
  #kek: Uint8Array;
  /** The version-2 key of one wrap or unwrap: derived, used and wiped within one synchronous call. */
  #wrapKey = new Uint8Array(32);
  /** Room for the AAD of one wrap or unwrap (a label and the encoded context; not secret), grown when needed. */
  #aadRoom = new Uint8Array(128);
  /** Set by dispose(): the key material is zeros, so wrapping or unwrapping with it is refused. */
  #disposed = false;

  private constructor(kek: Uint8Array, keyId: string, wrapKeyV1: Uint8Array) {
    this.#kek = kek;
    this.keyId = keyId;
    this.#wrapKeyV1 = wrapKeyV1;
  }

  /** Makes a provider from the 32-byte key-encryption key (copied). */
  static async fromBytes(kek: Uint8Array): Promise<LocalKey> {
    if (!(kek instanceof Uint8Array)) throw new TypeError("LocalKey.fromBytes() takes a Uint8Array");
    if (kek.length !== 32) {
      throw new EnvelopeError("INVALID_KEY", `Loading the local key failed: it is ${kek.length} bytes, not 32`, {
        hint: "create a new key file with `envelope keygen`",
      });
    }
    await ready();
    // A copy even of a Node Buffer, whose slice() is a view: a caller wiping its buffer must not change this key.
    const copy = new Uint8Array(kek);
    const id = encodeHex(hkdfSha256(copy, new Uint8Array(0), enc.encode(LABEL.localKeyId), 8));
    return new LocalKey(copy, id, hkdfSha256(copy, new Uint8Array(0), WRAP_V1_LABEL, 32));
  }

  /** Parses the key file text `ENVELOPE-LOCAL-KEY-V1:<base64url>`. */
  static async fromText(text: string): Promise<LocalKey> {
    if (typeof text !== "string") throw new TypeError("LocalKey.fromText() takes the key file's text as a string");
    const line = text.trim();
    if (!line.startsWith(PREFIX)) {
      throw new EnvelopeError(
        "INVALID_KEY",
        "Loading the local key failed: the file does not start with ENVELOPE-LOCAL-KEY-V1:",
        {
          hint: "pass a key file made by `envelope keygen`",
        },
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64Url(line.slice(PREFIX.length), "forbidden");
    } catch {
      throw new EnvelopeError("INVALID_KEY", "Loading the local key failed: the key text is not valid base64url", {
        hint: "the key file is damaged; restore it from your backup",
      });
    }
    try {
      return await LocalKey.fromBytes(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A new random key. */
  static async generate(): Promise<LocalKey> {
    const k = randomBytes(32);
    try {
      return await LocalKey.fromBytes(k);
    } finally {
      k.fill(0);
    }
  }

  /** The key file text (secret: store with mode 0600). */
  toText(): string {
    return `${PREFIX}${encodeBase64Url(this.#kek, false)}\n`;
  }

  /**
   * Wraps `dataKey` (version 2): AES-256-GCM under a key derived for this wrap
   * alone from a fresh 32-byte salt, bound to the context.
   */
  wrap(dataKey: Uint8Array, context: EncryptionContext): Promise<WrappedKey> {
    // The work is synchronous; its value or exception comes back as a settled promise (never a synchronous throw).
    try {
      return Promise.resolve(this.#wrapNow(dataKey, context));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #wrapNow(dataKey: Uint8Array, context: EncryptionContext): WrappedKey {
    this.#checkNotDisposed("Wrapping");
    // version || salt || sealed data key (+ 16-byte tag), written in place: 81 bytes for a 32-byte data key.
    const wrapped = new Uint8Array(1 + 32 + dataKey.length + 16);
    wrapped[0] = WRAP_V2;
    const salt = fillRandom(wrapped.subarray(1, 33));
    const aad = this.#aad(WRAP_V2_LABEL, context);
    const key = this.#wrapKey;
    try {
      hkdfSha256Into(this.#kek, salt, WRAP_V2_LABEL, key);
      // fromBytes awaited the core, so this runs without a promise; the key is used once, so no key object is made.
      gcmSealOnce(key, ZERO_NONCE, dataKey, aad, wrapped, 33);
      return { provider: this.provider, keyId: this.keyId, wrapped };
    } finally {
      key.fill(0);
    }
  }

  /**
   * The AAD of a wrap, `label || encoded context`, written into the room this
   * key keeps for it: a view valid until the next call, which every caller
   * uses within the same synchronous call.
   */
  #aad(label: Uint8Array, context: EncryptionContext): Uint8Array {
    const plan = planContext(context);
    const n = label.length + plan.size;
    if (this.#aadRoom.length < n) this.#aadRoom = new Uint8Array(n);
    const room = this.#aadRoom;
    room.set(label);
    writeContext(plan, room, label.length);
    return room.subarray(0, n);
  }

  /** Unwraps a `local` key with this key id; null for any other. */
  unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array | null> {
    try {
      return Promise.resolve(this.#unwrapNow(wrapped, context));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #unwrapNow(wrapped: WrappedKey, context: EncryptionContext): Uint8Array | null {
    if (wrapped.provider !== this.provider || wrapped.keyId !== this.keyId) return null;
    this.#checkNotDisposed("Unwrapping");
    const w = wrapped.wrapped;
    const v2 = w.length === WRAPPED_V2_BYTES && w[0] === WRAP_V2;
    if (!v2 && w.length !== WRAPPED_V1_BYTES) {
      throw new EnvelopeError(
        "HEADER_INVALID",
        w.length === WRAPPED_V2_BYTES
          ? `Unwrapping with local key ${this.keyId} failed: the wrapped key starts with ${
            w[0]
          }, not the version byte ${WRAP_V2}`
          : `Unwrapping with local key ${this.keyId} failed: the wrapped key is ${w.length} bytes, not 81 (or 60)`,
        { hint: "the file is damaged; restore it from a trusted copy" },
      );
    }
    // The AAD first (it reads the caller's context), then the key: nothing outside this key runs between the
    // derivation and the wipe.
    const aad = this.#aad(v2 ? WRAP_V2_LABEL : WRAP_V1_LABEL, context);
    let key: Uint8Array;
    if (v2) {
      key = this.#wrapKey;
      hkdfSha256Into(this.#kek, w.subarray(1, 33), WRAP_V2_LABEL, key);
    } else {
      key = this.#wrapKeyV1.slice();
    }
    try {
      return gcmOpenOnce(key, v2 ? ZERO_NONCE : w.subarray(0, 12), w.subarray(v2 ? 33 : 12), aad);
    } catch (e) {
      // Only a tag that does not verify means a modified header; anything else (the core unavailable) is itself.
      if (!(e instanceof EnvelopeError && e.code === "PAYLOAD_AUTH_FAILED")) throw e;
      throw new EnvelopeError(
        "HEADER_AUTH_FAILED",
        `Unwrapping with local key ${this.keyId} failed: the wrapped key or the encryption context in the header was modified`,
        {
          hint: "restore the file from a trusted copy",
        },
      );
    } finally {
      key.fill(0);
    }
  }

  #checkNotDisposed(doing: string): void {
    if (!this.#disposed) return;
    throw new EnvelopeError("INVALID_KEY", `${doing} with local key ${this.keyId} failed: the key was disposed`, {
      hint: "load the key again (LocalKey.fromText or fromBytes) instead of using it after dispose()",
    });
  }

  /** Zeroes the key material held by this object; wrapping or unwrapping with it afterwards is refused. */
  dispose(): void {
    this.#disposed = true;
    this.#kek.fill(0);
    this.#wrapKeyV1.fill(0);
    this.#wrapKey.fill(0);
  }
}
