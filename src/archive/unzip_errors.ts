/**
 * The errors of zip extraction, one constructor per stable code, so every
 * module of the extractor words them the same way.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** `ARCHIVE_INVALID`: the archive is malformed (`detail` says how). */
export function invalid(detail: string): EnvelopeError {
  return new EnvelopeError("ARCHIVE_INVALID", `Reading the zip archive failed: ${detail}`, {
    hint: "the archive is damaged or not a zip file; create it again",
  });
}

/** `UNSAFE_PATH`: entry `name` must not be extracted (`why` says why). */
export function unsafe(
  name: string,
  why: string,
  hint = "the archive may be malicious; nothing was extracted",
): EnvelopeError {
  return new EnvelopeError("UNSAFE_PATH", `Extracting entry ${JSON.stringify(name)} failed: ${why}`, { hint });
}

/** `ARCHIVE_TOO_LARGE`: a bound on entries or bytes was crossed. */
export function tooLarge(detail: string, hint = "raise the limit only if you trust the archive"): EnvelopeError {
  return new EnvelopeError("ARCHIVE_TOO_LARGE", `Extracting the zip archive failed: ${detail}`, { hint });
}

/** `IO_FAILED` for `action`, unless `cause` is already an {@linkcode EnvelopeError}. */
export function ioError(action: string, cause: unknown): EnvelopeError {
  if (cause instanceof EnvelopeError) return cause;
  const detail = (cause as { code?: string })?.code ?? String(cause);
  return new EnvelopeError("IO_FAILED", `${action} failed: ${detail}`, {
    hint: "check the path, its permissions and the free space",
    cause,
  });
}

/** The `code` of a `node:fs` error, if any. */
export function errCode(err: unknown): string | undefined {
  return (err as { code?: string })?.code;
}
