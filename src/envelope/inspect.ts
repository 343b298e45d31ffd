/**
 * Reading a message's header without any key.
 *
 * @module
 */
import { type Header, parseHeader, tryParseHeader } from "../format/header.ts";
import { MAX_HEADER_BYTES, SUITE_SIGNED } from "../format/limits.ts";
import type { EncryptionContext } from "../keys/provider.ts";
import { typeName } from "./_args.ts";

/** What a header says, readable without a key. */
export interface HeaderInfo {
  /** Always `envelope`. */
  readonly format: "envelope";
  /** The format version (docs/FORMAT.md §3). */
  readonly version: number;
  /** The cipher suite id. */
  readonly suite: number;
  /** The cipher suite in words. */
  readonly suiteName: string;
  /** True for a signed message (suite 2); the signature is checked on decryption, not here. */
  readonly signed: boolean;
  /** Plaintext bytes per chunk. */
  readonly chunkSize: number;
  /** The stored encryption context (not authenticated until decryption). */
  readonly context: EncryptionContext;
  /** The wrapped data keys: provider, key id and the wrapped key's length in bytes. */
  readonly keys: readonly { readonly provider: string; readonly keyId: string; readonly wrappedBytes: number }[];
  /** The header's length in bytes; the payload starts here. */
  readonly headerLength: number;
}

/** Where a header can be read from. */
export type HeaderSource = Uint8Array | Blob | ReadableStream<Uint8Array>;

/**
 * Reads the header of an envelope message from bytes, a `Blob` or a stream,
 * reading no more than the header needs. The header is not authenticated
 * (that needs the data key): treat what it says as a claim.
 *
 * @example Listing the wrapped keys of a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, inspect, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new Uint8Array(10), { keys: key, context: { app: "demo" } });
 * const info = await inspect(sealed);
 * assert.ok(info.keys[0].provider === "local" && info.context.app === "demo");
 * ```
 */
export async function inspect(source: HeaderSource): Promise<HeaderInfo> {
  return describeHeader(parseHeader(await readHeaderBytes(source)));
}

/** What a parsed header says, as {@linkcode inspect} reports it. */
export function describeHeader(h: Header): HeaderInfo {
  return {
    format: "envelope",
    version: h.version,
    suite: h.suite,
    suiteName: h.suite === SUITE_SIGNED
      ? "AES-256-GCM chunks, HKDF-SHA256, HMAC-SHA256 commitment, ECDSA P-256 signature"
      : "AES-256-GCM chunks, HKDF-SHA256, HMAC-SHA256 commitment",
    signed: h.suite === SUITE_SIGNED,
    chunkSize: h.chunkSize,
    context: h.context,
    keys: h.keys.map((k) => ({ provider: k.provider, keyId: k.keyId, wrappedBytes: k.wrapped.length })),
    headerLength: h.length,
  };
}

/**
 * Reads just enough of `source` to hold the whole header (at most
 * MAX_HEADER_BYTES). `fn` names the public function in the TypeError for a
 * source of another type.
 */
export async function readHeaderBytes(source: HeaderSource, fn = "inspect()"): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    let n = 4096;
    for (;;) {
      const part = new Uint8Array(await source.slice(0, n).arrayBuffer());
      const r = tryParseHeader(part);
      if (typeof r !== "number" || part.length < n) return part;
      n = Math.min(MAX_HEADER_BYTES, Math.max(r, n * 2));
    }
  }
  if (source instanceof ReadableStream) {
    // Parse again only once the bytes the last attempt needed have arrived: linear in the header size.
    const reader = source.getReader();
    let buf = new Uint8Array(4096);
    let len = 0;
    let need = 1;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return buf.subarray(0, len);
        if (len + value.length > buf.length) {
          const next = new Uint8Array(Math.max(buf.length * 2, len + value.length));
          next.set(buf.subarray(0, len));
          buf = next;
        }
        buf.set(value, len);
        len += value.length;
        if (len < need) continue;
        const r = tryParseHeader(buf.subarray(0, len));
        if (typeof r !== "number") return buf.subarray(0, len);
        need = r;
        if (need > MAX_HEADER_BYTES) return buf.subarray(0, len);
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  throw new TypeError(`${fn} takes a Uint8Array, a Blob or a ReadableStream, not ${typeName(source)}`);
}
