/**
 * Worker threads on every runtime, for the two pools that use them (the
 * chunk workers of `crypto/worker_pool.ts`, the zip workers of
 * `archive/zip_workers.ts`): a Web Worker where the runtime has one (Deno,
 * browsers), `node:worker_threads` on Node, nothing where neither can start
 * (the caller then stays on its own thread). Both sides are here: starting a
 * worker from the pool, and the worker's channel back to it. A pool's
 * workers over their life (dispatch, the idle end, the restart, close) are
 * host/worker_lifecycle.ts's.
 *
 * No `node:` module is imported: Node's `worker_threads` is reached through
 * `process.getBuiltinModule` (Node 20.16 and 22.3 on), so a page's bundle and
 * a Deno run never load Deno's Node layer for it.
 *
 * @module
 */

/** A started worker, as its pool sees it. */
export interface WorkerChannel {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
  /** Lets the worker keep the process alive (Node; a Web Worker always does). */
  ref(): void;
  /** Lets the process exit while the worker lives (Node; nothing elsewhere). */
  unref(): void;
}

interface NodeWorker {
  on(event: string, handler: (x: unknown) => void): void;
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): unknown;
  ref(): void;
  unref(): void;
}

interface NodeParentPort {
  on(event: "message", handler: (m: Record<string, unknown>) => void): void;
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  close(): void;
}

/** Node's `worker_threads`, where the runtime is Node (undefined elsewhere, and on Node before 20.16). */
function nodeWorkerThreads():
  | { Worker?: new (url: URL, options?: object) => NodeWorker; parentPort?: NodeParentPort | null }
  | undefined {
  const g = globalThis as unknown as {
    process?: { getBuiltinModule?: (name: string) => Record<string, unknown> | undefined };
  };
  return g.process?.getBuiltinModule?.("node:worker_threads") as ReturnType<typeof nodeWorkerThreads>;
}

/**
 * How many threads can run at once here, the default number of workers:
 * `navigator.hardwareConcurrency` (Deno, browsers, Node 21 on), else Node's
 * `os.availableParallelism()` (Node 20 has no `navigator`), else 1.
 */
export function hardwareThreads(): number {
  const g = globalThis as unknown as {
    navigator?: { hardwareConcurrency?: number };
    process?: { getBuiltinModule?: (name: string) => { availableParallelism?: () => number } | undefined };
  };
  const n = g.navigator?.hardwareConcurrency ?? g.process?.getBuiltinModule?.("node:os")?.availableParallelism?.();
  return Math.max(1, Math.floor(n ?? 1));
}

/**
 * The URL of the worker module `name` (without extension) beside the module
 * at `base` (its `import.meta.url`): `.ts` in a checkout, `.js` in the npm
 * build.
 */
export function siblingModule(base: string, name: string): URL {
  const ext = new URL(base).pathname.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./${name}${ext}`, base);
}

/**
 * Starts the worker module at `url`; `onMessage` and `onError` get its
 * replies and its failure (an error, a message that could not be read, or,
 * on Node, its exit). `name` shows in debuggers. Null where no worker can be
 * started (a page whose policy forbids workers, a runtime without them).
 */
export function spawnWorker(
  url: URL,
  name: string,
  onMessage: (m: Record<string, unknown>) => void,
  onError: (detail: string) => void,
): WorkerChannel | null {
  const g = globalThis as unknown as {
    Worker?: new (url: URL, options: { type: "module"; name?: string }) => Worker;
  };
  try {
    if (typeof g.Worker === "function") {
      const w = new g.Worker(url, { type: "module", name });
      w.onmessage = (e) => onMessage(e.data);
      w.onerror = (e) => {
        e.preventDefault(); // handled here: without this, Deno ends the whole process
        onError(e.message || "error");
      };
      w.onmessageerror = () => onError("a message could not be read");
      const none = () => {};
      return { post: (m, t) => w.postMessage(m, t ?? []), terminate: () => w.terminate(), ref: none, unref: none };
    }
    const NodeWorkerClass = nodeWorkerThreads()?.Worker;
    if (NodeWorkerClass) {
      // A small young generation: a worker's own objects are few and small (its buffers are transferred), and
      // Node's default let a 1 GiB decrypt peak at 153 MB RSS against 134 to 140 MB with this (load average 5-6).
      const w = new NodeWorkerClass(url, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.on("message", (m) => onMessage(m as Record<string, unknown>));
      w.on("error", (e) => onError((e as Error)?.message ?? String(e)));
      w.on("exit", (code) => onError(`exited with code ${code}`));
      return {
        post: (m, t) => w.postMessage(m, t ?? []),
        terminate: () => void w.terminate(),
        ref: () => w.ref(),
        unref: () => w.unref(),
      };
    }
  } catch {
    // no workers here: the caller stays on its own thread
  }
  return null;
}

/** Keeps a timer (a pool's idle timer) from holding the process open: `Deno.unrefTimer` in Deno, `.unref()` on Node. */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
  } else {
    (timer as { unref?(): void }).unref?.();
  }
}

/** A worker's channel to the thread that started it. */
export interface ParentPort {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  listen(handler: (message: Record<string, unknown>) => void): void;
  close(): void;
}

/**
 * The channel back to the thread that started this worker: `self` in a Web
 * Worker, `parentPort` on Node. Throws, naming `who` (the worker module),
 * when the module is not running as a worker.
 */
export function parentPort(who: string): ParentPort {
  const g = globalThis as unknown as {
    postMessage?: (m: unknown, transfer?: ArrayBuffer[]) => void;
    addEventListener?: (t: "message", h: (e: MessageEvent) => void) => void;
    close?: () => void;
  };
  if (typeof g.postMessage === "function" && typeof g.addEventListener === "function") {
    return {
      post: (m, t) => g.postMessage!(m, t ?? []),
      listen: (h) => g.addEventListener!("message", (e) => h(e.data)),
      close: () => g.close?.(),
    };
  }
  const parent = nodeWorkerThreads()?.parentPort;
  if (!parent) throw new Error(`${who} runs only as a worker`);
  return {
    post: (m, t) => parent.postMessage(m, t ?? []),
    listen: (h) => parent.on("message", h),
    close: () => parent.close(),
  };
}
