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
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey } from "./mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("secret"), { keys: key, context: { app: "docs" } });
 * const opened = await decrypt(sealed, { keys: key, context: { app: "docs" } });
 * assert.equal(new TextDecoder().decode(opened), "secret");
 * ```
 *
 * @module
 */
// The library is platform-neutral: the same API as the browser entry. The CLI,
// file-system helpers (./fs) and cloud providers (./aws, ./aliyun) load only
// when asked for.
export * from "./src/lib.ts";
// Key release, for backends (in mod.ts, not in the browser bundle: a page gets a key, it does not release one).
export { type ReleasedDataKey, unwrapDataKey, type UnwrapDataKeyOptions } from "./src/envelope/release.ts";
export {
  type Authorization,
  keyRelease,
  type KeyReleaseAnswer,
  type KeyReleaseEvent,
  type KeyReleaseOptions,
} from "./src/envelope/key_release.ts";
import { importLater } from "./src/import_later.ts";

// The CLI loads only when run (importLater: out of the start-up graph, so `deno run` of the library fetches nothing).
if (import.meta.main) {
  const { main } = await importLater<typeof import("./src/cli/main.ts")>(import.meta.url, "./src/cli/main.ts");
  const code = await main((globalThis as unknown as { Deno: { args: string[] } }).Deno.args);
  (globalThis as unknown as { Deno: { exit(c: number): never } }).Deno.exit(code);
}
