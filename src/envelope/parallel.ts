/**
 * Where the chunks of a streamed message are sealed or opened: on the
 * caller's thread, a few at a time (the path every message took before), or
 * in batches on worker threads (crypto/worker_pool.ts), so that reading,
 * AES-GCM and writing overlap on every core.
 *
 * Chunks are independent (each nonce comes from its index, docs/FORMAT.md
 * §5), so a batch of consecutive chunks can go to any worker; outputs are
 * released in chunk order, so the bytes are the same whichever path ran. A
 * batch travels to a worker as one transferred buffer, and each chunk's
 * output comes back as its own transferred buffer (no copy between threads,
 * and nothing left in the worker to collect). Input buffers are reused once
 * a worker hands them back, and at most two batches per worker are in
 * flight, so memory stays bounded. A worker that stops fails the stream with
 * WORKER_FAILED; a chunk that does not verify is reopened here, so its error
 * is the in-thread path's.
 *
 * Small messages never start a worker: the first {@linkcode MIN_PARALLEL_BYTES}
 * are processed on the caller's thread, and workers start only when more
 * follows (their start-up overlaps those first chunks).
 *
 * A stream that is read to the end, cancelled or aborted closes its workers.
 * One dropped half read is never told, so the pool itself ends workers that
 * have had no batch for a while, and starts them again for a stream that
 * resumes (or, if they cannot start again, the stream finishes on the
 * caller's thread; crypto/worker_pool.ts `IDLE_TIMEOUT_MS`): no worker keeps a
 * process alive, and a batch in flight when the stream was dropped still
 * completes, its output left to be collected with the stream.
 *
 * @module
 */
import { detectRuntime } from "../crypto/backend.ts";
import { hardwareThreads } from "../host/worker.ts";
import type { BatchResult, ChunkWorkerPool } from "../crypto/worker_pool.ts";
import { EnvelopeError } from "../errors.ts";
import { chunkNonce } from "../format/chunk.ts";
import { checkIndex, type ChunkCipher, handled } from "./chunks.ts";

/** Options of the streaming encoder and decoder that choose where chunks are processed. */
export interface ParallelOptions {
  /**
   * Threads at work on a message, the caller's included: 1 keeps everything
   * on the caller's thread (as `concurrency` chunks at a time); N above 1
   * starts N - 1 workers for AES-GCM once a message passes
   * {@linkcode MIN_PARALLEL_BYTES}, while the caller's thread reads, writes
   * and keeps the order. Default: the number of cores in Deno and browsers
   * (`navigator.hardwareConcurrency`), 1 on Node, whose WebCrypto already
   * seals and opens on libuv's threads (see {@linkcode resolveParallelism}).
   * Where workers cannot be made, the caller's thread does the work.
   */
  readonly parallelism?: number;
}

/** Messages up to this many bytes never start a worker. */
export const MIN_PARALLEL_BYTES = 4 * 1024 * 1024;

/**
 * Internal, for tests only (not re-exported by any entry point): an options
 * key whose {@linkcode LaneTuning} lets tests put messages of a few chunks on
 * workers and see where their batches went.
 */
export const LANE_TUNING: unique symbol = Symbol("envelope.laneTuning");

/** What {@linkcode LANE_TUNING} may set. */
export interface LaneTuning {
  /** Replaces {@linkcode MIN_PARALLEL_BYTES}. */
  readonly from?: number;
  /** Bytes of chunk input per batch (default 1 MiB). */
  readonly batchBytes?: number;
  /** Batches wait for the workers to start instead of running here meanwhile. */
  readonly waitForWorkers?: boolean;
  /** Counted by the lane: batches sealed or opened by workers and here. */
  readonly stats?: { workerBatches: number; inThreadBatches: number };
}

/** The options a lane reads from the stream's options. */
export interface LaneOptions extends ParallelOptions {
  readonly concurrency?: number;
  readonly [LANE_TUNING]?: LaneTuning;
}
/** About this many bytes of chunks travel to a worker as one batch. */
const BATCH_BYTES = 1024 * 1024;

