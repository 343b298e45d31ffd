/**
 * Many files to many objects and back against moto's S3: `encrypt -r DIR -o
 * s3://b/prefix/` writes one object per regular file, sharing one data key
 * through the DataKeyCache (the wrapped key is the same in every header;
 * each message has its own salt); `decrypt -r s3://b/prefix/ -o DIR`
 * restores them byte for byte; a tampered object and a key that would
 * escape the folder fail alone, reported, with exit status 1 and the other
 * files written; a sub-folder that vanishes while the upload runs is one
 * failed item at its place, and the other files still go up.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseHeader } from "../src/format/header.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { type CliResult, show, workspace } from "./support/cli.ts";
import { forward, serveLoopback } from "./support/loopback_proxy.ts";

Deno.test("cli s3 -r: a folder to objects and back, keys shared, one bad object reported without losing the others", async () => {
  const s3 = await startMotoS3();
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const env = s3.env();
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const src = ws.path("src");
    await Deno.mkdir(`${src}/sub/deep`, { recursive: true });
    const files: Record<string, Uint8Array> = {
      "a.txt": new TextEncoder().encode("alpha\n"),
      "sub/b.bin": new Uint8Array(600_000).map((_, i) => i & 255),
      "sub/deep/c": new Uint8Array(0),
    };
    for (const [rel, bytes] of Object.entries(files)) await Deno.writeFile(`${src}/${rel}`, bytes);
    await Deno.symlink(`${src}/a.txt`, `${src}/link.txt`);
    const enc = await ws.run(["encrypt", "-r", "src", "-k", `local:${key}`, "-o", "s3://bkt/pre/", "--jobs", "3"], {
      env,
    });
    assert.equal(enc.code, 0, show(enc));
    assert.match(enc.stderr, /note: skipping 1 link/);
    assert.match(enc.stdout, /\[3\/3\] encrypted/);
    assert.match(enc.stdout, /encrypted 3 of 3 file\(s\)/);
    assert.deepEqual(await s3.keys("bkt"), ["pre/a.txt.envl", "pre/sub/b.bin.envl", "pre/sub/deep/c.envl"]);
    const get = async (k: string) =>
      await (await s3.client().send(new GetObjectCommand({ Bucket: "bkt", Key: k }))).Body!.transformToByteArray();
    const headers = await Promise.all((await s3.keys("bkt")).map(async (k) => parseHeader(await get(k))));
    // One data key through the cache: the same wrapped key in every header, a different salt in each.
    assert.deepEqual(headers[1].keys[0].wrapped, headers[0].keys[0].wrapped);
    assert.deepEqual(headers[2].keys[0].wrapped, headers[0].keys[0].wrapped);
    assert.notDeepEqual(headers[1].salt, headers[0].salt);

    // A tampered copy and an object whose key climbs out of the folder.
    const sealed = await get("pre/sub/b.bin.envl");
    const bad = sealed.slice();
    bad[bad.length - 100] ^= 1;
    await s3.client().send(new PutObjectCommand({ Bucket: "bkt", Key: "pre/bad.envl", Body: bad }));
    await s3.client().send(new PutObjectCommand({ Bucket: "bkt", Key: "pre/../evil.envl", Body: sealed }));
    const dec = await ws.run(["decrypt", "-r", "s3://bkt/pre/", "-o", "out", "-k", `local:${key}`], { env });
    assert.equal(dec.code, 1, show(dec));
    assert.match(dec.stdout, /FAILED s3:\/\/bkt\/pre\/bad\.envl/);
    assert.match(dec.stdout, /FAILED s3:\/\/bkt\/pre\/\.\.\/evil\.envl/);
    assert.match(dec.stderr, /PAYLOAD_AUTH_FAILED/);
    assert.match(dec.stderr, /UNSAFE_PATH/);
    assert.match(dec.stdout, /decrypted 3 of 5 file\(s\), [^;]+; 2 failed/);
    for (const [rel, bytes] of Object.entries(files)) {
      assert.deepEqual(await Deno.readFile(ws.path("out", rel)), bytes, rel);
    }
    await assert.rejects(Deno.stat(ws.path("out", "bad")));
    await assert.rejects(Deno.stat(ws.path("evil")));
    // -r needs a prefix.
    const noPrefix = await ws.run(["decrypt", "-r", "s3://bkt/pre", "-o", "out2"], { env });
    assert.equal(noPrefix.code, 2, show(noPrefix));
  } finally {
    await ws.remove();
    await s3.close();
  }
});

// walkItems (walk_files.ts) is tested alone, but the S3 upload (object_batch.ts) uses it its own way and nothing ran
// that at the CLI: a folder gone between the count and the walk must be one failed item there, not an UNEXPECTED
// error that ends the run (with the same exit status 1) and leaves the files after it not uploaded.
Deno.test("cli s3 -r: a sub-folder removed while the upload runs is one failed item; the other files still go up", async () => {
  const s3 = await startMotoS3();
  const gate = await startHoldingProxy(s3.endpoint);
  const ws = await workspace();
  let running: Promise<CliResult> | undefined;
  try {
    await s3.createBucket("bkt");
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const src = ws.path("src");
    await Deno.mkdir(`${src}/m`, { recursive: true });
    // Walk order: a, b, c, m/, zz. With --jobs 1 the walk is at most one file ahead of the upload in flight, so while
    // a's upload is held it has not listed m/ yet: m/ is counted (for [i/N]) but gone when the walk reaches it.
    const kept: Record<string, Uint8Array> = {};
    for (const [i, rel] of ["a", "b", "c", "zz"].entries()) {
      kept[rel] = new Uint8Array(1000 + i * 7919).map((_, j) => (j * 13 + i) & 255);
      await Deno.writeFile(`${src}/${rel}`, kept[rel]);
    }
    await Deno.writeTextFile(`${src}/m/x`, "lost x");
    await Deno.writeTextFile(`${src}/m/y`, "lost y");
    running = ws.run(["encrypt", "-r", "src", "-k", `local:${key}`, "-o", "s3://bkt/pre/", "--jobs", "1"], {
      env: s3.env(gate.endpoint),
    });
    const ended = running.then((r) => Promise.reject(new Error(`the run ended before its first upload\n${show(r)}`)));
    await within(Promise.race([gate.held, ended]), 60_000, "the first upload");
    assert.deepEqual(gate.puts, ["/bkt/pre/a.envl"]);
    await Deno.remove(`${src}/m`, { recursive: true });
    gate.release();
    const enc = await running;
    assert.equal(enc.code, 1, show(enc));
    // In walk order, the lost folder at its place; [i/N] counts against the 6 files counted before the run.
    const lines = enc.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, -1), [
      "[1/6] encrypted src/a to s3://bkt/pre/a.envl",
      "[2/6] encrypted src/b to s3://bkt/pre/b.envl",
      "[3/6] encrypted src/c to s3://bkt/pre/c.envl",
      "[4/6] FAILED src/m",
      "[5/6] encrypted src/zz to s3://bkt/pre/zz.envl",
    ], show(enc));
    assert.match(lines.at(-1)!, /^encrypted 4 of 5 file\(s\), .* read, .* written; 1 failed/, show(enc));
    assert.match(enc.stderr, /^error: Reading src\/m failed: .*\[IO_FAILED\]$/m, show(enc));
    assert.doesNotMatch(enc.stderr, /UNEXPECTED/, show(enc));
    // Only the files read went up, nothing of m/, no upload left open.
    assert.deepEqual(await s3.keys("bkt"), ["pre/a.envl", "pre/b.envl", "pre/c.envl", "pre/zz.envl"]);
    assert.deepEqual(await s3.uploads("bkt"), []);
    const dec = await ws.run(["decrypt", "-r", "s3://bkt/pre/", "-o", "out", "-k", `local:${key}`], { env: s3.env() });
    assert.equal(dec.code, 0, show(dec));
    for (const [rel, bytes] of Object.entries(kept)) {
      assert.deepEqual(await Deno.readFile(ws.path("out", rel)), bytes, rel);
    }
    assert.deepEqual([...Deno.readDirSync(ws.path("out"))].map((e) => e.name).sort(), ["a", "b", "c", "zz"]);
  } finally {
    gate.release();
    await running?.catch(() => {});
    await ws.remove();
    await gate.close();
    await s3.close();
  }
});

/** `p`, or a failure naming `what` after `ms` (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A loopback proxy in front of `target` that forwards every request and holds the first PUT (an object going up)
 * until `release()`: `held` resolves when it arrives, so a test changes things while an upload is in flight.
 */
async function startHoldingProxy(target: string): Promise<{
  readonly endpoint: string;
  readonly held: Promise<void>;
  /** The paths of the PUTs seen, in arrival order. */
  readonly puts: readonly string[];
  release(): void;
  close(): Promise<void>;
}> {
  const held = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const puts: string[] = [];
  const server = await serveLoopback(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    if (req.method === "PUT") {
      puts.push(decodeURIComponent(new URL(req.url).pathname));
      if (puts.length === 1) {
        held.resolve();
        await released.promise;
      }
    }
    const { res, out } = await forward(req, target, body);
    return new Response(req.method === "HEAD" ? null : out, { status: res.status, headers: res.headers });
  });
  return {
    endpoint: server.endpoint,
    held: held.promise,
    puts,
    release: () => released.resolve(),
    close: () => server.close(),
  };
}
