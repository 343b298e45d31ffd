/**
 * Large Nitro-enclave files for the flat-memory test and the Nitro
 * benchmark: written as a stream (sealNitroStream) from generated plaintext,
 * so making one takes no memory in proportion to its size.
 *
 * @module
 */
import { sealNitroStream } from "../../src/compat/nitro_stream.ts";

const PIECE = 1 << 20;

/** The plaintext byte at position `p`: cheap to make and to check. */
export const byteAt = (p: number): number => ((p >>> 16) * 31 + (p & 0xffff) * 7) & 0xff;

/** `size` bytes of {@linkcode byteAt} as a stream of 1 MiB pieces. */
export function patternStream(size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= size) return c.close();
      const n = Math.min(PIECE, size - at);
      const piece = new Uint8Array(n);
      for (let i = 0; i < n; i++) piece[i] = byteAt(at + i);
      at += n;
      c.enqueue(piece);
    },
  }, { highWaterMark: 0 });
}

/** Writes a Nitro file of `size` pattern bytes under `key` (32 bytes) to `path`. */
export async function writeNitroFile(path: string, size: number, key: Uint8Array): Promise<void> {
  const blob = new Uint8Array(184).fill(7);
  const file = await sealNitroStream(patternStream(size), key, blob);
  await file.pipeTo((await Deno.open(path, { write: true, create: true, truncate: true })).writable);
}

/** True when the file at `path` holds exactly `size` pattern bytes (read in pieces). */
export async function isPattern(path: string, size: number): Promise<boolean> {
  let at = 0;
  for await (const chunk of (await Deno.open(path)).readable) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== byteAt(at + i)) return false;
    at += chunk.length;
  }
  return at === size;
}
