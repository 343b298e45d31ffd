/**
 * The library index: the platform-neutral API (encrypt and decrypt, their
 * streams, inspect, random access, rewrap, the data-key cache, the local and
 * raw key providers, errors and the shared types), with no CLI, file system
 * or cloud SDK. `mod.ts` re-exports it (adding key release for backends) and
 * so does `browser.ts`, the `./browser` entry.
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
export { ARMOR_BEGIN, ARMOR_END, armorStream, dearmorStream } from "./encoding/armor.ts";
