/**
 * The library's hints for a key that opens nothing (NO_KEY_MATCHED) or for
 * too many attempts (KEY_LIMIT) name no command-line flag: the library does
 * not know how its caller takes keys. The CLI adds the flags of the command
 * that ran, so `rewrap` says `-u` and `decrypt` says `-k`, `-i` or
 * `--data-key`.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** How each command that unwraps a data key takes the key, as its usage text names the flags. */
const UNWRAP_FLAGS: Readonly<Record<string, string>> = {
  decrypt: "-k KEY, -i IDENTITY-FILE or --data-key B64",
  cat: "-k KEY or --data-key B64",
  "data-key": "-k KEY",
  rewrap: "-u KEY or -i IDENTITY-FILE",
  convert: "-u KEY or --data-key B64",
  "serve-keys": "-k KEY",
};

/** Commands whose keys are bounded by `--max-attempts` (the trust flags). */
const MAX_ATTEMPTS = new Set(["decrypt", "cat", "data-key", "rewrap"]);

/**
 * `err` with the command's flags added to a library key hint; any other
 * error is returned as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EnvelopeError } from "../errors.ts";
 * import { withCommandFlags } from "./key_hints.ts";
 * const err = new EnvelopeError("NO_KEY_MATCHED", "Unwrapping the data key failed", {
 *   hint: "the file's wrapped keys are: local:ab12; pass a key that opens one of them",
 * });
 * assert.equal((withCommandFlags(err, "rewrap") as EnvelopeError).hint, "the file's wrapped keys are: local:ab12; pass a key that opens one of them with -u KEY or -i IDENTITY-FILE");
 * ```
 */
export function withCommandFlags(err: unknown, command: string | undefined): unknown {
  const flags = command === undefined ? undefined : UNWRAP_FLAGS[command];
  if (!(err instanceof EnvelopeError) || !err.hint || !flags) return err;
  let hint = err.hint;
  if (err.code === "NO_KEY_MATCHED" && hint.endsWith("pass a key that opens one of them")) {
    hint = `${hint} with ${flags}`;
  } else if (err.code === "KEY_LIMIT") {
    hint = hint.replace("pass the key that wrapped it", `pass the key that wrapped it with ${flags}`);
    if (MAX_ATTEMPTS.has(command!)) hint = hint.replace("(maxAttempts)", "(--max-attempts N)");
  }
  return hint === err.hint ? err : new EnvelopeError(err.code, err.message, { hint, cause: err });
}
