// Chunks on worker_threads in the installed package: a stream past the 4 MiB
// threshold round-trips at parallelism 2 (the worker module must load from
// the package's .js files), and the CLI's encrypt and decrypt of such a file
// exit by themselves (a live worker would keep node running until the
// 60-second timeout of support/cli.mjs kills it).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { decryptStream, encryptStream, LocalKey, RawDataKey } from "@envelope/envelope";
import { cliSandbox } from "./support/cli.mjs";

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
