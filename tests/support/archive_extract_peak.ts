/**
 * Peak memory of extracting, for tests/archive_unzip_test.ts: one large
 * entry of random bytes, or a folder of many small files. Random bytes do
 * not compress, so `zipDirectory` stores them as deflate's stored blocks
 * inside a deflate entry: the case where fflate's streaming inflater churned
 * through enough short-lived buffers to push peak RSS to 145-266 MB. Many
 * small files are the case where a zlib stream per file piled up until
 * collected. Two runs, each in its own process so that neither the test
 * runner nor the zipping counts:
 *
 *   deno run -A --config deno.json tests/support/archive_extract_peak.ts make DIR SIZE [LEVEL]
 *     writes DIR/archive.zip (one entry, random.bin, of SIZE random bytes);
 *     prints `{ zipped }`.
 *   deno run -A --config deno.json tests/support/archive_extract_peak.ts tree DIR FILES SIZE
 *     writes DIR/archive.zip of a seeded tree of FILES files and SIZE bytes
 *     (tests/support/tree_gen.ts, mixed text and random); prints `{ zipped }`.
 *   deno run -A --config deno.json tests/support/archive_extract_peak.ts extract DIR
 *     extracts DIR/archive.zip into DIR/out and prints
 *     `{ before, peak, seconds, summary }`: the RSS just before extracting
 *     and the peak RSS while extracting, in bytes, and the time it took.
 *     Nothing asks V8 for a collection, as in a library caller.
 */
import { extractZip, zipDirectory } from "../../src/archive/mod.ts";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { makeTree } from "./tree_gen.ts";

const [mode, dir, size, level] = Deno.args;

async function zipTo(src: string, level?: number): Promise<void> {
  const zip = await Deno.open(join(dir, "archive.zip"), { write: true, createNew: true });
  await zipDirectory(src, { level }).pipeTo(zip.writable);
  await rm(src, { recursive: true });
  console.log(JSON.stringify({ zipped: (await Deno.stat(join(dir, "archive.zip"))).size }));
}

if (mode === "tree") {
  const [files, bytes] = [Number(Deno.args[2]), Number(Deno.args[3])];
  await makeTree(join(dir, "src"), { files, totalBytes: bytes, seed: 7 });
  await zipTo(join(dir, "src"));
} else if (mode === "make") {
  const src = join(dir, "src");
  await mkdir(src);
  const fh = await open(join(src, "random.bin"), "w");
  const piece = new Uint8Array(65536);
  for (let left = Number(size); left > 0; left -= piece.length) {
    crypto.getRandomValues(piece);
    await fh.write(piece, 0, Math.min(left, piece.length));
  }
  await fh.close();
  await zipTo(src, level === undefined ? undefined : Number(level));
} else if (mode === "extract") {
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, 10);
  const start = performance.now();
  const summary = await extractZip(join(dir, "archive.zip"), join(dir, "out"), { onBytes: sample });
  const seconds = (performance.now() - start) / 1000;
  sample();
  clearInterval(timer);
  console.log(JSON.stringify({ before, peak, seconds, summary }));
} else {
  throw new Error(`unknown mode ${mode}: use make, tree or extract`);
}
