/**
 * Writes to a bucket that race another writer, against moto's S3 through the
 * real @aws-sdk/client-s3:
 *
 * - a create-only sink (`noOverwrite`, the CLI without `--force`) whose key
 *   is taken while it writes fails with OUTPUT_EXISTS at its PutObject or
 *   CompleteMultipartUpload (`If-None-Match: *`), keeps the other object and
 *   leaves no upload; the CLI does the same for an object that appears after
 *   its HeadObject checks (just before its PutObject);
 * - rewrap in place of an object replaced after it was read fails and keeps
 *   the other version (`If-Match` on the write), and the copy path's
 *   CompleteMultipartUpload carries the ETag;
 * - a store that ignores `Range` gets a typed error, not a whole object in
 *   memory;
 * - `s3-cleanup` of one key leaves the uploads of keys that only start with it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { encrypt, LocalKey, rewrapHeader } from "../mod.ts";
import { isEnvelopeError } from "../src/errors.ts";
import {
  abortIncompleteUploads,
  listIncompleteUploads,
  MIN_PART_SIZE,
  parseObjectUrl,
  readHeaderBytes,
  replaceHeader,
  s3Sink,
  s3Source,
} from "../src/s3/mod.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { startRangeProxy } from "./support/range_proxy.ts";
import { forward, serveLoopback } from "./support/loopback_proxy.ts";
import { show, workspace } from "./support/cli.ts";

const MIB = 1024 * 1024;
const enc = new TextEncoder();

async function getText(client: S3Client, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: "bkt", Key: key }));
  return new TextDecoder().decode(await out.Body!.transformToByteArray());
}

async function put(client: S3Client, key: string, body: Uint8Array | string): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: "bkt", Key: key, Body: typeof body === "string" ? enc.encode(body) : body }),
  );
}

Deno.test("s3 conditional: a create-only sink whose key is taken meanwhile fails with OUTPUT_EXISTS and keeps the other object", async () => {
  const s3 = await startMotoS3();
  const proxy = await startRangeProxy(s3.endpoint);
  try {
    await s3.createBucket("bkt");
    const admin = s3.client();
    const client = s3.client({ endpoint: proxy.endpoint });
    for (const size of [1000, 2 * MIN_PART_SIZE + 12_345]) {
      const key = `taken-${size}.envl`;
      const sink = s3Sink(`s3://bkt/${key}`, { client, partSize: MIN_PART_SIZE, noOverwrite: true });
      const w = sink.stream.getWriter();
      await w.write(new Uint8Array(size).fill(7));
      await put(admin, key, "another writer's object");
      const err = await w.close().then(() => undefined, (e) => e);
      assert.ok(isEnvelopeError(err) && err.code === "OUTPUT_EXISTS", `${size}: ${err}`);
      assert.match(err.message, /already exists/);
      await assert.rejects(sink.done, (e) => isEnvelopeError(e) && e.code === "OUTPUT_EXISTS");
      assert.equal(await getText(admin, key), "another writer's object", `${size}: the other object stays`);
      assert.deepEqual(await s3.uploads("bkt"), [], `${size}: no upload is left`);
    }
    // The write that makes the object visible carried the condition: the PutObject, then the Complete.
    const conditional = proxy.seen.filter((r) => r.ifNoneMatch === "*").map((r) => `${r.method} ${r.query}`);
    assert.ok(conditional.some((r) => r.startsWith("PUT ") && !r.includes("uploadId")), conditional.join(", "));
    assert.ok(conditional.some((r) => r.startsWith("POST ") && r.includes("uploadId")), conditional.join(", "));

    // Without noOverwrite (the library's default, the CLI's --force) the object is replaced.
    const sink = s3Sink("s3://bkt/taken-1000.envl", { client });
    const w = sink.stream.getWriter();
    await w.write(enc.encode("replaced"));
    await w.close();
    assert.equal(await getText(admin, "taken-1000.envl"), "replaced");
  } finally {
    await proxy.close();
    await s3.close();
  }
});

Deno.test("s3 conditional: the CLI without --force refuses an object that appears after its checks, and keeps it", async () => {
  const s3 = await startMotoS3();
  const admin = s3.client();
  // Another writer takes the key just before the CLI's own PutObject reaches the store: after every check it makes.
  let raced = 0;
  const server = await serveLoopback(async (req) => {
    const url = new URL(req.url);
    if (req.method === "PUT" && url.pathname.endsWith("/race.envl") && !url.search.includes("uploadId")) {
      raced++;
      await put(admin, "race.envl", "IMPORTANT DATA WRITTEN BY ANOTHER USER");
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array(0);
    const { res, out } = await forward(req, s3.endpoint, body);
    return new Response(req.method === "HEAD" ? null : out, { status: res.status, headers: res.headers });
  });
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const key = ws.path("a.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const r = await ws.run(["encrypt", "-k", `local:${key}`, "-o", "s3://bkt/race.envl", "-"], {
      env: s3.env(server.endpoint),
      stdin: enc.encode("secret\n"),
    });
    assert.equal(raced, 1, show(r));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /already exists.*\[OUTPUT_EXISTS\]/);
    assert.match(r.stderr, /--force/);
    assert.equal(await getText(admin, "race.envl"), "IMPORTANT DATA WRITTEN BY ANOTHER USER");
    assert.deepEqual(await s3.uploads("bkt"), []);
  } finally {
    await ws.remove();
    await server.close();
    await s3.close();
  }
});

Deno.test("s3 conditional: rewrap in place of an object replaced after it was read fails and keeps the other version", async () => {
  const s3 = await startMotoS3();
  const proxy = await startRangeProxy(s3.endpoint);
  try {
    await s3.createBucket("bkt");
    const admin = s3.client();
    const client = s3.client({ endpoint: proxy.endpoint });
    const a = await LocalKey.generate();
    const b = await LocalKey.generate();
    await put(admin, "small.envl", await encrypt(new Uint8Array(1000).fill(1), { keys: a }));
    const loc = parseObjectUrl("s3://bkt/small.envl");
    const source = await s3Source(loc, { client });
    const rewrapped = await rewrapHeader(await readHeaderBytes(source), { keys: [a], add: [b] });
    await put(admin, "small.envl", "NEW VERSION BY ANOTHER WRITER");
    await assert.rejects(
      replaceHeader(loc, source, rewrapped.header, rewrapped.payloadOffset, { client }),
      (e) => isEnvelopeError(e) && e.code === "IO_FAILED" && /changed since it was read/.test(e.message),
    );
    assert.equal(await getText(admin, "small.envl"), "NEW VERSION BY ANOTHER WRITER");

    // The copy path (payload over 10 MiB): its CompleteMultipartUpload carries the ETag read.
    await put(admin, "big.envl", await encrypt(new Uint8Array(11 * MIB).fill(2), { keys: a }));
    const big = await s3Source(parseObjectUrl("s3://bkt/big.envl"), { client });
    const again = await rewrapHeader(await readHeaderBytes(big), { keys: [a], add: [b] });
    proxy.reset();
    const moved = await replaceHeader(big.location, big, again.header, again.payloadOffset, { client });
    assert.equal(moved.method, "copy");
    const complete = proxy.seen.find((r) => r.method === "POST" && r.query.includes("uploadId"));
    assert.ok(complete, "a CompleteMultipartUpload was sent");
    assert.equal(complete.ifMatch, big.info.etag);
  } finally {
    await proxy.close();
    await s3.close();
  }
});

Deno.test("s3 conditional: a store that ignores Range gets a typed error, and no whole object is read", async () => {
  const s3 = await startMotoS3();
  // A proxy that drops Range from every GET after the first `honoured` ones.
  let honoured = 0;
  const server = await serveLoopback(async (req) => {
    const headers = new Headers(req.headers);
    if (honoured-- <= 0) headers.delete("range");
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array(0);
    const { res, out } = await forward(new Request(req.url, { method: req.method, headers }), s3.endpoint, body);
    const noBody = req.method === "HEAD" || [101, 204, 205, 304].includes(res.status);
    return new Response(noBody ? null : out, { status: res.status, headers: res.headers });
  });
  try {
    await s3.createBucket("bkt");
    const admin = s3.client();
    const client = s3.client({ endpoint: server.endpoint });
    const key = await LocalKey.generate();
    await put(admin, "big.envl", await encrypt(new Uint8Array(4 * MIB).fill(3), { keys: key }));
    // The first GET (16 KiB asked for) answered with the whole object.
    await assert.rejects(
      s3Source("s3://bkt/big.envl", { client }),
      (e) => isEnvelopeError(e) && e.code === "IO_FAILED" && /more than the 16384 bytes/.test(e.message),
    );
    // A later ranged read answered with the whole object.
    honoured = 1;
    const source = await s3Source("s3://bkt/big.envl", { client });
    await assert.rejects(
      source.read(2 * MIB, 1000),
      (e) => isEnvelopeError(e) && e.code === "IO_FAILED" && /more than the 1000 bytes/.test(e.message),
    );
    await source.close();
    // A small object served whole is still read: it is all there is.
    await put(admin, "tiny.envl", await encrypt(new Uint8Array(10), { keys: key }));
    honoured = 0;
    const tiny = await s3Source("s3://bkt/tiny.envl", { client });
    assert.equal((await tiny.read(0, tiny.size)).length, tiny.size);
    await tiny.close();
  } finally {
    await server.close();
    await s3.close();
  }
});

Deno.test("s3 conditional: s3-cleanup of one key leaves the uploads of keys that only start with it", async () => {
  const s3 = await startMotoS3();
  try {
    await s3.createBucket("bkt");
    const admin = s3.client();
    for (const k of ["db.envl", "db.envl.2024-backup.tar", "logs/a.envl", "logs/b.envl"]) {
      await admin.send(new CreateMultipartUploadCommand({ Bucket: "bkt", Key: k }));
    }
    const keys = async () => (await s3.uploads("bkt")).map((u) => u.key).sort();
    const one = parseObjectUrl("s3://bkt/db.envl");
    assert.deepEqual((await listIncompleteUploads(one, { client: admin })).map((u) => u.key), ["db.envl"]);
    assert.deepEqual((await abortIncompleteUploads(one, { client: admin })).map((u) => u.key), ["db.envl"]);
    assert.deepEqual(await keys(), ["db.envl.2024-backup.tar", "logs/a.envl", "logs/b.envl"]);
    // A prefix (ending in /) takes every key under it.
    const under = parseObjectUrl("s3://bkt/logs/");
    assert.deepEqual((await abortIncompleteUploads(under, { client: admin })).map((u) => u.key).sort(), [
      "logs/a.envl",
      "logs/b.envl",
    ]);
    assert.deepEqual(await keys(), ["db.envl.2024-backup.tar"]);
  } finally {
    await s3.close();
  }
});
