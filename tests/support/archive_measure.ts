/**
 * Zips a 300 MiB sparse file of zeros through `zipDirectory` and extracts the
 * stream with `extractZip`, sampling the peak resident set size. Run by
 * tests/archive_test.ts in a subprocess (so the test runner's own memory does
 * not count): `deno run -A tests/support/archive_measure.ts TEMP_DIR`.
 * Prints one JSON line: `{ peak, zipped, summary }`.
 */
import { extractZip, zipDirectory } from "../../src/archive/mod.ts";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";

const SIZE = 300 * 1024 * 1024;
const dir = Deno.args[0];
await mkdir(join(dir, "src"));
const fh = await open(join(dir, "src", "zeros.bin"), "w");
await fh.truncate(SIZE); // sparse: no disk blocks for the zeros
await fh.close();

let peak = 0;
const sample = () => {
  peak = Math.max(peak, Deno.memoryUsage().rss);
};
const timer = setInterval(sample, 5);
let zipped = 0;
const zip = zipDirectory(join(dir, "src")).pipeThrough(
  new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      zipped += chunk.length;
      sample();
      c.enqueue(chunk);
    },
  }),
);
const summary = await extractZip(zip, join(dir, "out"), {
  onEntry: () => sample(),
});
sample();
clearInterval(timer);
console.log(JSON.stringify({ peak, zipped, summary }));
