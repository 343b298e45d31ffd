/**
 * Typed errors with stable codes.
 *
 * Every failure the library or the CLI reports is an {@linkcode EnvelopeError}
 * whose `code` is one of {@linkcode ErrorCode}. Codes are part of the public
 * contract: they never change meaning once released. Messages are sentence
 * case, name the failed action, say what to do next, and never contain key
 * material.
 *
 * The one rule for a bad argument (the rest of `src/` follows it):
 *
 * - `TypeError`: a value of the wrong JavaScript type reached a public
 *   function (a string where bytes belong, a non-object context). The
 *   caller's code is wrong; it is thrown before anything is read or written.
 * - `RangeError`: a number or length out of its domain where the value can
 *   only come from the caller's code or the library itself (an options field
 *   such as `maxAttempts` or a cache bound, a test-only fixed salt, the
 *   32-byte salt and commitment the header encoder is handed).
 * - `EnvelopeError` with `INVALID_ARGUMENT`: the type is right but the value
 *   can come from configuration, a file or the command line (an IV, a key
 *   id, a region, a time), or the object is in the wrong state (a disposed
 *   key). Callers branch on codes for these, as for any other failure.
 *
 * So a wrong IV length is `INVALID_ARGUMENT` (IVs are read from vector files
 * and foreign formats), while a wrong salt length handed to the header
 * encoder is a `RangeError` (the library makes salts itself).
 *
 * @module
 */

/**
 * Stable error codes: the values of {@linkcode EnvelopeError.code}.
 *
 * @example Branching on a code
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, ErrorCode, isEnvelopeError, LocalKey } from "../mod.ts";
 * const err = await decrypt(new Uint8Array(8), { keys: await LocalKey.generate() }).catch((e) => e);
 * assert.ok(isEnvelopeError(err));
 * assert.ok(Object.values(ErrorCode).includes(err.code));
 * ```
 */
