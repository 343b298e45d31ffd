/**
 * Small inputs, which `encrypt` and `decrypt` read whole and seal or open as bytes (`encryptOne`, `decryptOne`), and the
 * sizes around the limit of that path, which take the stream pipeline: the same round trip either way, with the
 * options that change the message (chunk size, context, signature), and a `/proc` file whose size says 0.
 */
import assert from "node:assert/strict";
import { show, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, writeKey } from "./support/cli_asserts.ts";

Deno.test("cli encrypt: inputs at and around the whole-file limit (64 KiB) round-trip, with chunk size, context and --sign", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const sizes = [0, 1, 4096, 65535, 65536, 65537, 300_000];
  const options: string[][] = [[], ["--chunk-size", "16KiB"], ["-c", "team=ops"], ["--sign"]];
  for (const size of sizes) {
    const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const whole = new Uint8Array(size);
    for (let o = 0; o < size; o += data.length) whole.set(data.subarray(0, Math.min(data.length, size - o)), o);
    await Deno.writeFile(ws.path(`f${size}`), whole);
    for (const extra of options) {
      const name = `f${size}${extra.join("").replace(/[^a-z0-9]/gi, "")}`;
      const sealed = await ws.run(["encrypt", "-k", "local:A.key", ...extra, `f${size}`, "-o", `${name}.envl`]);
      assertOk(sealed);
      const context = extra[0] === "-c" ? ["-c", "team=ops"] : [];
      const back = await ws.run(["decrypt", "-k", "local:A.key", ...context, `${name}.envl`, "-o", `${name}.out`]);
      assertOk(back);
      assert.deepEqual(await Deno.readFile(ws.path(`${name}.out`)), whole, `${size} bytes, ${extra.join(" ")}`);
      const info = await ws.run(["inspect", "--json", `${name}.envl`]);
      assertOk(info);
      const doc = JSON.parse(info.stdout);
      if (extra[0] === "--chunk-size") assert.equal(doc.chunkSize, 16384, show(info));
      if (extra[0] === "-c") assert.deepEqual(doc.context, { team: "ops" }, show(info));
    }
  }
});

Deno.test("cli encrypt: a /proc file whose size says 0 is encrypted whole", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  assertOk(await ws.run(["encrypt", "-k", "local:A.key", "/proc/self/status", "-o", "status.envl"]));
  assertOk(await ws.run(["decrypt", "-k", "local:A.key", "status.envl", "-o", "status.txt"]));
  const text = await Deno.readTextFile(ws.path("status.txt"));
  assert.match(text, /^Name:\t/, "the file's first line");
  assert.match(text, /\nVmRSS:/, "and lines far past its start");
});

Deno.test("cli decrypt: a small message and a large one with a byte changed fail alike, and leave no output", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  for (const size of [100, 300_000]) {
    // Random bytes for the small one; the large one is a pattern (getRandomValues gives at most 64 KiB at a time).
    const data = size <= 65536 ? crypto.getRandomValues(new Uint8Array(size)) : new Uint8Array(size).fill(7);
    await Deno.writeFile(ws.path(`p${size}`), data);
    assertOk(await ws.run(["encrypt", "-k", "local:A.key", `p${size}`, "-o", `p${size}.envl`]));
    const sealed = await Deno.readFile(ws.path(`p${size}.envl`));
    sealed[sealed.length - 20] ^= 1; // inside the final chunk
    await Deno.writeFile(ws.path(`bad${size}.envl`), sealed);
    const r = await ws.run(["decrypt", "-k", "local:A.key", `bad${size}.envl`, "-o", `bad${size}.out`]);
    assertFailed(r, "PAYLOAD_AUTH_FAILED");
    assert.equal(await Deno.stat(ws.path(`bad${size}.out`)).then(() => true, () => false), false, show(r));
  }
});
