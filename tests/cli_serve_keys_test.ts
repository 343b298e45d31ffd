/**
 * `envelope serve-keys` and `envelope data-key` (src/cli/commands/serve_keys.ts, data_key.ts) and decrypt's
 * `--data-key-file`, ENVELOPE_DATA_KEY and `--verification-key`, run as a user would, with AWS KMS served by
 * moto behind a counting proxy, so "no KMS call" is counted where the KMS would see it.
 */
import assert from "node:assert/strict";
import { decrypt, RawDataKey } from "../mod.ts";
import { decodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { randomBytes, show, workspace } from "./support/cli.ts";
import { startCountingProxy } from "./support/counting_proxy.ts";
import { startMoto } from "./support/moto.ts";
import { startKeyServer } from "./support/serve_keys.ts";

const TOKEN = "s3cret-token-for-tests-0123456789";

Deno.test("serve-keys (moto): releases an AWS-wrapped data key for the bearer token; refuses others before any KMS call", async () => {
  await using ws = await workspace();
  const moto = await startMoto();
  const proxy = await startCountingProxy(moto.endpoint);
  try {
    const arn = await moto.createKey("serve-keys test");
    const plaintext = randomBytes(70_000);
    await Deno.writeFile(ws.path("report.bin"), plaintext);
    let r = await ws.run(["encrypt", "report.bin", "-k", arn, "-c", "team=finance"], { env: moto.env() });
    assert.equal(r.code, 0, show(r));
    const sealed = await Deno.readFile(ws.path("report.bin.envl"));
    const header = sealed.subarray(0, parseHeader(sealed).length);
    await Deno.writeTextFile(ws.path("token"), TOKEN + "\n", { mode: 0o600 });

    const origin = "http://127.0.0.1:9";
    const server = await startKeyServer(["-k", arn, "--token-file", ws.path("token"), "--origin", origin], {
      home: ws.home,
      env: { ...moto.env(), AWS_ENDPOINT_URL_KMS: proxy.endpoint },
    });
    try {
      proxy.reset();
      const ask = async (body: Uint8Array, headers: Record<string, string> = {}) => {
        const res = await fetch(server.url, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers });
        return { status: res.status, headers: res.headers, json: await res.json() };
      };
      // No token, a wrong token, a wrong origin: refused, and the KMS never hears of it.
      let a = await ask(header);
      assert.deepEqual([a.status, a.json.error.code], [401, "RELEASE_REFUSED"]);
      assert.equal(a.headers.get("www-authenticate"), "Bearer");
      a = await ask(header, { authorization: `Bearer ${TOKEN}x` });
      assert.deepEqual([a.status, a.json.error.code], [401, "RELEASE_REFUSED"]);
      a = await ask(header, { authorization: `Bearer ${TOKEN}`, origin: "http://evil.example" });
      assert.deepEqual([a.status, a.json.error.code], [403, "RELEASE_REFUSED"]);
      assert.equal(proxy.count("Decrypt"), 0, "an unauthorized request reached the KMS");

      // A forged commitment around the real wrapped key: the KMS is asked once (the commitment can only be checked
      // with the key it commits to) and the key is not answered.
      const forged = header.slice();
      forged[parseHeader(header).core.length - 3] ^= 0x10;
      a = await ask(forged, { authorization: `Bearer ${TOKEN}` });
      assert.deepEqual([a.status, a.json.error.code], [422, "KEY_COMMITMENT_MISMATCH"]);
      assert.equal(a.json.dataKey, undefined);
      assert.equal(proxy.count("Decrypt"), 1);

      // The real header, with CORS for the page's origin: the data key, no-store, one Decrypt.
      proxy.reset();
      const pre = await fetch(server.url, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      });
      await pre.body?.cancel();
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), origin);
      assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/);
      a = await ask(header, { authorization: `Bearer ${TOKEN}`, origin });
      assert.equal(a.status, 200, JSON.stringify(a.json));
      assert.equal(a.headers.get("cache-control"), "no-store");
      assert.equal(a.headers.get("access-control-allow-origin"), origin);
      assert.deepEqual([a.json.provider, a.json.keyId], ["aws-kms", arn]);
      assert.equal(proxy.count("Decrypt"), 1);
      const keys = await RawDataKey.create(a.json.dataKey);
      assert.deepEqual(await decrypt(sealed, { keys }), plaintext);

      // The whole file may be posted; more than the header limit is refused unread.
      a = await ask(new Uint8Array(400_000), { authorization: `Bearer ${TOKEN}` });
      assert.deepEqual([a.status, a.json.error.code], [413, "LIMIT_EXCEEDED"]);
      const log = server.stderr();
      assert.match(log, /released a data key \(aws-kms /);
      assert.match(log, /401 RELEASE_REFUSED/);
      assert.ok(!log.includes(a.json.dataKey ?? "no key") && !log.includes(TOKEN), "the log holds a secret");
      assert.ok(!server.stdout().includes(TOKEN));
    } finally {
      assert.equal(await server.close(), 0);
    }
    // Refusing to start without keys or a real token.
    r = await ws.run(["serve-keys", "--token-file", ws.path("token")]);
    assert.equal(r.code, 2, show(r));
    await Deno.writeTextFile(ws.path("short"), "abc");
    r = await ws.run(["serve-keys", "-k", arn, "--token-file", ws.path("short")], { env: moto.env() });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /INVALID_KEY/);
  } finally {
    await proxy.close();
    await moto.close();
  }
});

