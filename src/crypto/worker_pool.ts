/**
 * A pool of chunk workers (chunk_worker.ts) that seal and open batches of
 * AES-GCM messages under one key on other cores: Web Workers in Deno and
 * browsers, `worker_threads` in Node. Inputs and outputs move as transferred
 * ArrayBuffers, never copied between threads.
 *
 * The key reaches each worker by `postMessage` and is wiped there by
 * {@linkcode ChunkWorkerPool.close}, which also terminates the workers: a live
 * worker keeps a Deno or Node process running, so every pool must be closed.
 * Where workers cannot be made (no `Worker`, a bundle without the worker
 * module, a worker that fails to load) {@linkcode ChunkWorkerPool.start}
 * resolves to `null` and the caller stays on its own thread.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** What a batch job returns. */
export type BatchResult =
  /** Every input sealed or opened: one output per input, and the input buffer for reuse. */
  | { readonly ok: true; readonly outs: Uint8Array<ArrayBuffer>[]; readonly data: ArrayBuffer }
  /** An open whose input `item` did not verify; `outs` holds the outputs of the inputs before it only. */
  | { readonly ok: false; readonly item: number; readonly outs: Uint8Array<ArrayBuffer>[]; readonly data: ArrayBuffer };

interface Channel {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
}

interface Pending {
  resolve(r: BatchResult): void;
  reject(e: unknown): void;
}

interface NodeWorker {
  on(event: string, handler: (x: unknown) => void): void;
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): unknown;
}

/** The URL of the worker module beside this one: `.ts` in a checkout, `.js` in the npm build. */
function workerUrl(): URL {
  const ext = new URL(import.meta.url).pathname.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./chunk_worker${ext}`, import.meta.url);
}

function workerFailed(detail: string): EnvelopeError {
  return new EnvelopeError("WORKER_FAILED", `Sealing or opening chunks failed: a worker stopped (${detail})`, {
    hint: "run again with --parallelism 1 to stay on one thread, and report this",
  });
}

/** Starts one worker; `onMessage` and `onError` get its replies and its failure. */
function spawn(onMessage: (m: Record<string, unknown>) => void, onError: (detail: string) => void): Channel | null {
  const g = globalThis as unknown as {
    Worker?: new (url: URL, options: { type: "module"; name?: string }) => Worker;
    process?: {
      getBuiltinModule?: (name: string) => { Worker?: new (url: URL, options?: object) => NodeWorker } | undefined;
    };
  };
  try {
    if (typeof g.Worker === "function") {
      const w = new g.Worker(workerUrl(), { type: "module", name: "envelope-chunks" });
      w.onmessage = (e) => onMessage(e.data);
      w.onerror = (e) => {
        e.preventDefault(); // handled here: without this, Deno ends the whole process
        onError(e.message || "error");
      };
      w.onmessageerror = () => onError("a message could not be read");
      return { post: (m, t) => w.postMessage(m, t ?? []), terminate: () => w.terminate() };
    }
    const NodeWorkerClass = g.process?.getBuiltinModule?.("node:worker_threads")?.Worker;
    if (NodeWorkerClass) {
      // A small young generation: the worker's own objects are few and small (its buffers are transferred), and
      // Node's default let a 1 GiB decrypt peak at 153 MB RSS against 134 to 140 MB with this (load average 5-6).
      const w = new NodeWorkerClass(workerUrl(), { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.on("message", (m) => onMessage(m as Record<string, unknown>));
      w.on("error", (e) => onError((e as Error)?.message ?? String(e)));
      w.on("exit", (code) => onError(`exited with code ${code}`));
      return { post: (m, t) => w.postMessage(m, t ?? []), terminate: () => void w.terminate() };
    }
  } catch {
    // e.g. a browser page whose policy forbids workers: stay on the caller's thread
  }
  return null;
}

/** One worker: its channel, its jobs in flight, and whether it has ended. */
class Lane {
  readonly #pending = new Map<number, Pending>();
  #channel: Channel | null = null;
  #ready: { resolve(ok: boolean): void } | null = null;
  #ended: (() => void) | null = null;
  #dead: string | null = null;
  jobs = 0;

  start(key: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      this.#ready = { resolve };
      this.#channel = spawn((m) => this.#message(m), (d) => this.#fail(d));
      if (!this.#channel) return resolve(false);
      // A structured clone: the worker gets its own copy, which it wipes after loading.
      this.#channel.post({ type: "key", key });
    });
  }

  #message(m: Record<string, unknown>): void {
    if (m.type === "ready") {
      this.#ready?.resolve(true);
      this.#ready = null;
    } else if (m.type === "done" || m.type === "failed") {
      const p = this.#pending.get(m.id as number);
      this.#pending.delete(m.id as number);
      this.jobs--;
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
    this.jobs++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel!.post({ type: "job", id, op, nonces, sizes, data }, [data]);
    });
  }

  /** Asks the worker to wipe its key and waits for it, then terminates it. */
  async end(): Promise<void> {
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
  readonly #lanes: Lane[];
  #next = 0;
  private constructor(lanes: Lane[]) {
    this.#lanes = lanes;
  }

  /**
   * Starts `size` workers, each given a copy of `key` (the caller keeps and
   * wipes its own). Resolves to `null`, with nothing left running, when
   * workers cannot be made here.
   */
  static async start(key: Uint8Array, size: number): Promise<ChunkWorkerPool | null> {
    const lanes = Array.from({ length: Math.max(1, size) }, () => new Lane());
    const ok = await Promise.all(lanes.map((l) => l.start(key)));
    if (ok.every(Boolean)) return new ChunkWorkerPool(lanes);
    await Promise.all(lanes.map((l) => l.end()));
    return null;
  }

  /** How many workers the pool has. */
  get size(): number {
    return this.#lanes.length;
  }

  /**
   * Seals or opens the inputs held back to back in `data` (transferred: the
   * caller must not touch it until it comes back in the result), input `i`
   * being `sizes[i]` bytes under the 12-byte nonce at `nonces[12 i]`. Jobs go
   * to the least busy worker. Rejects with WORKER_FAILED if that worker
   * stops.
   */
  run(op: "seal" | "open", nonces: Uint8Array, sizes: number[], data: ArrayBuffer): Promise<BatchResult> {
    let lane = this.#lanes[0];
    for (const l of this.#lanes) if (l.jobs < lane.jobs) lane = l;
    return lane.run(this.#next++, op, nonces, sizes, data);
  }

  /** Wipes the key in every worker and terminates them; the pool is unusable after. */
  async close(): Promise<void> {
    await Promise.all(this.#lanes.map((l) => l.end()));
  }
}
