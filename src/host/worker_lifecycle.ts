/**
 * The life of a pool of worker threads, shared by the chunk pool
 * (`crypto/worker_pool.ts`) and the zip pool (`archive/zip_workers.ts`):
 * starting the workers (host/worker.ts `spawnWorker`), sending each job to
 * the least busy one, counting the jobs in flight, ending the workers after
 * a while with no job, starting them again for the next job, and ending
 * them on close.
 *
 * A pool gives what its workers differ in: the worker module, the first
 * message a new worker gets (the chunk pool's key), the message that asks a
 * worker to end and is waited for (the chunk worker wipes its key first;
 * without one a worker is terminated at once, failing its jobs in flight),
 * how a reply becomes a job's result, and the pool's own error.
 *
 * Nothing here keeps a process alive by itself: the idle timer is
 * unreferenced, and a Node worker is referenced only while it has a job (or
 * while a caller awaits its end), so a job's result is never lost to an
 * exit. A worker that stops fails its jobs in flight, and every later job
 * sent to it, with the pool's error.
 *
 * @module
 */
import { spawnWorker, unrefTimer, type WorkerChannel } from "./worker.ts";

/** A message between a pool and its workers. */
export type WorkerMessage = Record<string, unknown>;

/** What a pool's workers are and how it speaks to them. */
export interface WorkerLifecycleOptions<R> {
  /** The worker module (host/worker.ts `siblingModule` of the pool's module). */
  readonly url: URL;
  /** The workers' name in debuggers. */
  readonly name: string;
  /** How many workers run while there is work (at least 1). */
  readonly size: number;
  /** How long, in milliseconds, the workers may sit with no job before they are ended. */
  readonly idleMs: number;
  /** The first message each new worker gets (a structured clone), before it answers `{ type: "ready" }`. */
  readonly greeting?: WorkerMessage;
  /**
   * The message that asks a worker to end: it answers `{ type: "ended" }`
   * once it has answered every job before it, and is terminated then.
   * Without it a worker is terminated at once and its jobs in flight fail.
   */
  readonly farewell?: WorkerMessage;
  /** A job's result from the worker's reply (a message with the job's `id`); throws to fail the job. */
  answer(reply: WorkerMessage): R;
  /** The pool's error when a worker stopped (`detail` says why), the pool closed, or workers could not start again. */
  failed(detail: string): Error;
}

interface Pending<R> {
  resolve(r: R): void;
  reject(e: unknown): void;
}

/** One worker: its channel, its jobs in flight, and whether it has ended. */
class Lane<R> {
  readonly #o: WorkerLifecycleOptions<R>;
  readonly #pending = new Map<number, Pending<R>>();
  #channel: WorkerChannel | null = null;
  #ready: ((ok: boolean) => void) | null = null;
  #ended: (() => void) | null = null;
  #dead: string | null = null;
  #ending: Promise<void> | null = null;
  /** A caller awaits this worker's end: its last job's answer must not let the process exit before it. */
  #held = false;
  jobs = 0;

  constructor(o: WorkerLifecycleOptions<R>) {
    this.#o = o;
  }

