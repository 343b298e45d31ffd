/**
 * Chunks sealed and opened on worker threads (src/envelope/parallel.ts,
 * src/crypto/worker_pool.ts): the same bytes as the in-thread path at every
 * chunk boundary, the same error codes on tampering with nothing of a bad
 * chunk released, and workers that end so the process can exit.
 *
 * LANE_TUNING puts messages of a few chunks on workers (small batches, no
 * threshold, batches waiting for the workers), and its counters prove the
 * workers ran: a pool that silently failed to start would fail these tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { encrypt } from "../src/envelope/encrypt.ts";
import { encryptStream } from "../src/envelope/encrypt.ts";
import { decryptStream } from "../src/envelope/decrypt.ts";
import { LANE_TUNING, type LaneTuning, MIN_PARALLEL_BYTES, resolveParallelism } from "../src/envelope/parallel.ts";
import { ChunkWorkerPool } from "../src/crypto/worker_pool.ts";
import { EnvelopeError } from "../src/errors.ts";
import { parseHeader } from "../src/format/header.ts";
import { RawDataKey } from "../src/keys/raw.ts";
import { concatBytes, drain, hex, prng, streamOf, withSalt } from "./support/envelope_harness.ts";

const TAG = 16;

/** Spread into options: the internal tuning of the lanes. */
function tune(t: LaneTuning): { [LANE_TUNING]: LaneTuning } {
  return { [LANE_TUNING]: t };
}

function tuning(chunkBytes: number, chunksPerBatch = 2): LaneTuning & {
  stats: { workerBatches: number; inThreadBatches: number };
} {
  return {
    from: 0,
    batchBytes: chunkBytes * chunksPerBatch,
    waitForWorkers: true,
    stats: { workerBatches: 0, inThreadBatches: 0 },
  };
}

async function sealStreamed(pt: Uint8Array, options: Parameters<typeof encryptStream>[0], ws: number) {
  const r = await drain(streamOf(pt, ws).pipeThrough(encryptStream(options)));
  if (r.error !== undefined) throw r.error;
  return concatBytes(r.parts);
}

const dk = prng(5).bytes(32);
const salt = prng(6).bytes(32);
const keys = await RawDataKey.create(dk);

Deno.test("workers write the bytes of the in-thread path and of encrypt(), and open them back, at every chunk boundary", async () => {
  for (const cs of [64, 1024]) {
    for (const len of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500, 300 * cs + 7]) {
      const pt = prng(len + cs).bytes(len);
      const base = { keys, chunkSize: cs, ...withSalt(salt) };
      const buffered = await encrypt(pt, base);
      for (const ws of [cs + 1, 100_000]) {
        const what = `cs ${cs}, length ${len}, writes of ${ws}`;
        const one = await sealStreamed(pt, { ...base, parallelism: 1 }, ws);
        assert.equal(hex(one), hex(buffered), `${what}: parallelism 1 is the buffered encoder's bytes`);
        const t = tuning(cs);
        const two = await sealStreamed(pt, { ...base, parallelism: 2, ...tune(t) }, ws);
        assert.equal(hex(two), hex(buffered), `${what}: parallelism 2`);
        const chunks = Math.max(1, Math.ceil(len / cs));
        // A message of one chunk ends in its first batch, so it never starts a worker; longer ones use them.
        if (chunks > 1) assert.ok(t.stats.workerBatches > 0, `${what}: no batch went to a worker`);
        else assert.equal(t.stats.workerBatches, 0, `${what}: a one-chunk message started workers`);

        const o = tuning(cs + TAG, 3);
        const opened = await drain(
          streamOf(buffered, ws).pipeThrough(decryptStream({ keys, parallelism: 3, ...tune(o) })),
        );
        assert.equal(opened.error, undefined, `${what}: ${String(opened.error)}`);
        assert.equal(hex(concatBytes(opened.parts)), hex(pt), `${what}: opened on workers`);
        if (chunks > 1) assert.ok(o.stats.workerBatches > 0, `${what}: no batch was opened on a worker`);
      }
    }
  }
});

