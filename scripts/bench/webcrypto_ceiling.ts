/**
 * The runtime's own AES-GCM with nothing around it, as a row of
 * `scripts/bench_compare.ts`: `deno run webcrypto_ceiling.ts enc|dec IN OUT`
 * seals (or opens) as many 64 KiB chunks as IN has bytes, through Deno's
 * WebCrypto, 16 calls in flight (Deno runs them on its thread pool, so every
 * core takes part), all in memory: IN is only looked at for its size, and
 * `enc` only sets OUT's size (a sparse file, so that the `dec` run, given it
 * as IN, does as many chunks). No file I/O, no format, no streams, no workers.
 *
 * This is the ceiling of any Deno program that encrypts with WebCrypto on the
 * machine: envelope's CLI on Deno cannot be faster than this row, whatever its
 * pipeline does. The key is a throwaway one made here.
 *
 * @module
 */
const CHUNK = 64 * 1024;
const IN_FLIGHT = 16;

const [op, input, output] = Deno.args;
if ((op !== "enc" && op !== "dec") || !input || !output) {
  console.error("usage: webcrypto_ceiling.ts enc|dec IN OUT");
  Deno.exit(2);
}
const size = Deno.statSync(input).size;
const chunks = Math.ceil(size / CHUNK);
const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
const iv = crypto.getRandomValues(new Uint8Array(12));
const plain = crypto.getRandomValues(new Uint8Array(CHUNK));
const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain));

let next = 0;
const lane = async () => {
  while (next < chunks) {
    next++;
    if (op === "enc") await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain);
    else await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed);
  }
};
await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
if (op === "enc") {
  Deno.writeFileSync(output, new Uint8Array(0));
  Deno.truncateSync(output, size);
}
