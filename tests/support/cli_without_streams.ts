/**
 * Runs the CLI (`src/cli/main.ts`) with the web streams taken away: each of
 * `ReadableStream`, `WritableStream` and `TransformStream` throws when made.
 * `tests/cli_small_files_test.ts` runs a small file's encrypt and decrypt
 * through it, which must need no stream (`files.ts` `OpenInputOptions.whole`):
 * in Deno the streams load on first use, a visible part of a one-file run's
 * start-up.
 *
 *   deno run -A tests/support/cli_without_streams.ts ARGS...
 *
 * @module
 */
for (const name of ["ReadableStream", "WritableStream", "TransformStream"]) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      throw new Error(`a ${name} was made`);
    },
  });
}
const { main } = await import("../../src/cli/main.ts");
Deno.exit(await main(Deno.args));
