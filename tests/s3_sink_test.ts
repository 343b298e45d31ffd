/**
 * The object sink against moto's S3 through the real @aws-sdk/client-s3:
 * round trips at 0 B, one chunk, one part, several parts and a
 * non-multiple of the part size; queue sizes 1 and 8 giving byte-identical
 * objects; a failed or aborted write leaving no object and no parts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { decrypt, encrypt, encryptStream, LocalKey } from "../mod.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { choosePartSize, MIN_PART_SIZE, s3Sink, s3Source, sourceStream } from "../src/s3/mod.ts";
import { startMotoS3 } from "./support/moto_s3.ts";

const MIB = 1024 * 1024;

function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A stream of `bytes` in writes of `size` bytes. */
function chunks(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(c) {
      if (o >= bytes.length) return c.close();
      c.enqueue(bytes.slice(o, o + size));
      o += size;
    },
  });
}

async function getAll(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return await out.Body!.transformToByteArray();
}

Deno.test("s3Sink: round trips at 0 B, one chunk, one part, several parts, a non-multiple of the part size", async () => {
  const s3 = await startMotoS3();
  try {
    await s3.createBucket("bkt");
    const client = s3.client();
    const key = await LocalKey.generate();
    const cases = [
      { name: "empty", size: 0, parts: 0 },
      { name: "one-chunk", size: 1000, parts: 0 },
      { name: "one-part", size: 3 * MIB, parts: 0 },
      { name: "exact", size: 2 * MIB * 5 - 64 * 1024, parts: -1 }, // several parts, whatever the overhead makes
      { name: "several", size: 17 * MIB + 12_345, parts: 4 },
    ];
    for (const c of cases) {
      const plain = pattern(c.size, c.size + 7);
      const sink = s3Sink(`s3://bkt/${c.name}.envl`, { client, partSize: MIN_PART_SIZE, queueSize: 3 });
      await chunks(plain, 100_000).pipeThrough(encryptStream({ keys: key })).pipeTo(sink.stream);
      const done = await sink.done;
      if (c.parts >= 0) assert.equal(done.parts, c.parts, c.name);
      const stored = await getAll(client, "bkt", `${c.name}.envl`);
      assert.equal(stored.length, done.bytes, c.name);
      assert.deepEqual(await decrypt(stored, { keys: key }), plain, c.name);
      // And back through the streamed ranged reader.
      const source = await s3Source(`s3://bkt/${c.name}.envl`, { client });
      const again = new Uint8Array(await new Response(sourceStream(source, { partSize: MIN_PART_SIZE })).arrayBuffer());
      await source.close();
      assert.deepEqual(again, stored, c.name);
    }
    assert.deepEqual(await s3.uploads("bkt"), []);
  } finally {
    await s3.close();
  }
});

Deno.test("s3Sink: 1 and 8 parts in flight write byte-identical objects", async () => {
  const s3 = await startMotoS3();
  try {
    await s3.createBucket("bkt");
    const client = s3.client();
    const sealed = await encrypt(pattern(23 * MIB + 1), { keys: await LocalKey.generate() });
    for (const q of [1, 8]) {
      const sink = s3Sink(`s3://bkt/q${q}`, { client, partSize: MIN_PART_SIZE, queueSize: q });
      await chunks(sealed, 65_552 * 3 + 17).pipeTo(sink.stream);
      assert.equal((await sink.done).parts, Math.ceil(sealed.length / MIN_PART_SIZE));
    }
    assert.deepEqual(await getAll(client, "bkt", "q1"), sealed);
    assert.deepEqual(await getAll(client, "bkt", "q8"), sealed);
  } finally {
    await s3.close();
  }
});

Deno.test("s3Sink: a failing source or an abort leaves no object and no parts", async () => {
  const s3 = await startMotoS3();
  try {
    await s3.createBucket("bkt");
    const client = s3.client();
    // Fails after three parts have gone up.
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 3 * MIN_PART_SIZE + 1000) return c.error(new Error("disk went away"));
        c.enqueue(pattern(MIB));
        sent += MIB;
      },
    });
    const sink = s3Sink("s3://bkt/failed", { client, partSize: MIN_PART_SIZE, queueSize: 2 });
    await assert.rejects(failing.pipeTo(sink.stream), /disk went away/);
    await assert.rejects(sink.done, /disk went away/);
    assert.deepEqual(await s3.uploads("bkt"), []);
    assert.deepEqual(await s3.keys("bkt"), []);
    // An explicit abort after parts were written.
    const sink2 = s3Sink("s3://bkt/aborted", { client, partSize: MIN_PART_SIZE });
    const w = sink2.stream.getWriter();
    for (let i = 0; i < 12; i++) await w.write(pattern(MIB));
    await w.abort(new Error("stop"));
    await assert.rejects(sink2.done);
    assert.deepEqual(await s3.uploads("bkt"), []);
    assert.deepEqual(await s3.keys("bkt"), []);
    // A missing bucket is a typed error, and no upload is left.
    const sink3 = s3Sink("s3://nope-bucket/x", { client, partSize: MIN_PART_SIZE });
    const err = await chunks(pattern(6 * MIB), MIB).pipeTo(sink3.stream).catch((e) => e);
    assert.ok(isEnvelopeError(err, "IO_FAILED"), String(err));
    assert.match(err.message, /Writing s3:\/\/nope-bucket\/x failed: the bucket does not exist/);
  } finally {
    await s3.close();
  }
});

Deno.test("choosePartSize: fits 10,000 parts, refuses sizes the store refuses", () => {
  assert.equal(choosePartSize(undefined, undefined), 8 * MIB);
  assert.equal(choosePartSize(undefined, 100 * 1024 * MIB), 11 * MIB);
  assert.equal(choosePartSize(6 * MIB, 10 * MIB), 6 * MIB);
  assert.throws(() => choosePartSize(MIB, undefined), (e) => isEnvelopeError(e, "USAGE"));
  assert.throws(() => choosePartSize(5 * MIB, 60_000 * MIB), (e) => isEnvelopeError(e, "USAGE"));
});
