/**
 * A chunk worker pool (src/crypto/worker_pool.ts) that goes idle: it never
 * keeps a process alive by itself, so a Deno process that drops an encrypt
 * or decrypt stream half read (no cancel) exits by itself, and a pool that
 * ended its workers after {@linkcode IDLE_TIMEOUT_MS} starts them again for
 * the next job, with the bytes of the in-thread path.
 *
 * Node's side (unreferenced `worker_threads` workers) is tested in the
 * installed npm package: tests/npm/parallel.node.mjs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AesGcm } from "../src/crypto/aes_gcm.ts";
import { ChunkWorkerPool, IDLE_TIMEOUT_MS } from "../src/crypto/worker_pool.ts";
import { decryptStream, encryptStream } from "../mod.ts";
import { encrypt } from "../src/envelope/encrypt.ts";
import { LANE_TUNING } from "../src/envelope/parallel.ts";
import { RawDataKey } from "../src/keys/raw.ts";
import { concatBytes, drain, hex, prng, withSalt } from "./support/envelope_harness.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** A dropped stream's process must be gone this long after it starts (it takes about 2 s: start-up, idle timeout). */
const EXIT_BOUND_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the Workers this process makes while `f` runs. */
async function countingWorkers<T>(f: () => Promise<T>): Promise<{ result: T; made: number }> {
  const Real = globalThis.Worker;
  let made = 0;
  globalThis.Worker = class extends Real {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      made++;
    }
  };
  try {
    return { result: await f(), made };
  } finally {
    globalThis.Worker = Real;
  }
}

Deno.test("an idle pool ends its workers after IDLE_TIMEOUT_MS and starts them again for the next job, with the same bytes", async () => {
  const key = prng(21).bytes(32);
  const pool = await ChunkWorkerPool.start(key, 2);
  assert.ok(pool !== null, "workers could not be started here");
  try {
    const sizes = [1000, 17, 4096];
    const input = prng(22).bytes(sizes.reduce((a, b) => a + b));
    const nonces = prng(23).bytes(12 * sizes.length);
    const gcm = await AesGcm.create(key);
    const expected: string[] = [];
    let off = 0;
    for (let i = 0; i < sizes.length; i++) {
      const sealed = await gcm.sealAsync(nonces.subarray(12 * i, 12 * i + 12), input.subarray(off, off + sizes[i]));
      expected.push(hex(sealed));
      off += sizes[i];
    }
    gcm.dispose();
    const seal = async () => {
      const r = await pool.run("seal", nonces.slice(), sizes, input.slice().buffer);
      assert.ok(r.ok);
      return r.outs.map(hex);
    };

    assert.deepEqual(await seal(), expected);
    assert.equal(pool.running, 2);
    await sleep(IDLE_TIMEOUT_MS + 700);
    assert.equal(pool.running, 0, "the workers still run after the idle timeout");
    assert.equal(pool.size, 2);
    // Two jobs at once share one restart.
    const [a, b] = await Promise.all([seal(), seal()]);
    assert.deepEqual(a, expected);
    assert.deepEqual(b, expected);
    assert.equal(pool.running, 2);
  } finally {
    await pool.close();
  }
  assert.equal(pool.running, 0);
});

const dk = prng(24).bytes(32);
const salt = prng(25).bytes(32);
const keys = await RawDataKey.create(dk);

/** Two parts with a pause longer than the idle timeout between them; `paused` runs at its end. */
function pausedSource(first: Uint8Array, second: Uint8Array, paused?: () => void): ReadableStream<Uint8Array> {
  let step = 0;
  return new ReadableStream({
    async pull(c) {
      if (step === 0) c.enqueue(first);
      else if (step === 1) {
        await sleep(IDLE_TIMEOUT_MS + 700);
        paused?.();
        c.enqueue(second);
      } else c.close();
      step++;
    },
  }, { highWaterMark: 0 });
}