export const ErrorCode = {
  /** An argument had the wrong type or shape (a programming error). */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** A key had the wrong length or encoding. */
  INVALID_KEY: "INVALID_KEY",
  /** The input is not in any format this tool reads. */
  FORMAT_UNKNOWN: "FORMAT_UNKNOWN",
  /** The envelope header is malformed. */
  HEADER_INVALID: "HEADER_INVALID",
  /** A config file (`.envelope.json`, `~/.config/envelope/config.json`) is malformed. */
  CONFIG_INVALID: "CONFIG_INVALID",
  /** A text-armored message breaks the armor's rules (docs/FORMAT.md §11). */
  ARMOR_INVALID: "ARMOR_INVALID",
  /** The envelope version or algorithm suite is not supported. */
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  /** A length field is over its documented limit. */
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  /**
   * The header was modified: its authentication tag did not verify under the
   * data key, or a key that a wrapped-key entry names refused that entry (the
   * entry, or the context bound into it, changed).
   */
  HEADER_AUTH_FAILED: "HEADER_AUTH_FAILED",
  /** A wrapped key opened to a data key that does not match the header's commitment. */
  KEY_COMMITMENT_MISMATCH: "KEY_COMMITMENT_MISMATCH",
  /** None of the supplied keys could unwrap any wrapped data key. */
  NO_KEY_MATCHED: "NO_KEY_MATCHED",
  /** A payload chunk (or a whole AES-GCM message) failed authentication. */
  PAYLOAD_AUTH_FAILED: "PAYLOAD_AUTH_FAILED",
  /** The input ended before the final chunk. */
  TRUNCATED: "TRUNCATED",
  /** Bytes follow the final chunk. */
  TRAILING_DATA: "TRAILING_DATA",
  /** The stored encryption context differs from the one the caller requires. */
  CONTEXT_MISMATCH: "CONTEXT_MISMATCH",
  /** A Fernet token is malformed or failed its HMAC. */
  TOKEN_INVALID: "TOKEN_INVALID",
  /** A Fernet token is older than the allowed TTL or from the future. */
  TOKEN_EXPIRED: "TOKEN_EXPIRED",
  /** A KMS call failed for a reason not covered below. */
  KMS_FAILED: "KMS_FAILED",
  /** The KMS refused the call: missing permission or bad credentials. */
  KMS_ACCESS_DENIED: "KMS_ACCESS_DENIED",
  /** The KMS does not know the key. */
  KMS_KEY_NOT_FOUND: "KMS_KEY_NOT_FOUND",
  /** The KMS throttled the call and retries ran out. */
  KMS_THROTTLED: "KMS_THROTTLED",
  /** A KMS call did not answer in time. */
  KMS_TIMEOUT: "KMS_TIMEOUT",
  /** A compatibility-format file (Nitro or Alibaba sample) is malformed. */
  COMPAT_INVALID: "COMPAT_INVALID",
  /** A zip archive is malformed, or an entry would escape the target folder. */
  ARCHIVE_INVALID: "ARCHIVE_INVALID",
  /** An archive entry's path is absolute, contains `..`, or is a link out of the target. */
  UNSAFE_PATH: "UNSAFE_PATH",
  /** Extraction would exceed the expanded-size bound. */
  ARCHIVE_TOO_LARGE: "ARCHIVE_TOO_LARGE",
  /** The output already exists and `--force` was not given. */
  OUTPUT_EXISTS: "OUTPUT_EXISTS",
  /**
   * A file rewritten in place (`rewrap`) is no longer the file that was read:
   * it was replaced, moved or written meanwhile, and nothing was replaced.
   */
  INPUT_CHANGED: "INPUT_CHANGED",
  /** A file could not be read or written. */
  IO_FAILED: "IO_FAILED",
  /** The command line was not understood. */
  USAGE: "USAGE",
  /** `WebAssembly` is not available in this runtime. */
  WASM_UNAVAILABLE: "WASM_UNAVAILABLE",
  /** A signed message's signature is missing or did not verify under its verification key. */
  SIGNATURE_INVALID: "SIGNATURE_INVALID",
  /** The caller requires a signed message and this one is not signed. */
  SIGNATURE_REQUIRED: "SIGNATURE_REQUIRED",
  /** A rewrap could not prove that the new wrapped key opens to the message's data key. */
  REWRAP_UNVERIFIED: "REWRAP_UNVERIFIED",
  /** More wrapped keys would have to be tried than the configured cap allows. */
  KEY_LIMIT: "KEY_LIMIT",
  /** The file system has no space left for the output. */
  NO_SPACE: "NO_SPACE",
  /** The output's file system is mounted read-only. */
  READ_ONLY: "READ_ONLY",
  /** The output path is not something envelope may write (a link it will not follow, a folder). */
  OUTPUT_UNSAFE: "OUTPUT_UNSAFE",
  /** A network connection was reset by the peer. */
  CONNECTION_RESET: "CONNECTION_RESET",
  /** An input is larger than the configured limit (`--max-size`). */
  INPUT_TOO_LARGE: "INPUT_TOO_LARGE",
  /** A requested plaintext byte range starts at or past the end of the message (`cat --range`). */
  RANGE_NOT_SATISFIABLE: "RANGE_NOT_SATISFIABLE",
  /** A key server refused to release a data key: the caller is not authorized for it. */
  RELEASE_REFUSED: "RELEASE_REFUSED",
  /** A key server refused a caller that asked for more data keys than its rate limit allows. */
  RATE_LIMITED: "RATE_LIMITED",
  /** A request's body stopped arriving before it was complete (a key server waits only so long). */
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  /** A worker thread sealing or opening chunks stopped before it answered. */
  WORKER_FAILED: "WORKER_FAILED",
} as const;

/** One of the stable error codes. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * The one error type this library throws for expected failures.
 *
 * @example Telling an authentication failure from other errors
 * ```ts
 * import assert from "node:assert/strict";
 * import { EnvelopeError } from "./errors.ts";
 * const err = new EnvelopeError("PAYLOAD_AUTH_FAILED", "Decrypting chunk 3 failed: the data was modified or the key is wrong");
 * assert.ok(err.code === "PAYLOAD_AUTH_FAILED");
 * assert.ok(err instanceof Error);
 * ```
 */
export class EnvelopeError extends Error {
  /** The stable code; match on this, not on the message. */
  readonly code: ErrorCode;
  /** What the user can do next, when there is something to say. */
  readonly hint?: string;

  /**
   * An error with a stable code.
   *
   * @param code the stable code
   * @param message sentence case, no trailing period, naming the failed action
   * @param options `hint` for the next step, `cause` for the underlying error
   */
  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EnvelopeError";
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * True when `err` is an {@linkcode EnvelopeError}, optionally with the given code.
 *
 * @example Telling a wrong key from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, isEnvelopeError, LocalKey } from "../mod.ts";
 * const sealed = await encrypt(new Uint8Array([1, 2, 3]), { keys: await LocalKey.generate() });
 * const err = await decrypt(sealed, { keys: await LocalKey.generate() }).catch((e) => e);
 * assert.ok(isEnvelopeError(err, "NO_KEY_MATCHED"));
 * assert.ok(!isEnvelopeError(new Error("other")));
 * ```
 */
export function isEnvelopeError(err: unknown, code?: ErrorCode): err is EnvelopeError {
  return err instanceof EnvelopeError && (code === undefined || err.code === code);
}
