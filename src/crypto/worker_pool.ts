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
 * @module
 */
import { siblingModule, spawnWorker, unrefTimer, type WorkerChannel } from "../host/worker.ts";
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

interface Pending {
  resolve(r: BatchResult): void;
  reject(e: unknown): void;
}

function workerFailed(detail: string): EnvelopeError {
  return new EnvelopeError("WORKER_FAILED", `Sealing or opening chunks failed: a worker stopped (${detail})`, {
    hint: "run again with --parallelism 1 to stay on one thread, and report this",
  });
}

/** One worker: its channel, its jobs in flight, and whether it has ended. */
class Lane {
  readonly #pending = new Map<number, Pending>();
  #channel: WorkerChannel | null = null;
  #ready: { resolve(ok: boolean): void } | null = null;
  #ended: (() => void) | null = null;
  #dead: string | null = null;
  #ending: Promise<void> | null = null;
  jobs = 0;

  start(key: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      this.#ready = { resolve };
      this.#channel = spawnWorker(
        siblingModule(import.meta.url, "chunk_worker"),
        "envelope-chunks",
        (m) => this.#message(m),
        (d) => this.#fail(d),
      );
      if (!this.#channel) return resolve(false);
      // A structured clone: the worker gets its own copy, which it wipes after loading.
      this.#channel.post({ type: "key", key });
    });
  }

  #message(m: Record<string, unknown>): void {
    if (m.type === "ready") {
      // Referenced while it starts (a caller awaits it), unreferenced until it has a job.
      if (this.jobs === 0) this.#channel?.unref();
      this.#ready?.resolve(true);
      this.#ready = null;
    } else if (m.type === "done" || m.type === "failed") {
      const p = this.#pending.get(m.id as number);
      this.#pending.delete(m.id as number);
      if (--this.jobs === 0) this.#channel?.unref();
      const outs = (m.outs as ArrayBuffer[]).map((b) => new Uint8Array(b));
      const data = m.data as ArrayBuffer;
      p?.resolve(m.type === "done" ? { ok: true, outs, data } : { ok: false, item: m.item as number, outs, data });
    } else if (m.type === "ended") {
      this.#ended?.();
    } else if (m.type === "error") {
      this.#fail(String(m.message));
    }
  }

  #fail(detail: string): void {
    if (this.#dead !== null) return;
    this.#dead = detail;
    this.#ready?.resolve(false);
    this.#ready = null;
    for (const p of this.#pending.values()) p.reject(workerFailed(detail));
    this.#pending.clear();
    this.#ended?.();
    this.#channel?.terminate();
  }

  run(id: number, op: "seal" | "open", nonces: Uint8Array, sizes: number[], data: ArrayBuffer): Promise<BatchResult> {
    if (this.#dead !== null) return Promise.reject(workerFailed(this.#dead));
    // A job in flight holds the process open, so its result cannot be lost to an exit.
    if (this.jobs++ === 0) this.#channel!.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel!.post({ type: "job", id, op, nonces, sizes, data }, [data]);
    });
  }

  /**
   * Asks the worker to wipe its key and waits for it, then terminates it; a
   * second call waits for the first. `hold`: the process stays up meanwhile
   * (a caller awaits the end); an idle pool's ending lets it exit instead.
   */
  end(hold = true): Promise<void> {
    if (hold) this.#channel?.ref();
    return this.#ending ??= this.#end();
  }

  async #end(): Promise<void> {
    if (this.#channel === null) return;
    if (this.#dead === null) {
      const ended = new Promise<void>((resolve) => (this.#ended = resolve));
      this.#channel.post({ type: "end" });
      await ended;
    }
    this.#dead ??= "closed";
    this.#channel.terminate();
    this.#channel = null;
  }
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
  /** The running workers: none after the pool idled, until the next job starts them again. */
  #lanes: Lane[];
  readonly #size: number;
  /** The pool's copy of the key, to start workers again after idling; wiped by close. */
  readonly #key: Uint8Array;
  /** Workers starting again after idling, shared by the jobs that wait for them. */
  #restarting: Promise<void> | null = null;
  /** Workers being ended after idling (close waits for them). */
  readonly #retiring = new Set<Lane>();
  #inflight = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lost = false;
  #next = 0;
  private constructor(lanes: Lane[], key: Uint8Array) {
    this.#lanes = lanes;
    this.#size = lanes.length;
    this.#key = key;
  }

  /**
   * Starts `size` workers, each given a copy of `key` (the caller keeps and
   * wipes its own). Resolves to `null`, with nothing left running, when
   * workers cannot be made here.
   */
  static async start(key: Uint8Array, size: number): Promise<ChunkWorkerPool | null> {
    const lanes = await startLanes(key, Math.max(1, size));
    if (lanes === null) return null;
    const pool = new ChunkWorkerPool(lanes, key.slice());
    pool.#waitIdle(); // a pool no job ever reaches ends its workers too
    return pool;
  }

  /** How many workers the pool runs when it has work. */
  get size(): number {
    return this.#size;
  }

  /** How many workers run now: 0 once the pool idled (or closed). */
  get running(): number {
    return this.#lanes.length;
  }

  /**
   * Whether the workers ended while idle and could not be started again:
   * every job since was rejected before its `data` was sent (the caller
   * still holds it, and should do the work on its own thread).
   */
  get lost(): boolean {
    return this.#lost;
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
    if (this.#closed) return Promise.reject(workerFailed("closed"));
    if (this.#lost) return Promise.reject(workerFailed("a worker could not be started again"));
    clearTimeout(this.#idle);
    this.#idle = undefined;
    this.#inflight++;
    const id = this.#next++;
    const job = this.#lanes.length > 0
      ? this.#dispatch(id, op, nonces, sizes, data)
      : this.#restart().then(() => this.#dispatch(id, op, nonces, sizes, data));
    return job.finally(() => {
      if (--this.#inflight === 0) this.#waitIdle();
    });
  }

  #dispatch(id: number, op: "seal" | "open", nonces: Uint8Array, sizes: number[], data: ArrayBuffer) {
    if (this.#lanes.length === 0) return Promise.reject(workerFailed("closed"));
    let lane = this.#lanes[0];
    for (const l of this.#lanes) if (l.jobs < lane.jobs) lane = l;
    return lane.run(id, op, nonces, sizes, data);
  }

  /** Starts the workers again after the pool idled; rejects with WORKER_FAILED if they cannot start. */
  #restart(): Promise<void> {
    this.#restarting ??= startLanes(this.#key, this.#size).then(async (lanes) => {
      this.#restarting = null;
      if (lanes === null) {
        this.#lost = true;
        throw workerFailed("a worker could not be started again");
      }
      if (this.#closed) {
        await Promise.all(lanes.map((l) => l.end()));
        throw workerFailed("closed");
      }
      this.#lanes = lanes;
    });
    return this.#restarting;
  }

  /** Ends the workers after {@linkcode IDLE_TIMEOUT_MS} with no job in flight, with a timer that holds no process. */
  #waitIdle(): void {
    if (this.#closed || this.#lanes.length === 0) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#inflight > 0 || this.#closed) return;
      const lanes = this.#lanes;
      this.#lanes = [];
      // Each wipes its key, as on close; nothing waits for this, so the process may exit meanwhile.
      for (const l of lanes) {
        this.#retiring.add(l);
        const done = () => void this.#retiring.delete(l);
        l.end(false).then(done, done);
      }
    }, IDLE_TIMEOUT_MS);
    unrefTimer(this.#idle);
  }

  /** Wipes the key in every worker and here, and terminates the workers; the pool is unusable after. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#idle = undefined;
    const lanes = this.#lanes;
    this.#lanes = [];
    await Promise.all([
      ...[...lanes, ...this.#retiring].map((l) => l.end()),
      this.#restarting?.catch(() => {}),
    ]);
    this.#key.fill(0);
  }
}

/** Starts `size` workers holding `key`; null, with none left running, if any cannot start. */
async function startLanes(key: Uint8Array, size: number): Promise<Lane[] | null> {
  const lanes = Array.from({ length: size }, () => new Lane());
  const ok = await Promise.all(lanes.map((l) => l.start(key)));
  if (ok.every(Boolean)) return lanes;
  await Promise.all(lanes.map((l) => l.end()));
  return null;
}
