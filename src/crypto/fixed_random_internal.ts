/**
 * Internal, for tests and vector generators only: the one way to fix the
 * randomness that Fernet's IV, a Nitro token's IV and an Alibaba-sample
 * nonce otherwise take from the CSPRNG.
 *
 * No public option can repeat a nonce (issue 15, M2): a caller who fixed an
 * IV and used it twice would break the cipher. The key is a plain (not
 * registered) symbol exported only from this module, which neither `mod.ts`
 * nor any other entry point re-exports, so only code that imports this file
 * by its path can reach it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixedRandom, withFixedRandom } from "./fixed_random_internal.ts";
 * const opts = withFixedRandom({ now: 0 }, new Uint8Array(16));
 * assert.ok(fixedRandom(opts)?.length === 16);
 * assert.ok(fixedRandom({ now: 0 }) === undefined);
 * ```
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** The options key that carries fixed random bytes. */
export const FIXED_RANDOM: unique symbol = Symbol("envelope.fixedRandom");

/** Options that may carry fixed random bytes (tests only). */
export interface FixedRandom {
  readonly [FIXED_RANDOM]?: Uint8Array;
}

/** `options` plus fixed random bytes to use instead of the CSPRNG's (tests and vectors only). */
export function withFixedRandom<T extends object>(options: T, bytes: Uint8Array): T & FixedRandom {
  return { ...options, [FIXED_RANDOM]: bytes };
}

/**
 * The fixed bytes in `options`, if any. A caller still passing a removed
 * public option (`iv`, `nonce`) gets `INVALID_ARGUMENT` rather than a
 * silently different result.
 */
export function fixedRandom(options: unknown, removed?: string, what = "Encrypting"): Uint8Array | undefined {
  if (options === null || typeof options !== "object") return undefined;
  if (removed !== undefined && (options as Record<string, unknown>)[removed] !== undefined) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `${what} failed: the ${removed} option was removed, because a repeated ${removed} breaks the cipher`,
      { hint: `drop the ${removed} option; a fresh one is drawn from the CSPRNG for every message` },
    );
  }
  const bytes = (options as FixedRandom)[FIXED_RANDOM];
  return bytes instanceof Uint8Array ? bytes : undefined;
}