Deno.test("a signed message sealed on workers verifies in-thread, and one sealed in-thread verifies on workers", async () => {
  const cs = 256;
  const pt = prng(9).bytes(40 * cs + 3);
  const t = tuning(cs);
  const sealed = await sealStreamed(pt, { keys, chunkSize: cs, sign: true, parallelism: 2, ...tune(t) }, 999);
  assert.ok(t.stats.workerBatches > 0);
  const back = await drain(streamOf(sealed, 777).pipeThrough(decryptStream({ keys, parallelism: 1 })));
  assert.equal(back.error, undefined, String(back.error));
  assert.equal(hex(concatBytes(back.parts)), hex(pt));

  const plain = await encrypt(pt, { keys, chunkSize: cs, sign: true });
  const o = tuning(cs + TAG);
  const opened = await drain(
    streamOf(plain, 500).pipeThrough(decryptStream({ keys, parallelism: 2, requireSigned: true, ...tune(o) })),
  );
  assert.equal(opened.error, undefined, String(opened.error));
  assert.equal(hex(concatBytes(opened.parts)), hex(pt));
  assert.ok(o.stats.workerBatches > 0);
  // The signature still covers every chunk: one changed ciphertext byte fails, whoever opens it.
  const bad = plain.slice();
  bad[parseHeader(plain).length + 5 * (cs + TAG) + 1] ^= 1;
  const r = await drain(
    streamOf(bad, 500).pipeThrough(decryptStream({ keys, parallelism: 2, ...tune(tuning(cs + TAG)) })),
  );
  assert.ok(r.error instanceof EnvelopeError && r.error.code === "PAYLOAD_AUTH_FAILED", String(r.error));
});

Deno.test("a chunk tampered in the middle of a worker's batch fails with PAYLOAD_AUTH_FAILED, releasing every chunk before it and nothing from it on", async () => {
  const cs = 1024;
  const full = cs + TAG;
  const pt = prng(12).bytes(40 * cs + 100);
  const sealed = await encrypt(pt, { keys, chunkSize: cs });
  const h = parseHeader(sealed);
  for (const c of [0, 13, 21, 39, 40]) {
    const m = sealed.slice();
    m[h.length + c * full + 7] ^= 0x40;
    const o = tuning(full, 4);
    const r = await drain(streamOf(m, 3000).pipeThrough(decryptStream({ keys, parallelism: 2, ...tune(o) })));
    assert.ok(r.error instanceof EnvelopeError && r.error.code === "PAYLOAD_AUTH_FAILED", `chunk ${c}: ${r.error}`);
    assert.match(r.error.message, new RegExp(`chunk ${c}\\b`));
    const released = concatBytes(r.parts);
    assert.equal(released.length, c * cs, `chunk ${c}: released ${released.length} bytes`);
    assert.equal(hex(released), hex(pt.subarray(0, released.length)));
    if (c >= 4) assert.ok(o.stats.workerBatches > 0, `chunk ${c}: no batch went to a worker`);
  }
});

Deno.test("on workers, a message cut after a full chunk is TRUNCATED and one with a chunk appended is TRAILING_DATA", async () => {
  const cs = 512;
  const full = cs + TAG;
  const pt = prng(13).bytes(20 * cs);
  const sealed = await encrypt(pt, { keys, chunkSize: cs });
  const h = parseHeader(sealed);
  const cut = sealed.subarray(0, h.length + 12 * full);
  const a = await drain(
    streamOf(cut, 4096).pipeThrough(decryptStream({ keys, parallelism: 2, ...tune(tuning(full, 4)) })),
  );
  assert.ok(a.error instanceof EnvelopeError && a.error.code === "TRUNCATED", String(a.error));
  assert.equal(concatBytes(a.parts).length, 11 * cs);
  const longer = concatBytes([sealed, sealed.subarray(h.length, h.length + full)]);
  const b = await drain(
    streamOf(longer, 4096).pipeThrough(decryptStream({ keys, parallelism: 2, ...tune(tuning(full, 4)) })),
  );
  assert.ok(b.error instanceof EnvelopeError && b.error.code === "TRAILING_DATA", String(b.error));
});

Deno.test("parallelism is a whole number of at least 1, and defaults to the number of cores", () => {
  assert.equal(resolveParallelism(undefined), Math.max(1, navigator.hardwareConcurrency));
  assert.equal(resolveParallelism(3), 3);
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => resolveParallelism(bad), RangeError);
});

