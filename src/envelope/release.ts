/**
 * Releasing a message's data key on the server side: unwrap it through the
 * configured key providers and hand back the plaintext data key, after the
 * same checks a decoder makes (docs/FORMAT.md §8 steps 5 to 7), so that a
 * browser or an enclave holding only that key can decrypt.
 *
 * @module
 */
import { constantTimeEqual } from "../crypto/hash.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { type Header, parseHeader } from "../format/header.ts";
import type { EncryptionContext, KeyProvider } from "../keys/provider.ts";
import { type HeaderSource, readHeaderBytes } from "./inspect.ts";
import { computeHeaderTag, openDataKey, providerList, wipe } from "./data_key.ts";
import { checkBeforeUnwrap } from "./message.ts";
import { requireOptions } from "./_args.ts";

/** Options for {@linkcode unwrapDataKey}. */
export interface UnwrapDataKeyOptions {
  /** Providers to unwrap with (a KMS key, a local key); each is tried against each wrapped key. */
  readonly keys: KeyProvider | readonly KeyProvider[];
  /** When given, the stored context must equal this exactly (CONTEXT_MISMATCH otherwise), checked before any KMS call. */
  readonly context?: EncryptionContext;
  /** Refuse a message that is not signed (SIGNATURE_REQUIRED), before any KMS call. */
  readonly requireSigned?: boolean;
  /** Wrapped keys that may reach a provider before giving up with KEY_LIMIT (default 8). */
  readonly maxAttempts?: number;
}

/** A released data key and what opened it. */
export interface ReleasedDataKey {
  /** The message's 32-byte data key. Secret: hand it over an authenticated channel and wipe it after use. */
  readonly dataKey: Uint8Array;
  /** The provider of the wrapped key that opened (`aws-kms`, `local`, ...). */
  readonly provider: string;
  /** The key id of the wrapped key that opened (for a KMS, the key ARN). */
  readonly keyId: string;
  /**
   * For a signed message (suite 2), the verification key from its
   * authenticated context, as base64 (88 characters); `undefined` for suite 1.
   * A reader that holds only the data key passes it to `decrypt` as
   * `verificationKey`, so that only a message signed by this sender opens
   * (docs/FORMAT.md §10).
   */
  readonly verificationKey?: string;
}

/**
 * Unwraps a message's data key from its header and returns it, for a
 * backend that releases keys to browsers or enclaves. `header` is the
 * header's bytes (the start of the message; more bytes may follow) or a
 * `Blob` or stream to read it from.
 *
 * Before it returns anything it checks what a decoder checks: the required
 * context and signature before any provider is called, then the key
 * commitment of the unwrapped key and the header tag under it. So a forged
 * header (another salt, commitment or context around a real wrapped key)
 * makes it throw (KEY_COMMITMENT_MISMATCH, HEADER_AUTH_FAILED, or the KMS
 * refusing the context) and no key leaves this function; only a header the
 * data key itself authenticates gets it. A KMS call is still made for such a
 * header: the commitment can only be checked with the key it commits to.
 *
 * @example Releasing the data key of a message to a page
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey, RawDataKey, unwrapDataKey } from "../../mod.ts";
 * const kek = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("for the page"), { keys: kek, sign: true });
 * // The backend: unwrap, check, release.
 * const { dataKey, provider, verificationKey } = await unwrapDataKey(sealed.subarray(0, 4096), { keys: kek });
 * assert.ok(provider === "local" && dataKey.length === 32);
 * // The page: decrypt with the data key alone, requiring the sender's verification key.
 * const opened = await decrypt(sealed, { keys: await RawDataKey.create(dataKey), verificationKey });
 * assert.equal(new TextDecoder().decode(opened), "for the page");
 * ```
 */
export async function unwrapDataKey(
  header: Uint8Array | HeaderSource,
  options: UnwrapDataKeyOptions,
): Promise<ReleasedDataKey> {
  requireOptions(options, "unwrapDataKey()");
  const parsed = parseHeader(await readHeaderBytes(header, "unwrapDataKey()"));
  return await releaseFromHeader(parsed, options);
}

/** {@linkcode unwrapDataKey} for a header already parsed (the key-release handler's path). */
export async function releaseFromHeader(header: Header, options: UnwrapDataKeyOptions): Promise<ReleasedDataKey> {
  const providers = providerList(options.keys, "Unwrapping the data key");
  const publicKey = checkBeforeUnwrap(header, options, "Unwrapping the data key");
  const opened = await openDataKey(header, providers, { maxAttempts: options.maxAttempts });
  try {
    if (!constantTimeEqual(computeHeaderTag(opened.keys.headerKey, header.core), header.headerTag)) {
      opened.dataKey.fill(0);
      throw new EnvelopeError("HEADER_AUTH_FAILED", "Unwrapping the data key failed: the header was modified", {
        hint: "the data key is not released for a header it does not authenticate; get the file from a trusted copy",
      });
    }
  } finally {
    wipe(opened.keys);
  }
  // A raw key is offered for any entry: then the caller's own key opened it.
  const by = opened.provider.provider === "raw" ? opened.provider : opened.used;
  return {
    dataKey: opened.dataKey,
    provider: by.provider,
    keyId: by.keyId,
    ...(publicKey ? { verificationKey: encodeBase64(publicKey) } : {}),
  };
}
