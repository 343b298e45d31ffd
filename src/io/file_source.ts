/**
 * A random-access source over a local file (`node:fs`), for
 * `openRandomAccess`. Not part of the browser entry.
 *
 * @module
 */
import { open } from "node:fs/promises";
import type { RandomAccessSource } from "../envelope/random_access.ts";

/** Opens `path` for random access; close the returned source when done. */
export async function fileSource(path: string): Promise<RandomAccessSource> {
  const fh = await open(path, "r");
  const { size } = await fh.stat();
  return {
    size,
    async read(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === buf.length ? buf : buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}