Deno.test("a message no longer than the threshold never starts a worker, even at parallelism 4", async () => {
  const stats = { workerBatches: 0, inThreadBatches: 0 };
  const pt = prng(3).bytes(MIN_PARALLEL_BYTES);
  const sealed = await sealStreamed(pt, { keys, parallelism: 4, ...tune({ stats }) }, 1 << 20);
  assert.ok(stats.inThreadBatches > 0);
  assert.equal(stats.workerBatches, 0);
  assert.equal(hex(sealed), hex(await sealStreamed(pt, { keys, parallelism: 1, ...withSaltOf(sealed) }, 1 << 20)));
});

/** The salt of `message` (bytes 8..40 of the core are not guaranteed; read it from the parsed header). */
function withSaltOf(message: Uint8Array) {
  return withSalt(parseHeader(message).salt);
}

Deno.test("a worker that fails rejects its job with WORKER_FAILED, and a closed pool rejects new jobs", async () => {
  const pool = await ChunkWorkerPool.start(new Uint8Array(32), 1);
  assert.ok(pool !== null, "workers could not be started here");
  try {
    // An empty nonce is refused inside the worker: its job fails, not the process.
    await assert.rejects(
      pool.run("seal", new Uint8Array(0), [4], new ArrayBuffer(4)),
      (e) => e instanceof EnvelopeError && e.code === "WORKER_FAILED",
    );
  } finally {
    await pool.close();
  }
  const again = await ChunkWorkerPool.start(new Uint8Array(32), 2);
  assert.ok(again !== null);
  await again.close();
  await assert.rejects(
    again.run("seal", new Uint8Array(12), [1], new ArrayBuffer(1)),
    (e) => e instanceof EnvelopeError && e.code === "WORKER_FAILED",
  );
});

Deno.test("a process that streamed through workers exits by itself, after a finished stream and after a cancelled one", async () => {
  const script = `
    import { encryptStream } from ${JSON.stringify(new URL("../src/envelope/encrypt.ts", import.meta.url).href)};
    import { RawDataKey } from ${JSON.stringify(new URL("../src/keys/raw.ts", import.meta.url).href)};
    import { LANE_TUNING } from ${JSON.stringify(new URL("../src/envelope/parallel.ts", import.meta.url).href)};
    const keys = await RawDataKey.create(new Uint8Array(32));
    const stats = { workerBatches: 0, inThreadBatches: 0 };
    const opts = { keys, chunkSize: 1024, parallelism: 2, [LANE_TUNING]: { from: 0, batchBytes: 4096, waitForWorkers: true, stats } };
    let n = 0;
    for await (const c of ReadableStream.from([new Uint8Array(100_000)]).pipeThrough(encryptStream(opts))) n += c.length;
    const reader = ReadableStream.from([new Uint8Array(100_000), new Uint8Array(100_000)]).pipeThrough(encryptStream(opts)).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    console.log(JSON.stringify({ n, workerBatches: stats.workerBatches }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // a hang shows as a failure rather than a stuck suite
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(r.workerBatches > 0, "no batch went to a worker");
  assert.ok(r.n > 100_000);
});

Deno.test("on workers, 16 stray bytes after the final chunk fail with the in-thread path's code, not a TypeError", async () => {
  const cs = 512;
  const full = cs + TAG;
  const sealed = await encrypt(prng(14).bytes(20 * cs), { keys, chunkSize: cs });
  const longer = concatBytes([sealed, new Uint8Array(16)]);
  const one = await drain(streamOf(longer, 4096).pipeThrough(decryptStream({ keys, parallelism: 1 })));
  assert.ok(one.error instanceof EnvelopeError, String(one.error));
  const t = tuning(full, 3);
  const two = await drain(streamOf(longer, 4096).pipeThrough(decryptStream({ keys, parallelism: 2, ...tune(t) })));
  assert.ok(two.error instanceof EnvelopeError, String(two.error));
  assert.equal(two.error.code, one.error.code);
  assert.equal(concatBytes(two.parts).length, concatBytes(one.parts).length);
  assert.ok(t.stats.workerBatches > 0);
});
