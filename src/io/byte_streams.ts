/**
 * Small helpers over byte streams, shared by the CLI commands and the tests:
 * reading a whole stream under a size limit, a pass-through that fails past
 * a limit, and a stream of one chunk.
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

/** A bound on the bytes a stream may carry, and the error for going over it. */
export interface ReadLimit {
  readonly bytes: number;
  readonly error: (bytesRead: number) => EnvelopeError;
}

/** A pass-through stream that fails with the first limit's error once more bytes than it allows went by. */
export function limited(limits: readonly ReadLimit[]): TransformStream<Uint8Array, Uint8Array> {
  const sorted = [...limits].sort((a, b) => a.bytes - b.bytes);
  let n = 0;
  return new TransformStream({
    transform(chunk, controller) {
      n += chunk.length;
      const over = sorted.find((l) => n > l.bytes);
      if (over) throw over.error(n);
      controller.enqueue(chunk);
    },
  });
}
