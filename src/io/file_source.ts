/**
 * A random-access source over a local file (`node:fs`), for
 * `openRandomAccess`. Not part of the browser entry.
 *
 * @module
 */
import { open } from "node:fs/promises";
import type { RandomAccessSource } from "./random_access_source.ts";

/**
 * Opens `path` for random access; close the returned source when done.
 *
 * @example Reading bytes of a file on disk
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileSource } from "../fs.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "0123456789");
 * const source = await fileSource(path);
 * assert.equal(source.size, 10);
 * assert.equal(new TextDecoder().decode(await source.read(7, 100)), "789");
 * await source.close?.();
 * await Deno.remove(path);
 * ```
 */
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
