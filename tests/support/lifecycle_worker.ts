/**
 * A worker for tests/host_worker_lifecycle_test.ts: the smallest body that
 * speaks host/worker_lifecycle.ts's protocol, so the lifecycle runs on real
 * workers. It answers `{ type: "ready" }` once loaded, keeps the `tag` of a
 * `{ type: "greet", tag }`, answers `{ type: "job", id, ms }` after `ms`
 * milliseconds with `{ type: "done", id, tag, worker }` (`worker`: a name of
 * its own), throws on `{ type: "job", id, crash: true }` as a thread that
 * dies would (the pool hears only the error event), and answers
 * `{ type: "end" }` with `{ type: "ended" }` once every job before it is
 * answered. Messages are handled one after another.
 *
 * @module
 */
import { parentPort } from "../../src/host/worker.ts";

const port = parentPort("lifecycle_worker.ts");
const worker = crypto.randomUUID();
let tag: unknown = null;
let queue: Promise<void> = Promise.resolve();

port.listen((m) => {
  queue = queue.then(() => handle(m));
});

async function handle(m: Record<string, unknown>): Promise<void> {
  if (m.type === "greet") {
    tag = m.tag;
  } else if (m.type === "job") {
    if (m.crash) {
      // Uncaught, outside this queue: the worker's error event, as a crash of the thread.
      setTimeout(() => {
        throw new Error("crashed by the test");
      });
      return;
    }
    await new Promise((r) => setTimeout(r, m.ms as number));
    port.post({ type: "done", id: m.id, tag, worker });
  } else if (m.type === "end") {
    port.post({ type: "ended" });
    port.close();
  }
}

port.post({ type: "ready" });
