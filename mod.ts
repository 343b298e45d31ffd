/**
 * envelope: envelope encryption for files, directories and streams, with
 * data keys from AWS KMS, Alibaba Cloud KMS or a local key file, and an
 * AES-GCM/Fernet core in WebAssembly.
 *
 * - {@linkcode encrypt} / {@linkcode decrypt} for bytes;
 *   {@linkcode encryptStream} / {@linkcode decryptStream} for web streams in
 *   constant memory; {@linkcode inspect} reads a header without a key;
 *   {@linkcode openRandomAccess} decrypts byte ranges.
 * - Key providers: {@linkcode LocalKey}, {@linkcode RawDataKey} here;
 *   `AwsKms` from `@envelope/envelope/aws`, `AliyunKms` from
 *   `@envelope/envelope/aliyun` (cloud SDKs load only when imported).
 * - The format is specified in `docs/FORMAT.md`.
 *
 * Run as a CLI: `deno run -A mod.ts --help`.
 *
 * @example Encrypt and decrypt bytes with a local key
 * ```ts
 * import { decrypt, encrypt, LocalKey } from "./mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("secret"), { keys: key, context: { app: "docs" } });
 * const opened = await decrypt(sealed, { keys: key, context: { app: "docs" } });
 * console.assert(new TextDecoder().decode(opened) === "secret");
 * ```
 *
 * @module
 */
export { EnvelopeError, ErrorCode, isEnvelopeError } from "./src/errors.ts";
export type { EncryptionContext, GeneratedDataKey, KeyProvider, WrappedKey } from "./src/keys/provider.ts";
export { LocalKey } from "./src/keys/local.ts";
export { RawDataKey } from "./src/keys/raw.ts";
export { encrypt, type EncryptOptions, encryptStream, type EncryptStreamOptions } from "./src/envelope/encrypt.ts";
export { decrypt, type DecryptOptions, decryptStream } from "./src/envelope/decrypt.ts";
export { type HeaderInfo, type HeaderSource, inspect } from "./src/envelope/inspect.ts";
export {
  blobSource,
  bytesSource,
  httpRangeSource,
  openRandomAccess,
  type RandomAccessReader,
  type RandomAccessSource,
} from "./src/envelope/random_access.ts";
export { type CacheStats, DataKeyCache, type DataKeyCacheOptions } from "./src/envelope/cache.ts";
export { rewrapHeader, type RewrapOptions, type RewrapResult } from "./src/envelope/rewrap.ts";
export type { DerivedKeys, NewDataKey, UnwrappedKey } from "./src/envelope/keys.ts";
export type { Header, HeaderCore } from "./src/format/header.ts";
export {
  AesGcm,
  type Backend,
  Fernet,
  type FernetDecryptOptions,
  type FernetEncryptOptions,
  GcmOpener,
  GcmSealer,
  type RandomSource,
} from "./src/crypto/mod.ts";
export { DEFAULT_CHUNK_SIZE } from "./src/format/limits.ts";

if (import.meta.main) {
  const { main } = await import("./src/cli/main.ts");
  const code = await main((globalThis as unknown as { Deno: { args: string[] } }).Deno.args);
  (globalThis as unknown as { Deno: { exit(c: number): never } }).Deno.exit(code);
}
