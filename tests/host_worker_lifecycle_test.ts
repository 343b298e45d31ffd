/**
 * host/worker_lifecycle.ts on real workers (tests/support/lifecycle_worker.ts):
 * each job goes to the least busy worker; idle workers are asked to end and
 * terminated, and the next job starts them again, greeted again; close waits
 * for a busy worker's farewell, or, without one, terminates it at once; a
 * worker that dies fails its job and every later one sent to it; workers
 * that cannot start again set `lost`.
 */
import assert from "node:assert/strict";
import { WorkerLifecycle, type WorkerLifecycleOptions } from "../src/host/worker_lifecycle.ts";

interface Reply {
  tag: unknown;
  worker: string;
}

function options(over: Partial<WorkerLifecycleOptions<Reply>> = {}): WorkerLifecycleOptions<Reply> {
  return {
    url: new URL("./support/lifecycle_worker.ts", import.meta.url),
    name: "lifecycle-test",
    size: 2,
    idleMs: 60_000,
    greeting: { type: "greet", tag: "hello" },
    farewell: { type: "end" },
    answer: (m) => ({ tag: m.tag, worker: m.worker as string }),
    failed: (detail) => new Error(`a test worker stopped (${detail})`),
    ...over,
  };
}

async function start(o: WorkerLifecycleOptions<Reply>): Promise<WorkerLifecycle<Reply>> {
  const workers = await WorkerLifecycle.start(o);
  assert.ok(workers !== null, "workers could not be started here");
  return workers;
}

const job = (ms: number) => ({ type: "job", ms });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the Workers made and terminated, and the messages posted to them by type, while installed. */
function countingWorkers() {
  const Real = globalThis.Worker;
  const seen = { made: 0, terminated: 0, posted: new Map<string, number>() };
  globalThis.Worker = new Proxy(Real, {
    construct(target, args, newTarget) {
      const w: Worker = Reflect.construct(target, args, newTarget);
      seen.made++;
      const post = w.postMessage.bind(w) as (m: unknown, t: Transferable[]) => void;
      const terminate = w.terminate.bind(w);
      w.postMessage = (m: unknown, t?: Transferable[] | StructuredSerializeOptions) => {
        const type = (m as { type?: string })?.type ?? "";
        seen.posted.set(type, (seen.posted.get(type) ?? 0) + 1);
        post(m, t as Transferable[]);
      };
      w.terminate = () => {
        seen.terminated++;
        terminate();
      };
      return w;
    },
  });
  return { seen, restore: () => void (globalThis.Worker = Real) };
}

/** As a page whose policy forbids workers: every `new Worker` throws while `run` runs. */
async function withoutWorkers<T>(run: () => Promise<T>): Promise<T> {
  const Real = globalThis.Worker;
  globalThis.Worker = class {
    constructor() {
      throw new DOMException("workers are not allowed here", "SecurityError");
    }
  } as unknown as typeof Worker;
  try {
    return await run();
  } finally {
    globalThis.Worker = Real;
  }
}

Deno.test("worker lifecycle: a job goes to the least busy worker, not the next in turn", async () => {
  const workers = await start(options());
  try {
    const a = workers.run(job(400), []);
    const b = await workers.run(job(10), []);
    assert.equal(workers.inflight, 1, "a is still in flight");
    // a's worker has a job, b's has none: c goes to b's (in turn it would go to a's).
    const c = await workers.run(job(10), []);
    const first = await a;
    assert.notEqual(b.worker, first.worker, "b went to the busy worker");
    assert.equal(c.worker, b.worker, "c went to the busy worker");
    assert.equal(first.tag, "hello", "the worker was not greeted before its job");
    assert.equal(workers.inflight, 0);
  } finally {
    await workers.close();
  }
});

