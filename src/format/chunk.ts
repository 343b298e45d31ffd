/**
 * Chunk nonces and payload geometry (docs/FORMAT.md §5).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { MAX_CHUNKS, TAG_BYTES } from "./limits.ts";

/** `u88(index) || last-flag`: the 12-byte nonce of chunk `index`. */
export function chunkNonce(index: number, last: boolean): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError("The chunk index must be a safe non-negative integer");
  }
  const n = new Uint8Array(12);
  let v = index;
  for (let i = 10; i >= 0 && v > 0; i--) {
    n[i] = v % 256;
    v = Math.floor(v / 256);
  }
  n[11] = last ? 1 : 0;
  return n;
}

/** Where chunks lie in a payload of known length. */
export interface PayloadLayout {
  readonly chunks: number;
  readonly plaintextLength: number;
  readonly lastChunkPlaintext: number;
}

/** Computes the layout of a payload of `payloadLength` bytes; throws TRUNCATED where none can fit. */
export function payloadLayout(
  payloadLength: number,
  chunkSize: number,
): PayloadLayout {
  const full = chunkSize + TAG_BYTES;
  if (payloadLength < TAG_BYTES) {
    throw new EnvelopeError(
      "TRUNCATED",
      "Reading the payload failed: the input ends before the final chunk",
      {
        hint: "the file is incomplete; copy it again from its source",
      },
    );
  }
  const chunks = Math.ceil(payloadLength / full);
  if (chunks > MAX_CHUNKS) {
    throw new EnvelopeError("LIMIT_EXCEEDED", "Reading the payload failed: it holds more than 2^32 chunks", {
      hint: "the file is damaged or was not written by envelope",
    });
  }
  const last = payloadLength - (chunks - 1) * full;
  if (last < TAG_BYTES) {
    throw new EnvelopeError(
      "TRUNCATED",
      "Reading the payload failed: the final chunk is cut short",
      {
        hint: "the file is incomplete; copy it again from its source",
      },
    );
  }
  const lastChunkPlaintext = last - TAG_BYTES;
  return {
    chunks,
    lastChunkPlaintext,
    plaintextLength: (chunks - 1) * chunkSize + lastChunkPlaintext,
  };
}