/**
 * The number of threads for `parallelism`. Undefined: the number of cores,
 * except on Node, where it is 1: Node's WebCrypto runs each seal and open on
 * libuv's thread pool already, and chunk workers only add copies and
 * messages. A 1 GiB CLI encrypt on Node 20 took 3.62-3.66 s with
 * `--parallelism 2` against 2.77-2.93 s with 1, and a decrypt 6.02-6.54 s
 * against 2.48-3.10 s, with peak RSS 120-141 MB against 103-108 [by hand,
 * /usr/bin/time, three interleaved runs each, 2 cores, 2026-12-07].
 */
export function resolveParallelism(parallelism: number | undefined): number {
  if (parallelism === undefined) return detectRuntime() === "node" ? 1 : hardwareThreads();
  if (!Number.isSafeInteger(parallelism) || parallelism < 1) {
    throw new RangeError("parallelism must be a whole number of at least 1");
  }
  return parallelism;
}

type Controller = TransformStreamDefaultController<Uint8Array>;

/** A stream's chunk processor: buffers to fill, chunks in, outputs enqueued in chunk order. */
export interface ChunkLane {
  /** A buffer of one chunk's input size for the next chunk (the lane may hand it to a worker after `put`). */
  buffer(): Uint8Array<ArrayBuffer>;
  /** Takes chunk `index` (bytes from `buffer()`, possibly shortened); enqueues finished outputs, waiting while too many are in flight. */
  put(index: number, last: boolean, bytes: Uint8Array, controller: Controller): Promise<void>;
  /** Enqueues everything still in flight. */
  drain(controller: Controller): Promise<void>;
  /** Stops any workers (they wipe their copy of the key); safe to call more than once. */
  close(): Promise<void>;
}

/** What the lanes need: the cipher, which way, the input size of a full chunk, and a hook per output chunk. */
export interface LaneSpec {
  readonly cipher: ChunkCipher;
  readonly op: "seal" | "open";
  /** Bytes of a full chunk's input: the chunk size to seal, the chunk size plus the tag to open. */
  readonly chunkBytes: number;
  /** The stream's options: `concurrency` (chunks in flight on the caller's thread, default 4) and `parallelism`. */
  readonly options: LaneOptions;
  /** The input's length when known in advance: up to the threshold, no worker starts. */
  readonly knownLength?: number;
  /** Called with each output chunk, in order, before it is enqueued (a signed message's transcript). */
  readonly onOutput?: (chunk: Uint8Array) => void;
}

/** The lane for `spec`: on the caller's thread for parallelism 1, else with workers. */
export function chunkLane(spec: LaneSpec): ChunkLane {
  const threads = resolveParallelism(spec.options.parallelism);
  const from = spec.options[LANE_TUNING]?.from ?? MIN_PARALLEL_BYTES;
  if (threads === 1 || (spec.knownLength !== undefined && spec.knownLength <= from)) return new InThreadLane(spec);
  // The calling thread is one of the threads: it reads, writes and keeps order while the workers do AES-GCM.
  return new WorkerLane(spec, threads - 1, from);
}

function processOne(spec: LaneSpec, index: number, last: boolean, bytes: Uint8Array): Promise<Uint8Array> {
  return spec.op === "seal" ? spec.cipher.seal(index, last, bytes) : spec.cipher.open(index, last, bytes);
}

