/**
 * Ranged, authenticated reads of objects in moto's S3, with a recording
 * proxy in front proving which byte ranges were fetched: the header (one
 * GET), the final chunk, then one GET per run of chunks covering the range;
 * random offsets compared with the plaintext slice; a tampered chunk or
 * header refused; an object replaced after open refused; cat --range past
 * the end refused with RANGE_NOT_SATISFIABLE.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { encrypt, LocalKey, openRandomAccess } from "../mod.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { parseHeader } from "../src/format/header.ts";
import { s3Source } from "../src/s3/mod.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { startRangeProxy } from "./support/range_proxy.ts";
import { show, workspace } from "./support/cli.ts";

const CS = 65536;
const FULL = CS + 16;

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 99;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

Deno.test("s3Source + openRandomAccess: random ranges match the plaintext, fetching only header, final chunk and the covering run", async () => {
  const s3 = await startMotoS3();
  const proxy = await startRangeProxy(s3.endpoint);
  try {
    await s3.createBucket("bkt");
    const key = await LocalKey.generate();
    const plain = pattern(5 * 1024 * 1024 + 777);
    const sealed = await encrypt(plain, { keys: key, chunkSize: CS });
    await s3.client().send(new PutObjectCommand({ Bucket: "bkt", Key: "v.envl", Body: sealed }));
    const H = parseHeader(sealed).length;
    const chunks = Math.ceil(plain.length / CS);
    const client = s3.client({ endpoint: proxy.endpoint });
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let t = 0; t < 25; t++) {
      const offset = rand(plain.length);
      const length = 1 + rand(t % 3 === 0 ? 2_000_000 : 100_000);
      proxy.reset();
      const reader = await openRandomAccess(await s3Source("s3://bkt/v.envl", { client }), { keys: key });
      const got = await reader.read(offset, length);
      await reader.close();
      const end = Math.min(plain.length, offset + length);
      assert.deepEqual(got, plain.subarray(offset, end), `range ${offset}+${length}`);
      const first = Math.floor(offset / CS);
      const last = Math.floor((end - 1) / CS);
      const lastStart = H + (chunks - 1) * FULL;
      assert.deepEqual(proxy.seen.map((r) => `${r.method} ${r.range}`), [
        "GET bytes=0-16383",
        `GET bytes=${lastStart}-${sealed.length - 1}`,
        `GET bytes=${H + first * FULL}-${Math.min(sealed.length, H + (last + 1) * FULL) - 1}`,
      ], `range ${offset}+${length}`);
    }
  } finally {
    await proxy.close();
    await s3.close();
  }
});

Deno.test("s3Source: a tampered chunk or header is refused; an object replaced after open is refused", async () => {
  const s3 = await startMotoS3();
  try {
    await s3.createBucket("bkt");
    const client = s3.client();
    const key = await LocalKey.generate();
    const plain = pattern(1_000_000);
    const sealed = await encrypt(plain, { keys: key, chunkSize: CS });
    const H = parseHeader(sealed).length;
    const put = (bytes: Uint8Array) => client.send(new PutObjectCommand({ Bucket: "bkt", Key: "t.envl", Body: bytes }));
    // One bit of chunk 5 flipped: ranges over it fail, others still open.
    const bad = sealed.slice();
    bad[H + 5 * FULL + 100] ^= 1;
    await put(bad);
    let reader = await openRandomAccess(await s3Source("s3://bkt/t.envl", { client }), { keys: key });
    const err = await reader.read(5 * CS + 10, 10).catch((e) => e);
    assert.ok(isEnvelopeError(err, "PAYLOAD_AUTH_FAILED"), String(err));
    assert.deepEqual(await reader.read(0, 100), plain.subarray(0, 100));
    await reader.close();
    // The header's context changed: refused at open.
    const badHead = sealed.slice();
    badHead[60] ^= 1;
    await put(badHead);
    const openErr = await openRandomAccess(await s3Source("s3://bkt/t.envl", { client }), { keys: key }).catch((e) =>
      e
    );
    assert.ok(isEnvelopeError(openErr), String(openErr));
    // Replaced after open: the reads are pinned to the first ETag.
    await put(sealed);
    reader = await openRandomAccess(await s3Source("s3://bkt/t.envl", { client }), { keys: key });
    await put(await encrypt(plain, { keys: key, chunkSize: CS }));
    const changed = await reader.read(400_000, 10).catch((e) => e);
    assert.ok(isEnvelopeError(changed, "IO_FAILED"), String(changed));
    assert.match(changed.message, /changed while it was being read/);
    await reader.close();
  } finally {
    await s3.close();
  }
});

Deno.test("cat --range: exact bytes from an object and a local file; past the end is RANGE_NOT_SATISFIABLE", async () => {
  const s3 = await startMotoS3();
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const env = s3.env();
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const plain = pattern(300_000);
    await Deno.writeFile(ws.path("p.bin"), plain);
    assert.equal((await ws.run(["encrypt", "p.bin", "-k", `local:${key}`, "-o", "s3://bkt/p.envl"], { env })).code, 0);
    assert.equal((await ws.run(["encrypt", "p.bin", "-k", `local:${key}`])).code, 0);
    for (const input of ["s3://bkt/p.envl", "p.bin.envl"]) {
      const r = await ws.run(["cat", input, "-k", `local:${key}`, "--range", "65530-131080"], { env });
      assert.equal(r.code, 0, show(r));
      assert.deepEqual(r.stdoutBytes, plain.slice(65530, 131081));
      const tail = await ws.run(["cat", input, "-k", `local:${key}`, "--range", "299990-"], { env });
      assert.deepEqual(tail.stdoutBytes, plain.slice(299990));
      const past = await ws.run(["cat", input, "-k", `local:${key}`, "--range", "299990-300000"], { env });
      assert.equal(past.code, 1, show(past));
      assert.match(past.stderr, /plaintext is 300000 bytes/);
      assert.equal(past.stdoutBytes.length, 0);
    }
    const bad = await ws.run(["cat", "p.bin.envl", "--range", "10-5"]);
    assert.equal(bad.code, 2, show(bad));
  } finally {
    await ws.remove();
    await s3.close();
  }
});
