/**
 * A pool of zip workers (zip_worker.ts) that deflate off the main thread:
 * Web Workers in Deno, `worker_threads` in Node, started, given jobs, ended
 * when idle and started again by host/worker_lifecycle.ts, as the chunk
 * workers of crypto/worker_pool.ts are (that pool holds a key its workers
 * wipe before they end; this one holds nothing, so its workers are simply
 * terminated, and its close does not wait). Data moves as
 * transferred ArrayBuffers. zlib is deterministic at a given level, so the
 * bytes are those of `deflateHere` on the main thread.
 *
 * Where workers cannot be made (no `Worker`, a bundle without the worker
 * module, a worker that fails to load) {@linkcode ZipWorkers.start}
 * resolves to `null` and the caller deflates on its own thread. A worker
 * that stops while it has a job fails that job, and every later one, with
 * `WORKER_FAILED`.
 *
 * A pool never keeps a process alive by itself: with no job in flight for
 * {@linkcode ZIP_IDLE_TIMEOUT_MS} it ends its workers (the next job starts
 * them again), on an unreferenced timer; in Node each worker is also
 * unreferenced while it has no job.
 *
 * @module
 */
import { siblingModule } from "../host/worker.ts";
import { WorkerLifecycle, type WorkerMessage } from "../host/worker_lifecycle.ts";
import { EnvelopeError } from "../errors.ts";
import type { Level, WholeRead } from "./zip_entry_data.ts";

/** Input buffers kept for reuse: about as many as pieces in flight at once. */
const SPARES = 4;

/** How long, in milliseconds, the workers may sit with no job before the pool ends them. */
export const ZIP_IDLE_TIMEOUT_MS = 1500;

function workerFailed(detail: string): EnvelopeError {
  return new EnvelopeError("WORKER_FAILED", `Creating the zip archive failed: a deflate worker stopped (${detail})`, {
    hint: "run again; if it persists, report it",
  });
}

/** A zip worker's reply: `done` as it is, `error` (the job threw there) as WORKER_FAILED. */
function reply(m: WorkerMessage): WorkerMessage {
  if (m.type === "done") return m;
  throw workerFailed(String(m.message));
}

/**
 * Workers that deflate for the zip writer.
 *
 * @example Deflating on a worker gives the bytes of deflating here
 * ```ts
 * import assert from "node:assert/strict";
 * import { deflateHere } from "./zip_entry_data.ts";
 * import { ZipWorkers } from "./zip_workers.ts";
 * const pool = await ZipWorkers.start(1);
 * assert.ok(pool !== null);
 * try {
 *   const data = new TextEncoder().encode("hello, hello, hello");
 *   const here = new Uint8Array(await deflateHere(data, 6, true)); // zlib's Buffer, as a plain array
 *   assert.deepEqual(await pool.deflate(data, 6, true), here);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export class ZipWorkers {
  readonly #workers: WorkerLifecycle<WorkerMessage>;
  /** Input buffers the workers sent back, for the next pieces' copies (a fresh MiB each was garbage). */
  readonly #spares: ArrayBuffer[] = [];

  private constructor(workers: WorkerLifecycle<WorkerMessage>) {
    this.#workers = workers;
  }

  /** Starts `size` workers; resolves to `null`, with nothing left running, when workers cannot be made here. */
  static async start(size: number): Promise<ZipWorkers | null> {
    const workers = await WorkerLifecycle.start({
      url: siblingModule(import.meta.url, "zip_worker"),
      name: "envelope-zip",
      size,
      idleMs: ZIP_IDLE_TIMEOUT_MS,
      answer: reply,
      failed: workerFailed,
    });
    return workers === null ? null : new ZipWorkers(workers);
  }

  /** Jobs sent and not yet answered. */
  get inflight(): number {
    return this.#workers.inflight;
  }

  /** How many workers run now: 0 once the pool idled (or closed). */
  get running(): number {
    return this.#workers.running;
  }

  /**
   * `Deflate` on a worker: the bytes of `deflateHere`. `data` is copied (the
   * caller keeps it), into a buffer that an earlier job's worker sent back
   * when one is large enough. Rejects with `WORKER_FAILED` if the worker stops.
   */
  deflate = async (data: Uint8Array, level: Level, final: boolean): Promise<Uint8Array> => {
    const spare = this.#spares.pop();
    const copy = spare !== undefined && spare.byteLength >= data.length ? spare : new ArrayBuffer(data.length);
    new Uint8Array(copy, 0, data.length).set(data); // a copy even of a Buffer, whose slice() would share
    const m = await this.#workers.run({ type: "deflate", data: copy, length: data.length, level, final }, [copy]);
    if (this.#spares.length < SPARES) this.#spares.push(m.data as ArrayBuffer);
    return new Uint8Array(m.out as ArrayBuffer);
  };

  /**
   * `ReadWhole` on a worker: reads a small file there with the same open
   * flags and deflates it (zip_entry_data.ts `readWholeSync`). Rejects with
   * `WORKER_FAILED` if the worker stops.
   */
  readWhole = async (path: string, level: Level): Promise<WholeRead> => {
    const m = await this.#workers.run({ type: "file", path, level }, []);
    const read = m.read as WholeRead;
    if (read.kind !== "whole") return read;
    return { ...read, out: new Uint8Array(m.out as ArrayBuffer, 0, m.length as number) };
  };

  /** Terminates the workers (jobs in flight fail); the pool is unusable after. */
  close(): void {
    // With no farewell the lifecycle terminates every worker before it returns; its promise never rejects.
    void this.#workers.close();
  }
}
