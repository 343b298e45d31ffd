/**
 * Zipping on worker threads (src/archive/zip_workers.ts, zip_worker.ts): the
 * same archive bytes as on the main thread, in both layouts and at the
 * levels that take different paths; a worker that dies mid-archive fails
 * the stream with WORKER_FAILED instead of hanging it; no workers at all
 * falls back to the main thread; and a worker's read keeps the open's
 * safety (no link followed, no FIFO waited on).
 */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { zipDirectory } from "../src/archive/zip.ts";
import { prepareFile, WHOLE } from "../src/archive/zip_entry_data.ts";
import { ZipWorkers } from "../src/archive/zip_workers.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { makeTree } from "./support/tree_gen.ts";
import { collect, withTemp } from "./support/archive_helpers.ts";

/** A tree with small text and binary files, large ones of both kinds (read in pieces), an empty file and folder. */
async function workerTree(root: string): Promise<void> {
  await makeTree(root, { files: 200, totalBytes: 6 * 1024 * 1024, seed: 16 });
  const text = new TextEncoder().encode("export const value = options.stream ?? null;\n".repeat(60_000));
  assert.ok(text.length > 2 * WHOLE);
  await writeFile(join(root, "large.ts"), text);
  const noise = new Uint8Array(WHOLE + 5000);
  for (let o = 0; o < noise.length; o += 65536) crypto.getRandomValues(noise.subarray(o, o + 65536));
  await writeFile(join(root, "noise.bin"), noise);
  await writeFile(join(root, "empty.txt"), new Uint8Array(0));
  await mkdir(join(root, "nothing-here"));
}

/** Counts the jobs the zip workers of this process are sent, by wrapping the Worker class. */
function countingWorkers(onJob?: (w: Worker, type: string, n: number) => void) {
  const Real = globalThis.Worker;
  const seen = { workers: 0, jobs: new Map<string, number>() };
  globalThis.Worker = class extends Real {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      seen.workers++;
    }
    override postMessage(message: unknown, transfer?: Transferable[] | StructuredSerializeOptions): void {
      const type = (message as { type?: string })?.type ?? "";
      const n = (seen.jobs.get(type) ?? 0) + 1;
      seen.jobs.set(type, n);
      onJob?.(this, type, n);
      super.postMessage(message, transfer as Transferable[]);
    }
  } as typeof Worker;
  return { seen, restore: () => void (globalThis.Worker = Real) };
}

for (const layout of ["envelope", "make_archive"] as const) {
  for (const level of [3, 0, 9]) {
    Deno.test(`zip workers: ${layout} layout at level ${level} gives the bytes of the main thread`, async () => {
      await withTemp(async (t) => {
        const root = join(t, "tree");
        await workerTree(root);
        const here = await collect(zipDirectory(root, { layout, level, times: true }));
        const counting = countingWorkers();
        let there: Uint8Array;
        try {
          there = await collect(zipDirectory(root, { layout, level, times: true, workers: 2 }));
        } finally {
          counting.restore();
        }
        assert.equal(counting.seen.workers, 2, "two zip workers started");
        assert.ok((counting.seen.jobs.get("file") ?? 0) > 150, "the small files were read on the workers");
        if (level > 0) {
          assert.ok((counting.seen.jobs.get("deflate") ?? 0) >= 3, "pieces of large.ts were deflated there");
        }
        assert.equal(there.length, here.length);
        assert.ok(there.every((b, i) => b === here[i]), "the archives differ");
      });
    });
  }
}

Deno.test("zip workers: a worker that dies mid-archive fails the stream with WORKER_FAILED, not a hang", async () => {
  await withTemp(async (t) => {
    const root = join(t, "tree");
    await workerTree(root);
    // The 20th file job kills its worker before sending the job, as a crash of the thread would: the job never
    // gets an answer, and the worker's error event is all the pool hears.
    const counting = countingWorkers((w, type, n) => {
      if (type !== "file" || n !== 20) return;
      w.terminate();
      queueMicrotask(() => w.onerror?.(new ErrorEvent("error", { message: "killed by the test", cancelable: true })));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const hung = new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 20_000));
      const err = await Promise.race([
        collect(zipDirectory(root, { level: 3, workers: 1 })).then(() => null, (e) => e),
        hung,
      ]);
      assert.notEqual(err, "hung", "the stream waited for a dead worker");
      assert.ok(isEnvelopeError(err) && err.code === "WORKER_FAILED", String(err));
      assert.match(err.message, /deflate worker stopped \(killed by the test\)/);
    } finally {
      clearTimeout(timer);
      counting.restore();
    }
  });
});

