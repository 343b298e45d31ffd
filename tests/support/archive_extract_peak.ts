/**
 * Peak memory of extracting one large entry of random bytes, for
 * tests/archive_test.ts. Random bytes do not compress, so `zipDirectory`
 * stores them as deflate's stored blocks inside a deflate entry: the case
 * where fflate's streaming inflater churned through enough short-lived
 * buffers to push peak RSS to 145-266 MB. Two runs, each in its own process
 * so that neither the test runner nor the zipping counts:
 *
 *   deno run -A --config deno.json tests/support/archive_extract_peak.ts make DIR SIZE
 *     writes DIR/random.zip (one entry, random.bin, of SIZE random bytes);
 *     prints `{ zipped }`.
 *   deno run -A --config deno.json tests/support/archive_extract_peak.ts extract DIR
 *     extracts DIR/random.zip into DIR/out and prints
 *     `{ before, peak, seconds, summary }`: the RSS just before extracting
 *     and the peak RSS while extracting, in bytes, and the time it took.
 */
import { extractZip, zipDirectory } from "../../src/archive/mod.ts";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";

const [mode, dir, size, level] = Deno.args;

if (mode === "make") {
  const src = join(dir, "src");
  await mkdir(src);
  const fh = await open(join(src, "random.bin"), "w");
  const piece = new Uint8Array(65536);
  for (let left = Number(size); left > 0; left -= piece.length) {
    crypto.getRandomValues(piece);
    await fh.write(piece, 0, Math.min(left, piece.length));
  }
  await fh.close();
  const zip = await Deno.open(join(dir, "random.zip"), { write: true, createNew: true });
  await zipDirectory(src, { level: level === undefined ? undefined : Number(level) }).pipeTo(zip.writable);
  await rm(src, { recursive: true });
  console.log(JSON.stringify({ zipped: (await Deno.stat(join(dir, "random.zip"))).size }));
} else if (mode === "extract") {
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, 10);
  const start = performance.now();
  const summary = await extractZip(join(dir, "random.zip"), join(dir, "out"), { onBytes: sample });
  const seconds = (performance.now() - start) / 1000;
  sample();
  clearInterval(timer);
  console.log(JSON.stringify({ before, peak, seconds, summary }));
} else {
  throw new Error(`unknown mode ${mode}: use make or extract`);
}
