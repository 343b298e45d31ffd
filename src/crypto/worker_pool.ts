/**
 * A pool of chunk workers (chunk_worker.ts) that seal and open batches of
 * AES-GCM messages under one key on other cores: Web Workers in Deno and
 * browsers, `worker_threads` in Node. Inputs and outputs move as transferred
 * ArrayBuffers, never copied between threads.
 *
 * The key reaches each worker by `postMessage` and is wiped there by
 * {@linkcode ChunkWorkerPool.close}, which also terminates the workers.
 * Where workers cannot be made (no `Worker`, a bundle without the worker
 * module, a worker that fails to load) {@linkcode ChunkWorkerPool.start}
 * resolves to `null` and the caller stays on its own thread.
 *
 * A pool never keeps a process alive by itself, so a caller that drops a
 * stream half read (never reading it to the end, never cancelling it) does
 * not hang a Deno or Node process. With no job in flight for
 * {@linkcode IDLE_TIMEOUT_MS}, the pool ends its workers as `close` does
 * (each wipes its copy of the key); the next job starts them again, from the
 * pool's own copy of the key, and its bytes are the same (if they cannot
 * start, {@linkcode ChunkWorkerPool.lost} tells the caller to do the work
 * itself, as where workers cannot be made at all). The idle timer is
 * unreferenced (`Deno.unrefTimer` in Deno, `.unref()` in Node), and in Node
 * each `worker_threads` worker is unreferenced too while it has no job, so
 * there the process exits at once; a Deno Web Worker cannot be unreferenced,
 * so a Deno process waits out the idle timeout. A job in flight keeps its
 * worker referenced, so its result is never lost to an exit.
 *
 * That life of the workers (the least busy one gets each job, the idle end,
 * the restart, the close that waits for each worker's wipe) is
 * host/worker_lifecycle.ts's, as the zip pool's is; this module gives it the
 * key, the batch protocol and its error.
 *
 * @module
 */
import { siblingModule } from "../host/worker.ts";
import { WorkerLifecycle, type WorkerMessage } from "../host/worker_lifecycle.ts";
import { EnvelopeError } from "../errors.ts";

/** What a batch job returns. */
export type BatchResult =
  /** Every input sealed or opened: one output per input, and the input buffer for reuse. */
  | { readonly ok: true; readonly outs: Uint8Array<ArrayBuffer>[]; readonly data: ArrayBuffer }
  /** An open whose input `item` did not verify; `outs` holds the outputs of the inputs before it only. */
  | { readonly ok: false; readonly item: number; readonly outs: Uint8Array<ArrayBuffer>[]; readonly data: ArrayBuffer };

/**
 * How long, in milliseconds, a pool's workers may sit with no job before the
 * pool ends them (the next job starts them again). Long enough that a stream
 * read at any steady pace never restarts its workers (a restart costs tens of
 * milliseconds: a worker loads the module and the key), short enough that a
 * Deno process whose stream was dropped exits soon after.
 */
export const IDLE_TIMEOUT_MS = 1500;

function workerFailed(detail: string): EnvelopeError {
  return new EnvelopeError("WORKER_FAILED", `Sealing or opening chunks failed: a worker stopped (${detail})`, {
    hint: "run again with --parallelism 1 to stay on one thread, and report this",
  });
}

/** A chunk worker's `done` or `failed` reply as the batch's result. */
function batchResult(m: WorkerMessage): BatchResult {
  const outs = (m.outs as ArrayBuffer[]).map((b) => new Uint8Array(b));
  const data = m.data as ArrayBuffer;
  return m.type === "done" ? { ok: true, outs, data } : { ok: false, item: m.item as number, outs, data };
}

/**
 * Workers that seal or open batches under one AES-GCM key.
 *
 * @example Sealing a batch of two messages on a worker
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChunkWorkerPool } from "./worker_pool.ts";
 * const pool = await ChunkWorkerPool.start(new Uint8Array(32), 1);
 * assert.ok(pool !== null);
 * try {
 *   const nonces = new Uint8Array(24);
 *   nonces[23] = 1;
 *   const r = await pool.run("seal", nonces, [3, 5], new ArrayBuffer(8));
 *   assert.ok(r.ok && r.outs[0].length === 3 + 16 && r.outs[1].length === 5 + 16);
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class ChunkWorkerPool {
  readonly #workers: WorkerLifecycle<BatchResult>;
  /** The pool's copy of the key, sent to every worker it starts (again after idling); wiped by close. */
  readonly #key: Uint8Array;
  private constructor(workers: WorkerLifecycle<BatchResult>, key: Uint8Array) {
    this.#workers = workers;
    this.#key = key;
  }

  /**
   * Starts `size` workers, each given a copy of `key` (the caller keeps and
   * wipes its own). Resolves to `null`, with nothing left running, when
   * workers cannot be made here.
   */
  static async start(key: Uint8Array, size: number): Promise<ChunkWorkerPool | null> {
    const copy = key.slice();
    const workers = await WorkerLifecycle.start({
      url: siblingModule(import.meta.url, "chunk_worker"),
      name: "envelope-chunks",
      size,
      idleMs: IDLE_TIMEOUT_MS,
      // A structured clone: each worker gets its own copy, which it wipes after loading.
      greeting: { type: "key", key: copy },
      // Each worker wipes its key before it answers, on close and when the pool idles.
      farewell: { type: "end" },
      answer: batchResult,
      failed: workerFailed,
    });
    if (workers === null) {
      copy.fill(0);
      return null;
    }
    return new ChunkWorkerPool(workers, copy);
  }

  /** How many workers the pool runs when it has work. */
  get size(): number {
    return this.#workers.size;
  }

  /** How many workers run now: 0 once the pool idled (or closed). */
  get running(): number {
    return this.#workers.running;
  }

  /**
   * Whether the workers ended while idle and could not be started again:
   * every job since was rejected before its `data` was sent (the caller
   * still holds it, and should do the work on its own thread).
   */
  get lost(): boolean {
    return this.#workers.lost;
  }

  /**
   * Seals or opens the inputs held back to back in `data` (transferred: the
   * caller must not touch it until it comes back in the result), input `i`
   * being `sizes[i]` bytes under the 12-byte nonce at `nonces[12 i]`. Jobs go
   * to the least busy worker, started again first if the pool idled. Rejects
   * with WORKER_FAILED if that worker stops, or if the workers cannot start
   * again (then {@linkcode ChunkWorkerPool.lost} is set and `data` was not
   * sent).
   */
  run(op: "seal" | "open", nonces: Uint8Array, sizes: number[], data: ArrayBuffer): Promise<BatchResult> {
    // Lost for good: the caller has moved to its own thread, and no later job starts workers again.
    if (!this.#workers.closed && this.#workers.lost) {
      return Promise.reject(workerFailed("a worker could not be started again"));
    }
    return this.#workers.run({ type: "job", op, nonces, sizes, data }, [data]);
  }

  /** Wipes the key in every worker and here, and terminates the workers; the pool is unusable after. */
  async close(): Promise<void> {
    await this.#workers.close();
    this.#key.fill(0);
  }
}
