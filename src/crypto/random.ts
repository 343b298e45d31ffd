/**
 * Random bytes from the platform CSPRNG (`crypto.getRandomValues`), which
 * Deno, Node 20+ and browsers all provide even where `crypto.subtle` is not
 * (insecure browser contexts). Deno fills at most 65,536 bytes per call, so
 * larger requests are filled in pieces.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** A source of random bytes; injectable so the encrypt direction can be tested with vectors. */
export type RandomSource = (length: number) => Uint8Array;

const MAX_PER_CALL = 65536;

/** Returns `length` bytes from the platform CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  return fillRandom(new Uint8Array(length));
}

/**
 * Fills `out` from the platform CSPRNG and returns it: random bytes written
 * where they are needed (a salt inside a header) instead of into an array of
 * their own and copied.
 */
export function fillRandom<T extends Uint8Array>(out: T): T {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== "function") {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Generating random bytes failed: this runtime has no crypto.getRandomValues",
      {
        hint: "use Deno, Node 20 or later, or a current browser",
      },
    );
  }
  const length = out.length;
  if (length <= MAX_PER_CALL) {
    c.getRandomValues(out);
    return out;
  }
  for (let off = 0; off < length; off += MAX_PER_CALL) {
    c.getRandomValues(out.subarray(off, Math.min(length, off + MAX_PER_CALL)));
  }
  return out;
}
