/**
 * Small helpers over byte streams, shared by the CLI commands and the tests:
 * reading a whole stream under a size limit, and a stream of one chunk.
 *
 * @module
 */
import type { EnvelopeError } from "../errors.ts";
import { concat } from "../format/bytes.ts";

/** Reads a whole stream, refusing more than `limit` bytes with `onOver`. */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  onOver: (n: number) => EnvelopeError,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > limit) {
        await reader.cancel().catch(() => {});
        for (const p of parts) p.fill(0);
        throw onOver(n);
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return concat(parts);
}

/** A stream of one chunk. */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