Deno.test("data-key prints or writes (0600) the key; decrypt takes --data-key-file, ENVELOPE_DATA_KEY and --verification-key", async () => {
  await using ws = await workspace();
  let r = await ws.run(["keygen", "-o", "local.key"]);
  assert.equal(r.code, 0, show(r));
  await Deno.writeTextFile(ws.path("a.txt"), "the plaintext\n");
  r = await ws.run(["encrypt", "a.txt", "-k", "local:local.key", "--sign"]);
  assert.equal(r.code, 0, show(r));

  r = await ws.run(["data-key", "a.txt.envl", "-k", "local:local.key"]);
  assert.equal(r.code, 0, show(r));
  const printed = r.stdout.trim();
  assert.equal(decodeBase64(printed).length, 32);
  assert.match(r.stderr, /^warning: this is the plaintext data key/m);
  const vk = /verification key is (\S+)/.exec(r.stderr)?.[1];
  assert.ok(vk && decodeBase64(vk).length === 65, show(r));

  r = await ws.run(["data-key", "a.txt.envl", "-k", "local:local.key", "-o", "dk"]);
  assert.equal(r.code, 0, show(r));
  assert.equal((await Deno.stat(ws.path("dk"))).mode! & 0o777, 0o600);
  assert.equal((await Deno.readTextFile(ws.path("dk"))).trim(), printed);
  assert.ok(!r.stdout.includes(printed) && !r.stderr.includes(printed), "-o also printed the key");

  r = await ws.run(["decrypt", "a.txt.envl", "-o", "b.txt", "--data-key-file", "dk", "--verification-key", vk]);
  assert.equal(r.code, 0, show(r));
  assert.equal(await Deno.readTextFile(ws.path("b.txt")), "the plaintext\n");
  r = await ws.run(["decrypt", "a.txt.envl", "-o", "c.txt"], { env: { ENVELOPE_DATA_KEY: printed } });
  assert.equal(r.code, 0, show(r));
  assert.equal(await Deno.readTextFile(ws.path("c.txt")), "the plaintext\n");

  // Another sender's verification key: refused, no output.
  r = await ws.run(["encrypt", "a.txt", "-k", "local:local.key", "--sign", "-o", "other.envl"]);
  const otherVk = parseHeader(await Deno.readFile(ws.path("other.envl"))).context["envelope:verification-key"];
  r = await ws.run(["decrypt", "a.txt.envl", "-o", "d.txt", "--data-key-file", "dk", "--verification-key", otherVk]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[SIGNATURE_INVALID\]/);
  assert.equal(await Deno.stat(ws.path("d.txt")).catch(() => null), null);
  r = await ws.run(["decrypt", "a.txt.envl", "-o", "e.txt", "--data-key", printed, "--data-key-file", "dk"]);
  assert.equal(r.code, 2, show(r));
  r = await ws.run(["data-key", "a.txt.envl", "-k", "local:local.key", "--require-signed", "-c", "x=y"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[CONTEXT_MISMATCH\]/);
});

Deno.test("serve-keys: a refusal closes the connection instead of reading an endless body; TRACE leaves it serving", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "sk.key"])).code, 0);
  await Deno.writeTextFile(ws.path("token"), TOKEN + "\n", { mode: 0o600 });
  const server = await startKeyServer(["-k", `local:${ws.path("sk.key")}`, "--token-file", ws.path("token")], {
    home: ws.home,
  });
  try {
    const port = Number(new URL(server.url).port);
    const trace = await Deno.connect({ hostname: "127.0.0.1", port });
    await trace.write(new TextEncoder().encode("TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const buf = new Uint8Array(200);
    const n = await trace.read(buf);
    trace.close();
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 4\d\d /);
    // A chunked POST without the token that never ends: cut off well before 256 MiB.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const enc = new TextEncoder();
    await conn.write(enc.encode("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const chunk = new Uint8Array(1024 * 1024).fill(97);
    const frame = new Uint8Array([...enc.encode("100000\r\n"), ...chunk, ...enc.encode("\r\n")]);
    let sent = 0;
    const deadline = Date.now() + 60_000;
    try {
      while (sent < 256 * 1024 * 1024 && Date.now() < deadline) {
        for (let off = 0; off < frame.length;) off += await conn.write(frame.subarray(off));
        sent += chunk.length;
      }
    } catch {
      // The server closed the connection: what this test wants.
    } finally {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    assert.ok(sent < 256 * 1024 * 1024, `the server read ${sent} bytes of a refused body`);
    const res = await fetch(server.url, { method: "POST", body: "x" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    assert.equal(await server.close(), 0);
  }
});
