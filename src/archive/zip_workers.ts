/**
 * A pool of zip workers (zip_worker.ts) that deflate off the main thread:
 * Web Workers in Deno, `worker_threads` in Node, started as
 * crypto/worker_pool.ts starts its chunk workers (that pool holds a key and
 * belongs to a peer layer; this one holds nothing). Data moves as
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
import { siblingModule, spawnWorker, unrefTimer, type WorkerChannel } from "../host/worker.ts";
import { EnvelopeError } from "../errors.ts";
import type { Level, WholeRead } from "./zip_entry_data.ts";

/** How long, in milliseconds, the workers may sit with no job before the pool ends them. */
export const ZIP_IDLE_TIMEOUT_MS = 1500;

interface Pending {
  resolve(m: Record<string, unknown>): void;
  reject(e: unknown): void;
}

function workerFailed(detail: string): EnvelopeError {
  return new EnvelopeError("WORKER_FAILED", `Creating the zip archive failed: a deflate worker stopped (${detail})`, {
    hint: "run again; if it persists, report it",
  });
}

/** One worker and its jobs in flight. */
class Lane {
  readonly #pending = new Map<number, Pending>();
  #channel: WorkerChannel | null = null;
  #ready: ((ok: boolean) => void) | null = null;
  #dead: string | null = null;
  jobs = 0;

  start(): Promise<boolean> {
    return new Promise((resolve) => {
      this.#ready = resolve;
      this.#channel = spawnWorker(
        siblingModule(import.meta.url, "zip_worker"),
        "envelope-zip",
        (m) => this.#message(m),
        (d) => this.#fail(d),
      );
      if (!this.#channel) resolve(false);
    });
  }

  #message(m: Record<string, unknown>): void {
    if (m.type === "ready") {
      if (this.jobs === 0) this.#channel?.unref();
      this.#ready?.(true);
      this.#ready = null;
      return;
    }
    const p = this.#pending.get(m.id as number);
    if (!p) return;
    this.#pending.delete(m.id as number);
    if (--this.jobs === 0) this.#channel?.unref();
    if (m.type === "done") p.resolve(m);
    else p.reject(workerFailed(String(m.message)));
  }

  #fail(detail: string): void {
    if (this.#dead !== null) return;
    this.#dead = detail;
    this.#ready?.(false);
    this.#ready = null;
    for (const p of this.#pending.values()) p.reject(workerFailed(detail));
    this.#pending.clear();
    this.#channel?.terminate();
  }

  run(id: number, message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<Record<string, unknown>> {
    if (this.#dead !== null) return Promise.reject(workerFailed(this.#dead));
    // A job in flight holds the process open, so its result cannot be lost to an exit.
    if (this.jobs++ === 0) this.#channel!.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel!.post({ ...message, id }, transfer);
    });
  }

  /** Terminates the worker; its jobs in flight fail. */
  end(): void {
    this.#fail("closed");
    this.#channel = null;
  }
}

/** Starts `size` workers; null, with none left running, if any cannot start. */
async function startLanes(size: number): Promise<Lane[] | null> {
  const lanes = Array.from({ length: size }, () => new Lane());
  const ok = await Promise.all(lanes.map((l) => l.start()));
  if (ok.every(Boolean)) return lanes;
  for (const l of lanes) l.end();
  return null;
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
  #lanes: Lane[];
  readonly #size: number;
  #restarting: Promise<void> | null = null;
  #inflight = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #next = 0;

  private constructor(lanes: Lane[]) {
    this.#lanes = lanes;
    this.#size = lanes.length;
  }

  /** Starts `size` workers; resolves to `null`, with nothing left running, when workers cannot be made here. */
  static async start(size: number): Promise<ZipWorkers | null> {
    const lanes = await startLanes(Math.max(1, size));
    if (lanes === null) return null;
    const pool = new ZipWorkers(lanes);
    pool.#waitIdle();
    return pool;
  }

  /** Jobs sent and not yet answered. */
  get inflight(): number {
    return this.#inflight;
  }

  /** How many workers run now: 0 once the pool idled (or closed). */
  get running(): number {
    return this.#lanes.length;
  }

  /**
   * `Deflate` on a worker: the bytes of `deflateHere`. `data` is copied (the
   * caller keeps it). Rejects with `WORKER_FAILED` if the worker stops.
   */
  deflate = async (data: Uint8Array, level: Level, final: boolean): Promise<Uint8Array> => {
    const copy = new Uint8Array(data).buffer; // a copy even of a Buffer, whose slice() would share
    const m = await this.#run({ type: "deflate", data: copy, level, final }, [copy]);
    return new Uint8Array(m.out as ArrayBuffer);
  };

  /**
   * `ReadWhole` on a worker: reads a small file there with the same open
   * flags and deflates it (zip_entry_data.ts `readWholeSync`). Rejects with
   * `WORKER_FAILED` if the worker stops.
   */
  readWhole = async (path: string, level: Level): Promise<WholeRead> => {
    const m = await this.#run({ type: "file", path, level }, []);
    const read = m.read as WholeRead;
    if (read.kind !== "whole") return read;
    return { ...read, out: new Uint8Array(m.out as ArrayBuffer, 0, m.length as number) };
  };

  #run(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(workerFailed("closed"));
    clearTimeout(this.#idle);
    this.#idle = undefined;
    this.#inflight++;
    const id = this.#next++;
    const job = this.#lanes.length > 0
      ? this.#dispatch(id, message, transfer)
      : this.#restart().then(() => this.#dispatch(id, message, transfer));
    return job.finally(() => {
      if (--this.#inflight === 0) this.#waitIdle();
    });
  }

  #dispatch(id: number, message: Record<string, unknown>, transfer: ArrayBuffer[]) {
    if (this.#lanes.length === 0) return Promise.reject(workerFailed("closed"));
    let lane = this.#lanes[0];
    for (const l of this.#lanes) if (l.jobs < lane.jobs) lane = l;
    return lane.run(id, message, transfer);
  }

  #restart(): Promise<void> {
    this.#restarting ??= startLanes(this.#size).then((lanes) => {
      this.#restarting = null;
      if (lanes === null) throw workerFailed("a worker could not be started again");
      if (this.#closed) {
        for (const l of lanes) l.end();
        throw workerFailed("closed");
      }
      this.#lanes = lanes;
    });
    return this.#restarting;
  }

  #waitIdle(): void {
    if (this.#closed || this.#lanes.length === 0) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#inflight > 0 || this.#closed) return;
      for (const l of this.#lanes.splice(0)) l.end();
    }, ZIP_IDLE_TIMEOUT_MS);
    unrefTimer(this.#idle);
  }

  /** Terminates the workers (jobs in flight fail); the pool is unusable after. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#idle = undefined;
    for (const l of this.#lanes.splice(0)) l.end();
  }
}
