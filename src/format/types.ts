/**
 * The vocabulary every layer shares: the encryption context and a wrapped
 * data key as a message header stores it. It lives at the bottom, in
 * `format/`, so the header codec owns the types it encodes and the key
 * providers (`keys/`, `kms/`) import them from here, never the reverse.
 *
 * @module
 */

/** The encryption context: a string map, authenticated with the data. */
export type EncryptionContext = Readonly<Record<string, string>>;

/** A data key wrapped by one provider, as stored in a message header. */
export interface WrappedKey {
  /** Provider name, e.g. `local`, `aws-kms`, `aliyun-kms`, `age`, `raw` (ASCII, at most 64 bytes). */
  readonly provider: string;
  /** The key id inside that provider (UTF-8, at most 2048 bytes). */
  readonly keyId: string;
  /** The provider's opaque wrapped form of the data key (at most 8192 bytes). */
  readonly wrapped: Uint8Array;
}