  /** Starts the worker and sends it the greeting; false if it cannot be made or stops before it is ready. */
  start(): Promise<boolean> {
    return new Promise((resolve) => {
      this.#ready = resolve;
      this.#channel = spawnWorker(this.#o.url, this.#o.name, (m) => this.#message(m), (d) => this.#fail(d));
      if (!this.#channel) return resolve(false);
      if (this.#o.greeting) this.#channel.post(this.#o.greeting);
    });
  }

  #message(m: WorkerMessage): void {
    if (typeof m.id === "number") {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (--this.jobs === 0 && !this.#held) this.#channel?.unref();
      let r: R;
      try {
        r = this.#o.answer(m);
      } catch (e) {
        return p.reject(e);
      }
      p.resolve(r);
    } else if (m.type === "ready") {
      // Referenced while it starts (a caller awaits it), unreferenced until it has a job.
      if (this.jobs === 0) this.#channel?.unref();
      this.#ready?.(true);
      this.#ready = null;
    } else if (m.type === "ended") {
      this.#ended?.();
    } else if (m.type === "error") {
      this.#fail(String(m.message));
    }
  }

  #fail(detail: string): void {
    if (this.#dead !== null) return;
    this.#dead = detail;
    this.#ready?.(false);
    this.#ready = null;
    for (const p of this.#pending.values()) p.reject(this.#o.failed(detail));
    this.#pending.clear();
    this.#ended?.();
    this.#channel?.terminate();
  }

  run(id: number, message: WorkerMessage, transfer: ArrayBuffer[]): Promise<R> {
    if (this.#dead !== null) return Promise.reject(this.#o.failed(this.#dead));
    // A job in flight holds the process open, so its result cannot be lost to an exit.
    if (this.jobs++ === 0) this.#channel!.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel!.post({ ...message, id }, transfer);
    });
  }

  /**
   * Ends the worker: with a farewell, sends it and waits for the answer
   * (`hold`: the process stays up meanwhile, as a caller awaits the end; an
   * idle pool's ending lets it exit instead), then terminates it; without,
   * terminates it at once. A second call waits for the first.
   */
  end(hold: boolean): Promise<void> {
    if (hold && this.#o.farewell) {
      this.#held = true;
      this.#channel?.ref();
    }
    return this.#ending ??= this.#end();
  }

  async #end(): Promise<void> {
    if (this.#channel === null) return;
    if (this.#dead === null && this.#o.farewell) {
      const ended = new Promise<void>((resolve) => (this.#ended = resolve));
      this.#channel.post(this.#o.farewell);
      await ended;
    }
    this.#fail("closed");
    this.#channel = null;
  }
}

/** Starts `o.size` workers; null, with none left running, if any cannot start. */
async function startLanes<R>(o: WorkerLifecycleOptions<R>, size: number): Promise<Lane<R>[] | null> {
  const lanes = Array.from({ length: size }, () => new Lane(o));
  const ok = await Promise.all(lanes.map((l) => l.start()));
  if (ok.every(Boolean)) return lanes;
  await Promise.all(lanes.map((l) => l.end(true)));
  return null;
}

/**
 * A pool's workers over their life: started, given jobs, ended when idle,
 * started again, closed.
 *
 * @example Two workers, each job to the less busy one
 * ```ts ignore
 * const workers = await WorkerLifecycle.start({
 *   url: siblingModule(import.meta.url, "zip_worker"),
 *   name: "envelope-zip",
 *   size: 2,
 *   idleMs: 1500,
 *   answer: (m) => m,
 *   failed: (detail) => new Error(`a worker stopped (${detail})`),
 * });
 * const reply = await workers?.run({ type: "deflate", data, level: 6, final: true }, [data]);
 * await workers?.close();
 * ```
 */
export class WorkerLifecycle<R> {
  readonly #o: WorkerLifecycleOptions<R>;
  /** The running workers: none after the pool idled, until the next job starts them again. */
  #lanes: Lane<R>[];
  readonly #size: number;
  /** Workers starting again after idling, shared by the jobs that wait for them. */
  #restarting: Promise<void> | null = null;
  /** Workers being ended after idling (close waits for them). */
  readonly #retiring = new Set<Lane<R>>();
  #closing: Promise<void> | undefined;
  #inflight = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lost = false;
  #next = 0;

  private constructor(o: WorkerLifecycleOptions<R>, lanes: Lane<R>[]) {
    this.#o = o;
    this.#lanes = lanes;
    this.#size = lanes.length;
  }

  /** Starts the workers; resolves to `null`, with nothing left running, when workers cannot be made here. */
  static async start<R>(o: WorkerLifecycleOptions<R>): Promise<WorkerLifecycle<R> | null> {
    const lanes = await startLanes(o, Math.max(1, o.size));
    if (lanes === null) return null;
    const workers = new WorkerLifecycle(o, lanes);
    workers.#waitIdle(); // workers no job ever reaches end too
    return workers;
  }

  /** How many workers run when there is work. */
  get size(): number {
    return this.#size;
  }

  /** How many workers run now: 0 once they idled (or closed). */
  get running(): number {
    return this.#lanes.length;
  }

  /** Jobs sent and not yet answered. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Whether {@linkcode WorkerLifecycle.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the workers, once ended while idle, could not be started again (a later job tries again). */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Sends `message`, with a fresh `id`, to the least busy worker, started
   * again first if the workers idled; `transfer` moves with it. Resolves to
   * `answer` of the reply; rejects with `failed` if that worker stops, the
   * workers cannot start again, or the pool is closed.
   */
  run(message: WorkerMessage, transfer: ArrayBuffer[]): Promise<R> {
    if (this.#closed) return Promise.reject(this.#o.failed("closed"));
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

  #dispatch(id: number, message: WorkerMessage, transfer: ArrayBuffer[]): Promise<R> {
    if (this.#lanes.length === 0) return Promise.reject(this.#o.failed("closed"));
    let lane = this.#lanes[0];
    for (const l of this.#lanes) if (l.jobs < lane.jobs) lane = l;
    return lane.run(id, message, transfer);
  }

  /** Starts the workers again after they idled; rejects with `failed` if they cannot start. */
  #restart(): Promise<void> {
    this.#restarting ??= startLanes(this.#o, this.#size).then(async (lanes) => {
      this.#restarting = null;
      if (lanes === null) {
        this.#lost = true;
        throw this.#o.failed("a worker could not be started again");
      }
      if (this.#closed) {
        await Promise.all(lanes.map((l) => l.end(true)));
        throw this.#o.failed("closed");
      }
      this.#lanes = lanes;
    });
    return this.#restarting;
  }

  /** Ends the workers after `idleMs` with no job in flight, with a timer that holds no process. */
  #waitIdle(): void {
    if (this.#closed || this.#lanes.length === 0) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#inflight > 0 || this.#closed) return;
      // Nothing waits for this, so the process may exit meanwhile.
      for (const l of this.#lanes.splice(0)) {
        this.#retiring.add(l);
        const done = () => void this.#retiring.delete(l);
        l.end(false).then(done, done);
      }
    }, this.#o.idleMs);
    unrefTimer(this.#idle);
  }

  /**
   * Ends every worker, those ending after idling and those starting again
   * included; the pool is unusable after. Without a farewell the workers are
   * terminated before this returns (their jobs in flight fail); the promise
   * resolves once every worker answered its farewell. It never rejects.
   */
  async close(): Promise<void> {
    // A second call waits for the first: it found no lanes left, and resolved while the workers still held the key.
    return await (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#idle = undefined;
    const lanes = this.#lanes.splice(0);
    await Promise.all([
      ...[...lanes, ...this.#retiring].map((l) => l.end(true)),
      this.#restarting?.catch(() => {}),
    ]);
  }
}