Deno.test("a stream paused past the idle timeout restarts its workers and writes the in-thread path's bytes, both ways", async () => {
  const cs = 1024;
  const pt = prng(26).bytes(200 * cs + 5);
  const cut = 90 * cs + 333;
  const tuning = () => ({
    from: 0,
    batchBytes: 4 * cs,
    waitForWorkers: true,
    stats: { workerBatches: 0, inThreadBatches: 0 },
  });
  const base = { keys, chunkSize: cs, ...withSalt(salt) };
  const sequential = await encrypt(pt, base);

  const t = tuning();
  const sealed = await countingWorkers(() =>
    drain(
      pausedSource(pt.subarray(0, cut), pt.subarray(cut)).pipeThrough(
        encryptStream({ ...base, parallelism: 2, [LANE_TUNING]: t } as Parameters<typeof encryptStream>[0]),
      ),
    )
  );
  assert.equal(sealed.result.error, undefined, String(sealed.result.error));
  assert.equal(hex(concatBytes(sealed.result.parts)), hex(sequential));
  assert.equal(sealed.made, 2, "one worker, started, ended when idle, and started again");
  assert.equal(t.stats.inThreadBatches, 0);

  const o = tuning();
  const at = cut + 1000;
  const opened = await countingWorkers(() =>
    drain(
      pausedSource(sequential.subarray(0, at), sequential.subarray(at)).pipeThrough(
        decryptStream({ keys, parallelism: 2, [LANE_TUNING]: o } as Parameters<typeof decryptStream>[0]),
      ),
    )
  );
  assert.equal(opened.result.error, undefined, String(opened.result.error));
  assert.equal(hex(concatBytes(opened.result.parts)), hex(pt));
  assert.equal(opened.made, 2, "one worker, started, ended when idle, and started again");
  assert.equal(o.stats.inThreadBatches, 0);
});

Deno.test("a stream whose workers cannot start again after a pause finishes on its own thread, with the same bytes", async () => {
  const cs = 1024;
  const pt = prng(27).bytes(120 * cs + 9);
  const cut = 50 * cs;
  const base = { keys, chunkSize: cs, ...withSalt(salt) };
  const sequential = await encrypt(pt, base);
  const t = { from: 0, batchBytes: 4 * cs, waitForWorkers: true, stats: { workerBatches: 0, inThreadBatches: 0 } };
  const Real = globalThis.Worker;
  try {
    const r = await drain(
      pausedSource(pt.subarray(0, cut), pt.subarray(cut), () => {
        // As a page whose policy forbids workers (tests/browser_parallel_test.ts): the restart fails.
        globalThis.Worker = class {
          constructor() {
            throw new DOMException("workers are not allowed here", "SecurityError");
          }
        } as unknown as typeof Worker;
      }).pipeThrough(
        encryptStream({ ...base, parallelism: 2, [LANE_TUNING]: t } as Parameters<typeof encryptStream>[0]),
      ),
    );
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(hex(concatBytes(r.parts)), hex(sequential));
  } finally {
    globalThis.Worker = Real;
  }
  assert.ok(t.stats.workerBatches > 0, "no batch went to a worker before the pause");
  assert.ok(t.stats.inThreadBatches > 0, "no batch was sealed here after the pause");
});

/**
 * A script that streams 24 MiB in 1 MiB writes through encryptStream or
 * decryptStream at parallelism 3, reads 6 MiB of the output (past the 4 MiB
 * where workers start), prints what it saw and ends, leaving the stream
 * unread and uncancelled.
 */
function dropScript(op: "encrypt" | "decrypt"): string {
  const mod = new URL("../mod.ts", import.meta.url).href;
  return `
    import { decryptStream, encrypt, encryptStream, RawDataKey } from ${JSON.stringify(mod)};
    const MiB = 1024 * 1024;
    const keys = await RawDataKey.create(new Uint8Array(32).fill(7));
    const plain = new Uint8Array(24 * MiB).fill(1);
    const input = ${JSON.stringify(op)} === "encrypt" ? plain : await encrypt(plain, { keys, parallelism: 1 });
    let workers = 0;
    const Real = globalThis.Worker;
    globalThis.Worker = class extends Real {
      constructor(url, options) {
        super(url, options);
        workers++;
      }
    };
    let at = 0;
    const source = new ReadableStream({
      pull(c) {
        if (at >= input.length) return c.close();
        c.enqueue(input.slice(at, at + MiB));
        at += MiB;
      },
    });
    const options = { keys, parallelism: 3 };
    const reader = source.pipeThrough(${op}Stream(options)).getReader();
    let read = 0;
    while (read < 6 * MiB) {
      const r = await reader.read();
      if (r.done) break;
      read += r.value.length;
    }
    console.log(JSON.stringify({ read, workers }));
  `;
}

for (const op of ["encrypt", "decrypt"] as const) {
  Deno.test(`a Deno process that drops a ${op} stream on workers half read, without cancelling it, exits by itself`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "envelope-idle-" });
    try {
      const script = join(dir, `drop_${op}.ts`);
      await Deno.writeTextFile(script, dropScript(op));
      const t0 = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", join(ROOT, "deno.json"), script],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(EXIT_BOUND_MS), // kills a child that hangs
      }).output();
      const ms = Math.round(performance.now() - t0);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(ms < EXIT_BOUND_MS, `the child did not exit within ${EXIT_BOUND_MS} ms and was killed`);
      assert.equal(out.code, 0, `exit code ${out.code}, signal ${out.signal}: ${stderr}`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.ok(r.read >= 6 * 1024 * 1024, `read only ${r.read} bytes`);
      assert.ok(r.workers >= 1, "no worker was started: the test did not reach the pool");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
