/**
 * The CLI with s3:// and oss:// URLs against moto's S3, through the real SDK
 * in a child process configured only by the environment: encrypt (single
 * put and multipart, with content type, metadata and SSE passed through),
 * inspect with one ranged GET, decrypt back to a file, cat, OUTPUT_EXISTS
 * without --force, and the same through oss:// with the OSS variables.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { startMotoS3 } from "./support/moto_s3.ts";
import { startRangeProxy } from "./support/range_proxy.ts";
import { show, workspace } from "./support/cli.ts";

const MIB = 1024 * 1024;

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >>> 9)) & 255;
  return out;
}

Deno.test("cli s3: encrypt to a bucket (one put, multipart), inspect with one GET, decrypt and cat back", async () => {
  const s3 = await startMotoS3();
  const proxy = await startRangeProxy(s3.endpoint);
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const env = s3.env();
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const kmsKey = await s3.moto.createKey();
    for (const size of [0, 1000, 12 * MIB + 3]) {
      const plain = pattern(size);
      await Deno.writeFile(ws.path("in.bin"), plain);
      const url = `s3://bkt/data/${size}.envl`;
      const enc = await ws.run([
        "encrypt",
        "in.bin",
        "-k",
        `local:${key}`,
        "-o",
        url,
        "--part-size",
        String(5 * MIB),
        "--content-type",
        "application/x-envelope",
        "--metadata",
        "origin=test",
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        kmsKey,
      ], { env });
      assert.equal(enc.code, 0, show(enc));
      const head = await s3.client().send(new HeadObjectCommand({ Bucket: "bkt", Key: `data/${size}.envl` }));
      assert.equal(head.ContentType, "application/x-envelope");
      assert.deepEqual(head.Metadata, { origin: "test" });
      assert.equal(head.ServerSideEncryption, "aws:kms");
      // inspect through the recording proxy: exactly one ranged GET.
      proxy.reset();
      const ins = await ws.run(["inspect", url, "--json"], { env: s3.env(proxy.endpoint) });
      assert.equal(ins.code, 0, show(ins));
      assert.equal(JSON.parse(ins.stdout).keys[0].provider, "local");
      assert.deepEqual(proxy.seen.map((r) => [r.method, r.range]), [["GET", "bytes=0-16383"]]);
      const dec = await ws.run(["decrypt", url, "-k", `local:${key}`, "-o", "out.bin"], { env });
      assert.equal(dec.code, 0, show(dec));
      assert.deepEqual(await Deno.readFile(ws.path("out.bin")), plain);
      await Deno.remove(ws.path("out.bin"));
      const cat = await ws.run(["cat", url, "-k", `local:${key}`], { env });
      assert.equal(cat.code, 0, show(cat));
      assert.deepEqual(cat.stdoutBytes, plain);
    }
    assert.deepEqual(await s3.uploads("bkt"), []);
    // An existing object is not replaced without --force.
    const again = await ws.run(["encrypt", "in.bin", "-k", `local:${key}`, "-o", "s3://bkt/data/0.envl"], { env });
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /s3:\/\/bkt\/data\/0\.envl failed: the object already exists/);
    const forced = await ws.run(["encrypt", "in.bin", "-k", `local:${key}`, "-o", "s3://bkt/data/0.envl", "--force"], {
      env,
    });
    assert.equal(forced.code, 0, show(forced));
    // A missing object is a typed error naming it.
    const missing = await ws.run(["decrypt", "s3://bkt/nope.envl", "-k", `local:${key}`, "-o", "x"], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Reading s3:\/\/bkt\/nope\.envl failed: the object does not exist/);
  } finally {
    await ws.remove();
    await proxy.close();
    await s3.close();
  }
});

Deno.test("cli oss: the same code through the OSS variables (moto standing in for OSS's S3-compatible endpoint)", async () => {
  const s3 = await startMotoS3();
  const ws = await workspace();
  try {
    await s3.createBucket("oss-bkt");
    const env = s3.ossEnv();
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    const plain = pattern(6 * MIB + 11);
    await Deno.writeFile(ws.path("in.bin"), plain);
    const enc = await ws.run([
      "encrypt",
      "in.bin",
      "-k",
      `local:${key}`,
      "-o",
      "oss://oss-bkt/a.envl",
      "--part-size",
      String(5 * MIB),
    ], { env });
    assert.equal(enc.code, 0, show(enc));
    assert.deepEqual(await s3.keys("oss-bkt"), ["a.envl"]);
    const cat = await ws.run(["cat", "oss://oss-bkt/a.envl", "-k", `local:${key}`, "--range", "5000000-5000099"], {
      env,
    });
    assert.equal(cat.code, 0, show(cat));
    assert.deepEqual(cat.stdoutBytes, plain.slice(5_000_000, 5_000_100));
    // Without OSS credentials the run says which variables to set.
    const bare = await ws.run(["inspect", "oss://oss-bkt/a.envl"], {
      env: { ALIBABA_CLOUD_OSS_ENDPOINT: s3.endpoint },
    });
    assert.equal(bare.code, 2, show(bare));
    assert.match(bare.stderr, /ALIBABA_CLOUD_ACCESS_KEY_ID/);
  } finally {
    await ws.remove();
    await s3.close();
  }
});

Deno.test("cli s3: rewrap of a small local file to an s3:// output uploads it (a review found it written as a local path)", async () => {
  const s3 = await startMotoS3();
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const env = s3.env();
    assert.equal((await ws.run(["keygen", "-o", "a.key"])).code, 0);
    assert.equal((await ws.run(["keygen", "-o", "b.key"])).code, 0);
    await Deno.writeFile(ws.path("in.bin"), pattern(5000));
    assert.equal((await ws.run(["encrypt", "-k", "local:a.key", "in.bin"])).code, 0);
    // A local folder named like the URL must not catch the write.
    await Deno.mkdir(ws.path("s3:", "bkt"), { recursive: true });
    const url = "s3://bkt/rewrapped.envl";
    const r = await ws.run(["rewrap", "in.bin.envl", "-u", "local:a.key", "-k", "local:b.key", "-o", url], { env });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await s3.keys("bkt"), ["rewrapped.envl"]);
    assert.deepEqual([...Deno.readDirSync(ws.path("s3:", "bkt"))], []);
    const back = await ws.run(["decrypt", "-k", "local:b.key", url, "-o", "back.bin"], { env });
    assert.equal(back.code, 0, show(back));
    assert.deepEqual(await Deno.readFile(ws.path("back.bin")), pattern(5000));
    // Without --force an existing object is not replaced.
    const again = await ws.run(["rewrap", "in.bin.envl", "-u", "local:a.key", "-k", "local:b.key", "-o", url], { env });
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /\[OUTPUT_EXISTS\]/);
  } finally {
    await ws.remove();
    await s3.close();
  }
});
