// Chunks on worker_threads in the installed package: a stream past the 4 MiB
// threshold round-trips at parallelism 2 (the worker module must load from
// the package's .js files), the CLI's encrypt and decrypt of such a file
// exit by themselves (a live worker would keep node running until the
// 60-second timeout of support/cli.mjs kills it), and so does a program that
// drops a stream on workers half read (support/drop_stream.mjs).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { decryptStream, encryptStream, LocalKey, RawDataKey } from "@envelope/envelope";
import { cliSandbox, INSTALL_DIR } from "./support/cli.mjs";

const MiB = 1024 * 1024;

async function collect(stream) {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

test("a 6 MiB stream sealed and opened on workers round-trips, and opens on one thread", async () => {
  const keys = await RawDataKey.create(randomBytes(32));
  const data = randomBytes(6 * MiB + 777);
  const sealed = await collect(ReadableStream.from([data]).pipeThrough(encryptStream({ keys, parallelism: 2 })));
  const back = await collect(ReadableStream.from([sealed]).pipeThrough(decryptStream({ keys, parallelism: 2 })));
  assert.ok(back.equals(data));
  const one = await collect(ReadableStream.from([sealed]).pipeThrough(decryptStream({ keys, parallelism: 1 })));
  assert.ok(one.equals(data));
});

test("envelope encrypt and decrypt of a 6 MiB file with --parallelism 2 exit 0 and restore the file", async () => {
  const { work, bin } = cliSandbox();
  writeFileSync(join(work, "k"), (await LocalKey.generate()).toText(), { mode: 0o600 });
  const data = randomBytes(6 * MiB);
  writeFileSync(join(work, "data"), data);
  const k = ["-k", `local:${join(work, "k")}`];
  const enc = bin(["encrypt", join(work, "data"), ...k, "--parallelism", "2", "-o", join(work, "data.envl")]);
  assert.equal(enc.status, 0, enc.stderr);
  const dec = bin(["decrypt", join(work, "data.envl"), ...k, "--parallelism", "2", "-o", join(work, "out")]);
  assert.equal(dec.status, 0, dec.stderr);
  assert.ok(readFileSync(join(work, "out")).equals(data));
});

for (const op of ["encrypt", "decrypt"]) {
  test(`a program that drops a ${op} stream on workers half read, without cancelling it, exits at once`, () => {
    const r = spawnSync(process.execPath, [join(INSTALL_DIR, "support", "drop_stream.mjs"), op], {
      cwd: INSTALL_DIR,
      encoding: "utf8",
      timeout: 10_000, // a hung child is killed, and fails below
    });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.signal, null, `killed by ${r.signal} after 10 s: it did not exit by itself`);
    assert.equal(r.status, 0, r.stderr);
    const [seen, exit] = r.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.ok(seen.read >= 6 * MiB, `read only ${seen.read} bytes`);
    assert.ok(seen.workers >= 1, "no worker_threads worker was started: the test did not reach the pool");
    // Unreferenced workers and timer: the process ends with the script, not after the pool's 1.5 s idle timeout
    // (src/crypto/worker_pool.ts IDLE_TIMEOUT_MS), which is what a referenced worker or timer would cost.
    assert.ok(exit.exitAfterDropMs < 1000, `exited ${exit.exitAfterDropMs} ms after the drop`);
  });
}

test("a chunk pool closed with jobs in flight settles its close before the program exits (20 runs)", () => {
  for (let run = 0; run < 20; run++) {
    const r = spawnSync(process.execPath, [join(INSTALL_DIR, "support", "close_pool.mjs")], {
      cwd: INSTALL_DIR,
      encoding: "utf8",
      timeout: 10_000, // a hung child is killed, and fails below
    });
    assert.equal(r.signal, null, `run ${run}: killed by ${r.signal} after 10 s`);
    assert.equal(r.status, 0, `run ${run}: exit ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), "closed", `run ${run}: the program ended before close() settled`);
  }
});