Deno.test("worker lifecycle: idle workers are asked to end and terminated; the next jobs share one restart", async () => {
  const counting = countingWorkers();
  try {
    const workers = await start(options({ idleMs: 300 }));
    try {
      assert.equal(counting.seen.made, 2);
      await workers.run(job(1), []);
      assert.equal(workers.running, 2);
      await sleep(800);
      assert.equal(workers.running, 0, "the workers still run after the idle timeout");
      assert.equal(counting.seen.posted.get("end"), 2, "each idle worker was asked to end");
      assert.equal(counting.seen.terminated, 2, "the idle workers were not terminated");
      const [x, y] = await Promise.all([workers.run(job(50), []), workers.run(job(50), [])]);
      assert.equal(counting.seen.made, 4, "two jobs after idling made other than one restart of two workers");
      assert.equal(workers.running, 2);
      assert.notEqual(x.worker, y.worker, "the restarted workers did not share the jobs");
      assert.deepEqual([x.tag, y.tag], ["hello", "hello"], "a restarted worker was not greeted");
      assert.equal(counting.seen.posted.get("greet"), 4);
      assert.equal(workers.lost, false);
    } finally {
      await workers.close();
    }
  } finally {
    counting.restore();
  }
});

Deno.test("worker lifecycle: close waits for a busy worker's farewell, which comes after its job", async () => {
  const workers = await start(options({ size: 1 }));
  const events: string[] = [];
  const answered = workers.run(job(300), []).then((r) => {
    events.push("job answered");
    return r;
  });
  await workers.close();
  events.push("closed");
  assert.deepEqual(events, ["job answered", "closed"]);
  assert.equal((await answered).tag, "hello");
  assert.equal(workers.running, 0);
  await assert.rejects(workers.run(job(1), []), /a test worker stopped \(closed\)/);
});

Deno.test("worker lifecycle: a second close waits for the first, and for the busy worker's farewell", async () => {
  // The second call used to find no workers left and resolve at once, while the first still waited for the
  // farewell: the chunk pool wiped its key and told its caller the workers were done while they still held it.
  const workers = await start(options({ size: 1 }));
  const events: string[] = [];
  const answered = workers.run(job(300), []).then(() => events.push("job answered"));
  const first = workers.close().then(() => events.push("first close"));
  await workers.close();
  events.push("second close");
  await first;
  await answered;
  assert.deepEqual(events, ["job answered", "first close", "second close"]);
});

Deno.test("worker lifecycle: without a farewell, close terminates a busy worker at once and its job fails", async () => {
  const counting = countingWorkers();
  try {
    const workers = await start(options({ size: 1, farewell: undefined }));
    const answered = workers.run(job(300), []).then(() => "answered", (e: Error) => e.message);
    const closing = workers.close();
    assert.equal(counting.seen.terminated, 1, "close returned before terminating the worker");
    assert.equal(await answered, "a test worker stopped (closed)");
    await closing;
    assert.equal(counting.seen.posted.get("end"), undefined, "a worker was sent a farewell it was not given");
  } finally {
    counting.restore();
  }
});

Deno.test("worker lifecycle: a worker that dies fails its job, and every later job sent to it, with its error", async () => {
  const workers = await start(options({ size: 1 }));
  try {
    await assert.rejects(
      workers.run({ type: "job", crash: true }, []),
      /a test worker stopped \(.*crashed by the test/,
    );
    // The same worker (it is the only one): refused at once, not sent and waited for.
    await assert.rejects(workers.run(job(1), []), /a test worker stopped \(.*crashed by the test/);
    assert.equal(workers.inflight, 0);
  } finally {
    await workers.close();
  }
});

Deno.test("worker lifecycle: workers that cannot start again set lost; where none can start, start is null", async () => {
  assert.equal(await withoutWorkers(() => WorkerLifecycle.start(options())), null);
  const workers = await start(options({ idleMs: 100 }));
  try {
    await workers.run(job(1), []);
    await sleep(500);
    assert.equal(workers.running, 0, "the workers still run after the idle timeout");
    await withoutWorkers(() =>
      assert.rejects(workers.run(job(1), []), /a test worker stopped \(a worker could not be started again\)/)
    );
    assert.equal(workers.lost, true);
    assert.equal(workers.running, 0);
    // The lifecycle keeps no verdict of its own: a later job tries again (the chunk pool refuses it instead).
    assert.equal((await workers.run(job(1), [])).tag, "hello");
    assert.equal(workers.running, 2);
  } finally {
    await workers.close();
  }
});
