/**
 * Keeping the CLI's memory flat on long files. Every chunk allocates fresh
 * buffers (read, chunk, sealed), and V8 lets tens of MiB of dead
 * ArrayBuffers pile up before it collects them; on a 1 GiB file that alone
 * puts peak RSS over the 128 MiB we promise (measured: about 140 MB for a
 * 1 GiB file). The CLI (never the library) asks V8 for a minor collection
 * (a scavenge of the young generation, where the dead buffers' wrappers are)
 * every 32 MiB of data. A full collection held memory as well (about 109 MB)
 * but cost about 20 ms each, some 0.6 s of the JavaScript thread per GiB;
 * the minor one held 1 GiB encrypt and decrypt at 107 to 125 MiB with about
 * 10% less CPU (measured by hand with /usr/bin/time on this machine,
 * 2026-12-07, not by a repository script). `node:v8`'s setFlagsFromString
 * works on Node and on Deno; where it does not, nothing changes but memory.
 *
 * `node:v8` and `node:vm` are imported only when the data may reach
 * {@linkcode COLLECT_EVERY} bytes: in Deno the first `node:` module costs
 * start-up time (`scripts/bench_startup.ts`), which a small file should not pay.
 *
 * @module
 */

type Gc = (options?: { type?: "minor" | "major" }) => void;

let loading: Promise<Gc | null> | undefined;

/** V8's `gc()`, or `null` where the runtime does not expose it; loaded once. */
function loadCollector(): Promise<Gc | null> {
  return loading ??= (async () => {
    try {
      const [{ default: v8 }, { default: vm }] = await Promise.all([import("node:v8"), import("node:vm")]);
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc") as unknown;
      return typeof gc === "function" ? (gc as Gc) : null;
    } catch {
      return null;
    }
  })();
}

/** Bytes of data between collections. */
export const COLLECT_EVERY = 32 * 1024 * 1024;

/**
 * Chunks between full collections for a folder's zip (`encrypt -d`, one
 * chunk or more per file). Its zip workers (archive/zip_workers.ts) leave
 * this thread few objects of its own per file, so V8 collects here rarely and
 * the dead buffers and Fernet's strings pile up: peak RSS grew with the
 * number of files (6,000 files of 8 KiB: 132 MiB for `encrypt -d`, 169 MiB
 * with `--format nitro`; 103 and 118 MiB with a collection every 1,000
 * chunks, whose cost was within the noise of a 10,000-file run; measured by
 * hand with tests/support/peak_rss.ts, 2026-12-07). tests/cli_dir_memory_test.ts
 * bounds it.
 */
export const DIR_COLLECT_CALLS = 1000;

/**
 * A byte counter that asks V8 for a full collection every
 * {@linkcode COLLECT_EVERY} bytes. `expected` is the size of the data when
 * known: below {@linkcode COLLECT_EVERY} nothing is loaded and the counter
 * does nothing; otherwise (or when unknown) the collector loads in the
 * background, long before the first 32 MiB have passed. With `everyCalls`,
 * it also collects every that many calls (extraction: each small file's
 * inflate holds native zlib state until collected).
 */
export function gcPacer(expected: number | undefined, everyCalls = 0): (bytes: number) => void {
  if (expected !== undefined && expected < COLLECT_EVERY && everyCalls === 0) return () => {};
  let gc: Gc | null = null;
  loadCollector().then((found) => gc = found);
  let since = 0;
  let calls = 0;
  return (bytes) => {
    since += bytes;
    calls++;
    if (gc && everyCalls > 0 && calls % everyCalls === 0) {
      // Zlib states live long enough to reach the old generation: only a full collection frees them.
      since = 0;
      gc({ type: "major" });
    } else if (gc && since >= COLLECT_EVERY) {
      since = 0;
      gc({ type: "minor" });
    }
  };
}
