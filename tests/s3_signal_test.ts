/**
 * What an interrupted upload leaves, with the real CLI streaming stdin into
 * moto's S3: SIGTERM (and SIGINT) in the middle aborts the multipart upload
 * (no object, no parts); SIGKILL cannot, so its upload is listed afterwards,
 * the next upload to that key says so, and `envelope s3-cleanup` removes it.
 * The CLI is stopped while it waits for more stdin, after parts went up, so
 * the point of the kill is known; every child is bounded by a timeout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ListPartsCommand } from "@aws-sdk/client-s3";
import { type MotoS3, startMotoS3 } from "./support/moto_s3.ts";
import { cliArgv, cliEnv, show, workspace } from "./support/cli.ts";

const MIB = 1024 * 1024;

/** Starts `encrypt - -o URL`, feeds 12 MiB, waits until two parts are stored, sends `signal`; returns the exit status. */
async function interrupt(s3: MotoS3, dir: string, home: string, key: string, signal: Deno.Signal) {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgv(["encrypt", "-", "-k", `local:${key}`, "-o", "s3://bkt/big.envl", "--part-size", String(5 * MIB)]),
    cwd: dir,
    clearEnv: true,
    env: await cliEnv(home, s3.env()),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  await writer.write(new Uint8Array(12 * MIB).fill(7));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ups = await s3.uploads("bkt");
    if (ups.length === 1) {
      const parts = await s3.client().send(
        new ListPartsCommand({ Bucket: "bkt", Key: ups[0].key, UploadId: ups[0].uploadId }),
      );
      if ((parts.Parts ?? []).length >= 2) break;
    }
    if (Date.now() > deadline) throw new Error("the upload did not start within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill(signal);
  await writer.close().catch(() => {});
  const status = await child.status;
  return { status, stderr: await stderr };
}

Deno.test("s3 signals: SIGTERM and SIGINT abort the upload; SIGKILL leaves one that s3-cleanup removes", async () => {
  const s3 = await startMotoS3();
  const ws = await workspace();
  try {
    await s3.createBucket("bkt");
    const key = ws.path("k.key");
    assert.equal((await ws.run(["keygen", "-o", key])).code, 0);
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const r = await interrupt(s3, ws.dir, ws.home, key, signal);
      assert.equal(r.status.code, code, `${signal}: ${r.stderr}`);
      assert.deepEqual(await s3.uploads("bkt"), [], signal);
      assert.deepEqual(await s3.keys("bkt"), [], signal);
    }
    const killed = await interrupt(s3, ws.dir, ws.home, key, "SIGKILL");
    assert.equal(killed.status.signal, "SIGKILL");
    assert.deepEqual(await s3.keys("bkt"), [], "no object is visible after SIGKILL");
    assert.equal((await s3.uploads("bkt")).length, 1, "the killed run's upload is left");
    // The next upload to that key says so, and succeeds.
    await Deno.writeFile(ws.path("small.bin"), new Uint8Array(1000));
    const next = await ws.run(["encrypt", "small.bin", "-k", `local:${key}`, "-o", "s3://bkt/big.envl"], {
      env: s3.env(),
    });
    assert.equal(next.code, 0, show(next));
    assert.match(next.stderr, /1 incomplete upload\(s\) of s3:\/\/bkt\/big\.envl .*envelope s3-cleanup/);
    const dry = await ws.run(["s3-cleanup", "s3://bkt/", "--dry-run"], { env: s3.env() });
    assert.match(dry.stdout, /1 incomplete upload\(s\) found/);
    assert.equal((await s3.uploads("bkt")).length, 1);
    // (--older-than spares nothing here: moto's ListMultipartUploads gives no start time, and an upload
    // without one counts as old.)
    const clean = await ws.run(["s3-cleanup", "s3://bkt/"], { env: s3.env() });
    assert.equal(clean.code, 0, show(clean));
    assert.match(clean.stdout, /aborted s3:\/\/bkt\/big\.envl/);
    assert.deepEqual(await s3.uploads("bkt"), []);
    assert.deepEqual(await s3.keys("bkt"), ["big.envl"]);
  } finally {
    await ws.remove();
    await s3.close();
  }
});
