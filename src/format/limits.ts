/**
 * The format's constants and limits (docs/FORMAT.md §3.1).
 *
 * @module
 */

/** `\x89ENV\r\n\x1a\n`: the first 8 bytes of every envelope message. */
export const MAGIC: Uint8Array = new Uint8Array([
  0x89,
  0x45,
  0x4e,
  0x56,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);
/** The only format version this code writes and reads. */
export const VERSION = 1;
/** Suite 1: AES-256-GCM chunks, HKDF-SHA256, HMAC-SHA256 header tag and commitment. */
export const SUITE = 1;
/** Suite 2: suite 1 plus an ECDSA P-256 signature after the final chunk (docs/FORMAT.md §5.1). */
export const SUITE_SIGNED = 2;
/** The signature's length in suite 2: P-256 r || s. */
export const SIGNATURE_BYTES = 64;
/** Context keys with this prefix are the format's own (docs/FORMAT.md §3.2). */
export const RESERVED_CONTEXT_PREFIX = "envelope:";
/** The context key that holds a suite-2 message's verification key. */
export const VERIFICATION_KEY = "envelope:verification-key";

export const SALT_BYTES = 32;
export const COMMITMENT_BYTES = 32;
export const HEADER_TAG_BYTES = 32;
export const DATA_KEY_BYTES = 32;
export const TAG_BYTES = 16;

export const MIN_CHUNK_SIZE = 64;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/**
 * The default plaintext bytes per chunk (docs/FORMAT.md §5).
 *
 * @example The chunk size a message records
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CHUNK_SIZE, encrypt, inspect, LocalKey } from "../../mod.ts";
 * const sealed = await encrypt(new Uint8Array(1), { keys: await LocalKey.generate() });
 * assert.equal((await inspect(sealed)).chunkSize, DEFAULT_CHUNK_SIZE);
 * ```
 */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export const MAX_CONTEXT_PAIRS = 64;
export const MAX_CONTEXT_KEY_BYTES = 256;
export const MAX_CONTEXT_VALUE_BYTES = 4096;
export const MAX_CONTEXT_BYTES = 16384;

export const MAX_WRAPPED_KEYS = 32;
export const MAX_PROVIDER_BYTES = 64;
export const MAX_KEY_ID_BYTES = 2048;
export const MAX_WRAPPED_BYTES = 8192;

/** At most 2^32 chunks under one payload key: the AES bound, not the nonce space (docs/FORMAT.md §5). */
export const MAX_CHUNKS = 2 ** 32;

/** The largest header the limits allow. */
export const MAX_HEADER_BYTES = 8 + 1 + 1 + 4 + SALT_BYTES + MAX_CONTEXT_BYTES +
  COMMITMENT_BYTES +
  HEADER_TAG_BYTES + 1 +
  MAX_WRAPPED_KEYS *
    (1 + MAX_PROVIDER_BYTES + 2 + MAX_KEY_ID_BYTES + 2 + MAX_WRAPPED_BYTES);

/** HKDF labels, one per derived key (docs/FORMAT.md §4 and §6). */
export const LABEL = {
  commitment: "envelope v1 commitment",
  header: "envelope v1 header",
  payload: "envelope v1 payload",
  localKeyId: "envelope v1 local key id",
  localWrap: "envelope v1 local wrap",
  localWrapV2: "envelope v1 local wrap v2",
  signature: "envelope v1 signature",
  rawKeyId: "envelope v1 raw key id",
} as const;
