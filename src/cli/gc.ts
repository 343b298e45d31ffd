/**
 * Keeping the CLI's memory flat on long files. Every chunk allocates fresh
 * buffers (read, chunk, sealed: WebCrypto returns a new ArrayBuffer for each
 * call), and V8 lets tens of MiB of dead ArrayBuffers pile up before it
 * collects them; on a 1 GiB file that alone puts peak RSS over the 128 MiB we
 * promise (about 150 MB for an encrypt, 130 for a decrypt). The CLI (never
 * the library) asks V8 for a collection every 32 MiB of data, which held
 * 1 GiB encrypt and decrypt at 107 to 125 MiB.
 *
 * What that costs, as measured on 2026-12-07 [by hand: --trace-gc and
 * /usr/bin/time, 1 GiB, interleaved runs]:
 * - In Deno 2.9 the `gc` that `node:vm` hands out ignores its options: each
 *   call, "minor" included, runs two full mark-compacts ("reduce"), 10 to 30
 *   ms, so about 0.5 to 1 s of the JavaScript thread per GiB (a 1 GiB decrypt
 *   took 2.8-3.9 s without the calls, 3.7-5.5 s with them).
 * - A real scavenge (`deno run --v8-flags=--expose-gc`, `gc({type: "minor"})`)
 *   does not hold memory (peak 140-153 MB): the buffers' wrappers are old by
 *   the time they die.
 * - Collecting only when the resident size is over a target does not work
 *   either: a collection barely lowers RSS (the freed memory stays with the
 *   allocator and is reused), so the target has nothing to go by; and every
 *   64 MiB instead of 32 let peaks reach 120-129 MiB.
 * Fewer buffers per chunk (reads into reused buffers, sealing in place) is
 * what would make these calls unnecessary.
 *
 * `node:v8` and `node:vm` are imported only once a quarter of
 * {@linkcode COLLECT_EVERY} bytes has passed: in Deno the first `node:`
 * module costs start-up time (`scripts/bench_startup.ts`; about 10 ms of
 * the JavaScript thread, by hand), which a small input should not pay, also
 * when its size is unknown (stdin: `printf abc | envelope encrypt` took
 * 67 ms against 44 for the same bytes from a file).
 *
 * @module
 */

/** V8's `gc()`. */
export type Gc = (options?: { type?: "minor" | "major" }) => void;

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

/** Bytes (or a quarter of the calls between collections) after which the collector starts to load. */
export const LOAD_COLLECTOR_AFTER = COLLECT_EVERY / 4;

/**
 * A byte counter that asks V8 for a full collection every
 * {@linkcode COLLECT_EVERY} bytes. `expected` is the size of the data when
 * known: below {@linkcode COLLECT_EVERY} nothing is loaded and the counter
 * does nothing; otherwise (or when unknown) the collector loads in the
 * background once {@linkcode LOAD_COLLECTOR_AFTER} bytes have passed, long
 * before the first 32 MiB have. With `everyCalls`, it also collects every
 * that many calls (a folder's zip: see {@linkcode DIR_COLLECT_CALLS}), and
 * loads after a quarter of them. `load` is injectable for tests.
 */
export function gcPacer(
  expected: number | undefined,
  everyCalls = 0,
  load: () => Promise<Gc | null> = loadCollector,
): (bytes: number) => void {
  if (expected !== undefined && expected < COLLECT_EVERY && everyCalls === 0) return () => {};
  let gc: Gc | null = null;
  let asked = false;
  let since = 0;
  let calls = 0;
  return (bytes) => {
    since += bytes;
    calls++;
    if (!asked && (since >= LOAD_COLLECTOR_AFTER || (everyCalls > 0 && calls * 4 >= everyCalls))) {
      asked = true;
      load().then((found) => gc = found);
    }
    if (gc && everyCalls > 0 && calls % everyCalls === 0) {
      // Full, as DIR_COLLECT_CALLS was measured with (in Deno 2.9 a "minor" one is full too: see above).
      since = 0;
      gc({ type: "major" });
    } else if (gc && since >= COLLECT_EVERY) {
      since = 0;
      gc({ type: "minor" });
    }
  };
}
