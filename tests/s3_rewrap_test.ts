/**
 * rewrap of an object in place in moto's S3, watched by a recording proxy:
 * above 10 MiB of payload, a multipart upload whose first part is the new
 * header and 5 MiB of payload and whose other parts are UploadPartCopy
 * ranges of the old object; the payload's SHA-256 (not the ETag) is
 * unchanged, the new key opens it, and the bytes through the client are
 * counted. A small object is downloaded and uploaded again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { parseHeader } from "../src/format/header.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { startRangeProxy } from "./support/range_proxy.ts";
import { show, workspace } from "./support/cli.ts";

const MIB = 1024 * 1024;

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

Deno.test("rewrap s3:// in place: payload copied inside the store, unchanged, a few MiB through the client", async () => {
  const s3 = await startMotoS3();
  const proxy = await startRangeProxy(s3.endpoint);
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const env = s3.env();
    const a = ws.path("a.key");
    const b = ws.path("b.key");
    assert.equal((await ws.run(["keygen", "-o", a])).code, 0);
    assert.equal((await ws.run(["keygen", "-o", b])).code, 0);
    const get = async (key: string) =>
      await (await s3.client().send(new GetObjectCommand({ Bucket: "bkt", Key: key }))).Body!.transformToByteArray();
    for (
      const [name, size, method] of [["big", 40 * MIB + 5, "copied inside the store"], [
        "small",
        MIB,
        "downloaded and uploaded again",
      ]] as const
    ) {
      const plain = new Uint8Array(size).map((_, i) => (i * 7) & 255);
      await Deno.writeFile(ws.path(`${name}.bin`), plain);
      const url = `s3://bkt/${name}.envl`;
      const enc = await ws.run(["encrypt", `${name}.bin`, "-k", `local:${a}`, "-o", url], { env });
      assert.equal(enc.code, 0, show(enc));
      const before = await get(`${name}.envl`);
      const oldHeader = parseHeader(before).length;
      proxy.reset();
      const r = await ws.run(["rewrap", url, "-k", `local:${b}`, "-u", `local:${a}`], { env: s3.env(proxy.endpoint) });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, new RegExp(`payload ${method}`));
      const after = await get(`${name}.envl`);
      const newHeader = parseHeader(after);
      assert.equal(newHeader.keys.length, 2);
      assert.equal(
        await sha256(after.slice(newHeader.length)),
        await sha256(before.slice(oldHeader)),
        `${name}: the payload bytes are unchanged`,
      );
      const down = proxy.seen.reduce((n, q) => n + (q.method === "GET" ? q.responseBytes : 0), 0);
      const up = proxy.seen.reduce((n, q) => n + q.requestBytes, 0);
      const copies = proxy.seen.filter((q) => q.copyRange !== undefined);
      if (name === "big") {
        // Header prefetch (16 KiB) and 5 MiB of payload down; the new header and that 5 MiB up.
        assert.ok(down <= 5 * MIB + 16 * 1024, `downloaded ${down}`);
        assert.ok(up <= 5 * MIB + 16 * 1024, `uploaded ${up}`);
        assert.equal(copies.length, 1);
        assert.equal(copies[0].copyRange, `bytes=${oldHeader + 5 * MIB}-${before.length - 1}`);
      } else {
        assert.equal(copies.length, 0);
        assert.ok(down <= before.length + 16 * 1024);
      }
      const dec = await ws.run(["cat", url, "-k", `local:${b}`], { env });
      assert.equal(dec.code, 0, show(dec));
      assert.equal(await sha256(dec.stdoutBytes.slice()), await sha256(plain));
    }
    assert.deepEqual(await s3.uploads("bkt"), []);
    // A rewrap whose new key cannot be proved leaves the object as it was (here: no key to unwrap with).
    const before = await get("big.envl");
    const bad = await ws.run(
      ["rewrap", "s3://bkt/big.envl", "-k", `local:${b}`, "-u", `local:${ws.path("nope.key")}`],
      {
        env,
      },
    );
    assert.notEqual(bad.code, 0);
    assert.deepEqual(await get("big.envl"), before);
  } finally {
    await ws.remove();
    await proxy.close();
    await s3.close();
  }
});
