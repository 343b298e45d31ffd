/**
 * Many files to many objects and back against moto's S3: `encrypt -r DIR -o
 * s3://b/prefix/` writes one object per regular file, sharing one data key
 * through the DataKeyCache (the wrapped key is the same in every header;
 * each message has its own salt); `decrypt -r s3://b/prefix/ -o DIR`
 * restores them byte for byte; a tampered object and a key that would
 * escape the folder fail alone, reported, with exit status 1 and the other
 * files written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseHeader } from "../src/format/header.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { show, workspace } from "./support/cli.ts";

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
