/**
 * `RawDataKey`: a plaintext data key supplied by the caller, for browsers and
 * enclaves that fetched it beforehand from a backend (which called the KMS).
 *
 * @module
 */
import { hkdfSha256, ready } from "../crypto/hash.ts";
import { decodeBase64, decodeBase64Url, encodeHex } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { LABEL } from "../format/limits.ts";
import type { KeyProvider, WrappedKey } from "./provider.ts";

const enc = new TextEncoder();

/**
 * A caller-supplied 32-byte data key. On decrypt it is offered for every
 * wrapped key; the header's commitment proves whether it is the right one.
 * On encrypt it becomes the message's data key and is recorded as a `raw`
 * entry with no wrapped bytes.
 *
 * @example Decrypting with a data key fetched from a backend
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, RawDataKey } from "../../mod.ts";
 * const dataKey = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { keys: await RawDataKey.create(dataKey) });
 * const opened = await decrypt(sealed, { keys: await RawDataKey.create(dataKey) });
 * assert.ok(new TextDecoder().decode(opened) === "hi");
 * ```
 */
export class RawDataKey implements KeyProvider {
  /** Always `raw`. */
  readonly provider = "raw";
  /** 16 hex digits derived from the data key (not secret). */
  readonly keyId: string;
  #key: Uint8Array;
  /** Set by dispose(): the key is zeros, so handing it out is refused. */
  #disposed = false;

  private constructor(key: Uint8Array, keyId: string) {
    this.#key = key;
    this.keyId = keyId;
  }

  /** From 32 bytes, or their base64 / base64url text. */
  static async create(key: Uint8Array | string): Promise<RawDataKey> {
    let bytes: Uint8Array;
    if (typeof key === "string") {
      const t = key.trim();
      try {
        bytes = /[-_]/.test(t) ? decodeBase64Url(t) : decodeBase64(t, "optional");
      } catch {
        throw new EnvelopeError("INVALID_KEY", "Loading the data key failed: it is not valid base64", {
          hint: "pass the 32-byte data key as base64 (standard or URL-safe)",
        });
      }
    } else if (key instanceof Uint8Array) {
      // A copy even of a Node Buffer, whose slice() is a view: the key is wiped after each message.
      bytes = new Uint8Array(key);
    } else {
      throw new TypeError("RawDataKey.create() takes a Uint8Array or a base64 string");
    }
    if (bytes.length !== 32) {
      bytes.fill(0);
      throw new EnvelopeError("INVALID_KEY", `Loading the data key failed: it is ${bytes.length} bytes, not 32`, {
        hint: "pass the 32-byte plaintext data key the KMS returned",
      });
    }
    await ready();
    return new RawDataKey(bytes, encodeHex(hkdfSha256(bytes, new Uint8Array(0), enc.encode(LABEL.rawKeyId), 8)));
  }

  /** The data key becomes the message's key: no KMS call. */
  generateDataKey(): Promise<{ dataKey: Uint8Array; wrapped: WrappedKey }> {
    if (this.#disposed) return Promise.reject(this.#disposedError());
    return Promise.resolve({
      dataKey: this.#key.slice(),
      wrapped: { provider: this.provider, keyId: this.keyId, wrapped: new Uint8Array(0) },
    });
  }

  /** A raw key cannot wrap another key. */
  wrap(): Promise<WrappedKey> {
    return Promise.reject(
      new EnvelopeError(
        "INVALID_ARGUMENT",
        "Wrapping with a raw data key failed: a raw key can only be the message's own data key",
        {
          hint: "list the raw data key first, or use a LocalKey or a KMS key to wrap",
        },
      ),
    );
  }

  /** Offers the key for any wrapped key; the commitment check decides. */
  unwrap(): Promise<Uint8Array | null> {
    if (this.#disposed) return Promise.reject(this.#disposedError());
    return Promise.resolve(this.#key.slice());
  }

  #disposedError(): EnvelopeError {
    return new EnvelopeError("INVALID_KEY", `Using the raw data key ${this.keyId} failed: the key was disposed`, {
      hint: "create it again (RawDataKey.create) instead of using it after dispose()",
    });
  }

  /** Zeroes the key; using it afterwards is refused. */
  dispose(): void {
    this.#disposed = true;
    this.#key.fill(0);
  }
}