/** Every chunk on the caller's thread, `concurrency` at a time. */
class InThreadLane implements ChunkLane {
  readonly #spec: LaneSpec;
  readonly #width: number;
  readonly #inflight: Promise<Uint8Array>[] = [];
  constructor(spec: LaneSpec) {
    this.#spec = spec;
    this.#width = Math.max(1, spec.options.concurrency ?? 4);
  }
  buffer(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#spec.chunkBytes);
  }
  async put(index: number, last: boolean, bytes: Uint8Array, controller: Controller): Promise<void> {
    this.#inflight.push(handled(processOne(this.#spec, index, last, bytes)));
    while (this.#inflight.length >= this.#width) this.#emit(await this.#inflight.shift()!, controller);
  }
  async drain(controller: Controller): Promise<void> {
    while (this.#inflight.length > 0) this.#emit(await this.#inflight.shift()!, controller);
  }
  #emit(out: Uint8Array, controller: Controller): void {
    this.#spec.onOutput?.(out);
    controller.enqueue(out);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Item {
  readonly index: number;
  readonly last: boolean;
  readonly size: number;
}

/** A dispatched batch: releases its outputs in order (or throws the first failure) when emitted. */
type Outcome = (controller: Controller) => Promise<void>;

/** Batches of chunks on workers; the caller's thread reads, writes and keeps order. */
class WorkerLane implements ChunkLane {
  readonly #spec: LaneSpec;
  readonly #workers: number;
  readonly #from: number;
  readonly #tuning: LaneTuning;
  readonly #perBatch: number;
  readonly #free: ArrayBuffer[] = [];
  readonly #queue: Promise<Outcome>[] = [];
  #batch: ArrayBuffer | null = null;
  /** Chunks the current batch buffer holds. */
  #capacity = 1;
  #items: Item[] = [];
  #taken = 0;
  #pool: ChunkWorkerPool | null = null;
  #starting: Promise<void> | null = null;
  #closed = false;

  constructor(spec: LaneSpec, workers: number, from: number) {
    this.#spec = spec;
    this.#workers = workers;
    this.#from = from;
    this.#tuning = spec.options[LANE_TUNING] ?? {};
    this.#perBatch = Math.max(1, Math.floor((this.#tuning.batchBytes ?? BATCH_BYTES) / spec.chunkBytes));
  }

  buffer(): Uint8Array<ArrayBuffer> {
    if (this.#batch === null) {
      // One chunk at a time while the chunks are processed here (as the in-thread lane does), whole batches
      // once workers run.
      const soon = this.#pool !== null || (this.#tuning.waitForWorkers === true && this.#starting !== null);
      this.#capacity = soon ? this.#perBatch : 1;
      const bytes = this.#capacity * this.#spec.chunkBytes;
      this.#batch = (this.#free.length > 0 && this.#free[0].byteLength === bytes ? this.#free.pop() : undefined) ??
        new ArrayBuffer(bytes);
    }
    return new Uint8Array(this.#batch, this.#items.length * this.#spec.chunkBytes, this.#spec.chunkBytes);
  }

  /** Keeps a batch-sized buffer that came back, for the next batch. */
  #recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.#perBatch * this.#spec.chunkBytes) this.#free.push(buffer);
  }

  async put(index: number, last: boolean, bytes: Uint8Array, controller: Controller): Promise<void> {
    checkIndex(index, this.#spec.op === "seal" ? "Encrypting" : "Decrypting");
    const at = this.#items.length * this.#spec.chunkBytes;
    if (this.#batch === null || bytes.buffer !== this.#batch || bytes.byteOffset !== at) {
      // Not the buffer this lane gave out: copy it into place.
      new Uint8Array(this.buffer().buffer as ArrayBuffer, at, bytes.length).set(bytes);
    }
    this.#items.push({ index, last, size: bytes.length });
    this.#taken += bytes.length;
    if (this.#items.length === this.#capacity || last) this.#dispatch(last);
    const most = this.#pool ? 2 * this.#workers : Math.max(1, this.#spec.options.concurrency ?? 4);
    while (this.#queue.length >= most) await this.#emit(controller);
  }

  async drain(controller: Controller): Promise<void> {
    if (this.#items.length > 0) this.#dispatch(true);
    while (this.#queue.length > 0) await this.#emit(controller);
  }

  /**
   * Enqueues `out` unless the readable side is gone: a consumer that cancels
   * while `flush` runs is not told (the streams spec calls no `cancel` then), and
   * enqueue throws. Returns false when the output was dropped.
   */
  #enqueue(controller: Controller, out: Uint8Array): boolean {
    if (this.#closed) return false;
    try {
      controller.enqueue(out);
      return true;
    } catch {
      this.#closed = true;
      return false;
    }
  }

  /** Releases the oldest batch, unless the stream was cancelled meanwhile (its readable side is gone). */
  async #emit(controller: Controller): Promise<void> {
    const outcome = await this.#queue.shift()!;
    if (!this.#closed) await outcome(controller);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting;
    const pool = this.#pool;
    this.#pool = null;
    await pool?.close();
  }

  #dispatch(last: boolean): void {
    const batch = this.#batch!;
    const items = this.#items;
    this.#batch = null;
    this.#items = [];
    if (!last && this.#starting === null && this.#taken >= this.#from) this.#start();
    const stats = this.#tuning.stats;
    const go = (): Promise<Outcome> => {
      if (stats && this.#pool) stats.workerBatches++;
      else if (stats) stats.inThreadBatches++;
      return this.#pool ? this.#onWorker(batch, items) : this.#inThread(batch, items);
    };
    const wait = this.#tuning.waitForWorkers && this.#starting !== null && this.#pool === null;
    this.#queue.push(handled(wait ? this.#starting!.then(go) : go()));
  }

  #start(): void {
    this.#starting = this.#spec.cipher.startWorkers(this.#workers).then(async (pool) => {
      if (this.#closed) await pool?.close();
      else this.#pool = pool;
    });
  }

  /** A batch processed here, as the in-thread lane would (used until the workers are ready). */
  #inThread(batch: ArrayBuffer, items: Item[]): Promise<Outcome> {
    const cb = this.#spec.chunkBytes;
    const outs = items.map((it, i) =>
      handled(processOne(this.#spec, it.index, it.last, new Uint8Array(batch, i * cb, it.size)))
    );
    return Promise.resolve(async (controller: Controller) => {
      for (const p of outs) {
        const out = await p;
        this.#spec.onOutput?.(out);
        if (!this.#enqueue(controller, out)) return;
      }
      this.#recycle(batch);
    });
  }

  async #onWorker(batch: ArrayBuffer, items: Item[]): Promise<Outcome> {
    const nonces = new Uint8Array(12 * items.length);
    items.forEach((it, i) => nonces.set(chunkNonce(it.index, it.last), 12 * i));
    const pool = this.#pool!;
    let r: BatchResult;
    try {
      r = await pool.run(this.#spec.op, nonces, items.map((it) => it.size), batch);
    } catch (e) {
      if (!pool.lost) throw e;
      // The workers ended while idle and cannot start again here; the batch never left, so this thread takes
      // over, as it does where workers cannot be made at all.
      if (this.#pool === pool) {
        this.#pool = null;
        pool.close().catch(() => {}); // wipes the pool's copy of the key; no worker is left to end
      }
      const stats = this.#tuning.stats;
      if (stats) {
        stats.workerBatches--;
        stats.inThreadBatches++;
      }
      return this.#inThread(batch, items);
    }
    return async (controller: Controller) => {
      for (const out of r.outs) {
        this.#spec.onOutput?.(out);
        if (!this.#enqueue(controller, out)) return;
      }
      if (r.ok) {
        this.#recycle(r.data);
        return;
      }
      // Reopen the failed chunk here: ChunkCipher.open names what failed (TRUNCATED, TRAILING_DATA or
      // PAYLOAD_AUTH_FAILED) exactly as the in-thread path does, and throws before any of its bytes.
      const it = items[r.item];
      const sealed = new Uint8Array(r.data, r.item * this.#spec.chunkBytes, it.size);
      (await this.#spec.cipher.open(it.index, it.last, sealed)).fill(0);
      throw new EnvelopeError("PAYLOAD_AUTH_FAILED", `Decrypting chunk ${it.index} failed: it did not verify`, {
        hint: "restore the file from a trusted copy; nothing of this chunk was released",
      });
    };
  }
}
