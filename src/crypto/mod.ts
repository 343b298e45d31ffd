/**
 * The crypto layer: AES-GCM and Fernet over the WASM core, hashing and key
 * derivation, the WebCrypto backend choice, and random bytes. Only this
 * folder touches the core or `crypto.subtle`; the rest of the project imports
 * from here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm, hkdfSha256, ready } from "./mod.ts";
 * await ready();
 * const key = hkdfSha256(new Uint8Array(32), new Uint8Array(16), new TextEncoder().encode("payload"), 32);
 * const gcm = await AesGcm.create(key);
 * const sealed = gcm.seal(new Uint8Array(12), new TextEncoder().encode("hi"));
 * assert.ok(sealed.length === 18);
 * gcm.dispose();
 * ```
 *
 * @module
 */
export { AesGcm } from "./aes_gcm.ts";
export { GcmOpener, GcmSealer } from "./aes_gcm_stream.ts";
export {
  Fernet,
  FERNET_WEBCRYPTO_THRESHOLDS,
  type FernetDecryptOptions,
  type FernetEncryptOptions,
  MAX_CLOCK_SKEW,
} from "./fernet.ts";
export { constantTimeEqual, HKDF_SHA256_MAX, hkdfSha256, hkdfSha256Each, hmacSha256, ready, sha256 } from "./hash.ts";
export {
  type Backend,
  chooseBackend,
  detectRuntime,
  type Runtime,
  setBackendOverride,
  WEBCRYPTO_THRESHOLDS,
} from "./backend.ts";
export { coreLoaded, loadCore } from "./wasm.ts";
export { randomBytes, type RandomSource } from "./random.ts";
