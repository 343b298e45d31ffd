/**
 * The browser entry: the library without the CLI, the file system or any
 * cloud SDK. Decrypt (and encrypt) with a plaintext data key fetched
 * beforehand from a backend or an enclave ({@linkcode RawDataKey}), whole
 * files, `fetch()` streams in constant memory, or byte ranges over HTTP.
 * Works where `crypto.subtle` is missing (the WASM core alone).
 *
 * @example Decrypting a fetched file with a data key from the backend
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptStream, encrypt, RawDataKey } from "./browser.ts";
 * const dataKey = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await encrypt(new TextEncoder().encode("from the server"), { keys: await RawDataKey.create(dataKey) });
 * const response = new Response(sealed); // e.g. await fetch("/files/report.envl")
 * const text = await new Response(response.body!.pipeThrough(decryptStream({ keys: await RawDataKey.create(dataKey) }))).text();
 * assert.ok(text === "from the server");
 * ```
 *
 * @module
 */
export { EnvelopeError, ErrorCode, isEnvelopeError } from "./errors.ts";
export type { EncryptionContext, WrappedKey } from "./format/types.ts";
export type { GeneratedDataKey, KeyProvider } from "./keys/provider.ts";
export { LocalKey } from "./keys/local.ts";
export { RawDataKey } from "./keys/raw.ts";
export { loadAgeIdentities, loadAgeRecipients } from "./keys/age_lazy.ts";
export { encrypt, type EncryptOptions, encryptStream, type EncryptStreamOptions } from "./envelope/encrypt.ts";
export { decrypt, type DecryptOptions, decryptStream } from "./envelope/decrypt.ts";
export { type HeaderInfo, type HeaderSource, inspect } from "./envelope/inspect.ts";
export {
  blobSource,
  bytesSource,
  httpRangeSource,
  openRandomAccess,
  type RandomAccessReader,
  type RandomAccessSource,
} from "./envelope/random_access.ts";
export { type CacheStats, DataKeyCache, type DataKeyCacheOptions } from "./envelope/cache.ts";
export { rewrapHeader, type RewrapOptions, type RewrapResult } from "./envelope/rewrap.ts";
export type { DerivedKeys, NewDataKey, UnwrapLimits, UnwrappedKey } from "./envelope/data_key.ts";
export type { Header, HeaderCore } from "./format/header.ts";
export {
  AesGcm,
  type Backend,
  Fernet,
  type FernetDecryptOptions,
  type FernetEncryptOptions,
  GcmOpener,
  GcmSealer,
  type RandomSource,
} from "./crypto/mod.ts";
export { DEFAULT_CHUNK_SIZE } from "./format/limits.ts";
