/**
 * `--parallelism` of `envelope encrypt` and `decrypt`: a file above the
 * 4 MiB threshold goes through worker threads by default, the run exits by
 * itself (a live worker would keep the process running until the harness
 * kills it), the result opens on any path, and a tampered chunk fails as it
 * does on one thread.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LocalKey } from "../src/keys/local.ts";
import { parseHeader } from "../src/format/header.ts";
import { leftovers, pathExists, randomBytes, show, workspace } from "./support/cli.ts";

const MiB = 1024 * 1024;

async function writeKey(path: string): Promise<void> {
  await Deno.writeTextFile(path, (await LocalKey.generate()).toText(), { mode: 0o600 });
}

async function same(a: string, b: string): Promise<boolean> {
  const [x, y] = [await Deno.readFile(a), await Deno.readFile(b)];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test("encrypt and decrypt of a 6 MiB file exit by themselves at the default parallelism, at 3 and at 1, and each opens the others' output", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  const k = ["-k", "local:k"];
  await Deno.writeFile(ws.path("data"), randomBytes(6 * MiB + 12345));
  const ways: string[][] = [[], ["--parallelism", "3"], ["--parallelism", "1"]];
  for (const [i, p] of ways.entries()) {
    const r = await ws.run(["encrypt", "data", ...k, ...p, "-o", `data${i}.envl`], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, show(r));
  }
  for (const [i] of ways.entries()) {
    for (const [j, q] of ways.entries()) {
      const out = `out${i}${j}`;
      const r = await ws.run(["decrypt", `data${i}.envl`, ...k, ...q, "-o", out], { timeoutMs: 90_000 });
      assert.equal(r.code, 0, show(r));
      assert.ok(await same(ws.path("data"), ws.path(out)), `encrypted with ${ways[i]}, decrypted with ${q}`);
    }
  }
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("decrypting a 6 MiB file with a chunk changed in the middle fails with PAYLOAD_AUTH_FAILED and leaves no output, at any parallelism", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  const k = ["-k", "local:k"];
  await Deno.writeFile(ws.path("data"), randomBytes(6 * MiB));
  let r = await ws.run(["encrypt", "data", ...k, "-o", "data.envl"], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, show(r));
  const sealed = await Deno.readFile(ws.path("data.envl"));
  const h = parseHeader(sealed);
  sealed[h.length + 70 * (h.chunkSize + 16) + 100] ^= 1; // chunk 70: past the first 4 MiB, so on a worker
  await Deno.writeFile(ws.path("bad.envl"), sealed);
  for (const p of [[], ["--parallelism", "2"], ["--parallelism", "1"]]) {
    r = await ws.run(["decrypt", "bad.envl", ...k, ...p, "-o", "out"], { timeoutMs: 90_000 });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /chunk 70\b/);
    assert.match(r.stderr, /PAYLOAD_AUTH_FAILED|modified, reordered or damaged/);
    assert.equal(await pathExists(ws.path("out")), false, `${p}: an output was left`);
  }
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("--parallelism takes a whole number from 1 to 256 (exit 2 otherwise)", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  await Deno.writeFile(ws.path("data"), randomBytes(10));
  for (const bad of ["0", "-1", "x", "1.5", "257"]) {
    const r = await ws.run(["encrypt", "data", "-k", "local:k", "--parallelism", bad]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--parallelism/);
  }
});