Deno.test("zip workers: where workers cannot start, the archive is made on the main thread, same bytes", async () => {
  await withTemp(async (t) => {
    const root = join(t, "tree");
    await workerTree(root);
    const here = await collect(zipDirectory(root, { level: 3 }));
    const Real = globalThis.Worker;
    globalThis.Worker = class {
      constructor() {
        throw new DOMException("workers are not allowed here", "SecurityError");
      }
    } as unknown as typeof Worker;
    let there: Uint8Array;
    try {
      assert.equal(await ZipWorkers.start(1), null);
      there = await collect(zipDirectory(root, { level: 3, workers: 2 }));
    } finally {
      globalThis.Worker = Real;
    }
    assert.ok(there.length === here.length && there.every((b, i) => b === here[i]), "the archives differ");
  });
});

Deno.test("zip workers: a file swapped for a FIFO or a link after the listing is refused on a worker too", async () => {
  const { mkfifo } = await import("./support/system.ts");
  await withTemp(async (t) => {
    const pool = await ZipWorkers.start(1);
    assert.ok(pool !== null);
    try {
      const fifo = join(t, "was-a-file");
      await mkfifo(fifo);
      await writeFile(join(t, "target"), "secret");
      await symlink(join(t, "target"), join(t, "now-a-link"));
      const deflate = () => Promise.reject(new Error("not reached"));
      const prepare = (name: string) =>
        prepareFile(name, join(t, name), 0o100644 << 16, undefined, 6, deflate, pool.readWhole).then(
          () => null,
          (e) => e,
        );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 10_000));
      const fifoErr = await Promise.race([prepare("was-a-file"), hung]);
      clearTimeout(timer);
      if (fifoErr === "hung") {
        await (await Deno.open(fifo, { write: true })).close();
        assert.fail("the worker waited on a FIFO");
      }
      assert.ok(isEnvelopeError(fifoErr) && fifoErr.code === "IO_FAILED", String(fifoErr));
      assert.match(fifoErr.message, /stopped being a regular file/);
      const linkErr = await prepare("now-a-link");
      assert.ok(isEnvelopeError(linkErr) && linkErr.code === "IO_FAILED", String(linkErr));
      assert.match(linkErr.message, /now-a-link failed: ELOOP/);
      const gone = await prepare("never-was");
      assert.ok(isEnvelopeError(gone) && gone.code === "IO_FAILED", String(gone));
      assert.match(gone.message, /never-was failed: ENOENT/);
    } finally {
      pool.close();
    }
  });
});

Deno.test("zip writer: its window reads up to 32 small files ahead, and no more than 8 MiB of larger ones", async () => {
  const { AHEAD, AHEAD_BYTES } = await import("../src/archive/zip.ts");
  const { deflateHere } = await import("../src/archive/zip_entry_data.ts");
  /** Deflate calls once the stream's first bytes were read and the window's reads settled. */
  const aheadOf = async (dir: string) => {
    let calls = 0;
    const stream = zipDirectory(dir, {
      deflate: (data, level, final) => {
        calls++;
        return deflateHere(data, level, final);
      },
    });
    const reader = stream.getReader();
    await reader.read();
    for (let last = -1, i = 0; calls !== last && i < 100; i++) {
      last = calls;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await reader.cancel();
    return calls;
  };
  await withTemp(async (dir) => {
    const small = join(dir, "small");
    const large = join(dir, "large");
    await mkdir(small);
    await mkdir(large);
    const text = (n: number) => new TextEncoder().encode("a line of text\n".repeat(Math.ceil(n / 15)).slice(0, n));
    for (let i = 0; i < 60; i++) await writeFile(join(small, `f${String(i).padStart(2, "0")}`), text(1000));
    const each = 600 * 1024; // read whole (under 1 MiB), so each file is one deflate call
    for (let i = 0; i < 40; i++) await writeFile(join(large, `f${String(i).padStart(2, "0")}`), text(each));
    assert.equal(AHEAD, 32);
    assert.equal(await aheadOf(small), AHEAD);
    // The window stops taking files once it holds AHEAD_BYTES: 14 files of 600 KiB (the 14th crosses 8 MiB).
    assert.equal(await aheadOf(large), Math.ceil(AHEAD_BYTES / each));
  });
});
