// Round trips through the installed npm package on Node: bytes and streams,
// LocalKey and RawDataKey, Fernet and AesGcm, every export subpath, the
// random-access reader over a file (./fs), and the raw core.wasm file.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as envelope from "@envelope/envelope";
import {
  AesGcm,
  decrypt,
  decryptStream,
  DEFAULT_CHUNK_SIZE,
  encrypt,
  encryptStream,
  Fernet,
  inspect,
  LocalKey,
  openRandomAccess,
  RawDataKey,
} from "@envelope/envelope";
import { collect, hex, outcomeCode, pattern, streamOf, utf8 } from "./support/helpers.mjs";

const CONTEXT = { app: "npm-test", tenant: "acme" };

test("bytes: encrypt then decrypt with a LocalKey, for lengths around the chunk size", async () => {
  const key = await LocalKey.generate();
  const cs = 1024;
  for (const n of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500]) {
    const pt = pattern(n);
    const sealed = await encrypt(pt, { keys: key, context: CONTEXT, chunkSize: cs });
    assert.equal(hex(await decrypt(sealed, { keys: key, context: CONTEXT })), hex(pt), `length ${n}`);
  }
});

test("bytes: a wrong context, a flipped byte and another key are refused with their codes", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(utf8("secret"), { keys: key, context: CONTEXT });
  assert.equal(await outcomeCode(() => decrypt(sealed, { keys: key, context: { app: "other" } })), "CONTEXT_MISMATCH");
  const flipped = sealed.slice();
  flipped[flipped.length - 3] ^= 0x40;
  assert.equal(await outcomeCode(() => decrypt(flipped, { keys: key })), "PAYLOAD_AUTH_FAILED");
  assert.equal(await outcomeCode(async () => decrypt(sealed, { keys: await LocalKey.generate() })), "NO_KEY_MATCHED");
});

test("streams: encryptStream then decryptStream in odd piece sizes, and across to the buffered API", async () => {
  const key = await LocalKey.generate();
  const pt = pattern(3 * DEFAULT_CHUNK_SIZE + 123, 3);
  const sealed = await collect(streamOf(pt, 777).pipeThrough(encryptStream({ keys: key, context: CONTEXT })));
  assert.equal(hex(await decrypt(sealed, { keys: key, context: CONTEXT })), hex(pt));
  const opened = await collect(streamOf(sealed, 4093).pipeThrough(decryptStream({ keys: key, context: CONTEXT })));
  assert.equal(hex(opened), hex(pt));
  const viaResponse = await new Response(
    new Response(await encrypt(pt, { keys: key })).body.pipeThrough(decryptStream({ keys: key })),
  ).arrayBuffer();
  assert.equal(hex(new Uint8Array(viaResponse)), hex(pt));
});

test("LocalKey: its text form loads again with the same key id and opens what the first sealed", async () => {
  const key = await LocalKey.generate();
  const again = await LocalKey.fromText(key.toText());
  assert.equal(again.keyId, key.keyId);
  assert.match(key.keyId, /^[0-9a-f]{16}$/);
  const sealed = await encrypt(utf8("kept"), { keys: key });
  assert.equal(new TextDecoder().decode(await decrypt(sealed, { keys: again })), "kept");
  const info = await inspect(sealed);
  assert.deepEqual(info.keys.map((k) => [k.provider, k.keyId]), [["local", key.keyId]]);
});

test("RawDataKey: a data key from elsewhere decrypts, as bytes and as base64", async () => {
  const dataKey = crypto.getRandomValues(new Uint8Array(32));
  const sealed = await encrypt(utf8("from the backend"), { keys: await RawDataKey.create(dataKey), context: CONTEXT });
  const b64 = Buffer.from(dataKey).toString("base64");
  for (const k of [dataKey, b64]) {
    const opened = await decrypt(sealed, { keys: await RawDataKey.create(k), context: CONTEXT });
    assert.equal(new TextDecoder().decode(opened), "from the backend");
  }
  const other = await RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));
  assert.notEqual(await outcomeCode(() => decrypt(sealed, { keys: other })), "success");
});

test("Fernet: sync and async round trips, a TTL, and a changed token refused", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  const token = f.encrypt("hello fernet");
  assert.match(token, /^gAAAAA[A-Za-z0-9_-]+=*$/);
  assert.equal(new TextDecoder().decode(f.decrypt(token)), "hello fernet");
  const big = pattern(100_000);
  assert.equal(hex(await f.decryptAsync(await f.encryptAsync(big))), hex(big));
  const old = f.encrypt("old", { now: new Date("2020-01-01T00:00:00Z") });
  assert.equal(
    await outcomeCode(() => f.decrypt(old, { ttl: 60, now: new Date("2020-01-01T00:02:00Z") })),
    "TOKEN_EXPIRED",
  );
  const bad = token.slice(0, 20) + (token[20] === "A" ? "B" : "A") + token.slice(21);
  assert.equal(await outcomeCode(() => f.decrypt(bad)), "TOKEN_INVALID");
});

test("AesGcm: one-shot, async, incremental seal/open with 12- and 16-byte IVs", async () => {
  const gcm = await AesGcm.create(crypto.getRandomValues(new Uint8Array(32)));
  const pt = pattern(70_000), aad = utf8("header");
  for (const ivLen of [12, 16]) {
    const iv = crypto.getRandomValues(new Uint8Array(ivLen));
    const sealed = gcm.seal(iv, pt, aad);
    assert.equal(sealed.length, pt.length + 16);
    assert.equal(hex(gcm.open(iv, sealed, aad)), hex(pt));
    assert.equal(hex(await gcm.openAsync(iv, await gcm.sealAsync(iv, pt, aad), aad)), hex(pt));
    assert.equal(hex(await gcm.sealAsync(iv, pt, aad)), hex(sealed));
    assert.equal(await outcomeCode(() => gcm.open(iv, sealed, utf8("other"))), "PAYLOAD_AUTH_FAILED");
    const s = gcm.beginSeal(iv, aad);
    const parts = [s.update(pt.subarray(0, 1)), s.update(pt.subarray(1, 40_001)), s.update(pt.subarray(40_001))];
    const tag = s.finish();
    assert.equal(hex(Buffer.concat([...parts, tag])), hex(sealed));
    const o = gcm.beginOpen(iv, aad);
    const opened = [o.update(sealed.subarray(0, 333)), o.update(sealed.subarray(333, pt.length))];
    o.finish(sealed.subarray(pt.length));
    assert.equal(hex(Buffer.concat(opened)), hex(pt));
    const o2 = gcm.beginOpen(iv, aad);
    o2.update(sealed.subarray(0, pt.length));
    const badTag = sealed.slice(pt.length);
    badTag[0] ^= 1;
    assert.equal(await outcomeCode(() => o2.finish(badTag)), "PAYLOAD_AUTH_FAILED");
  }
  gcm.dispose();
});

test("every export subpath loads; the browser entry works on Node too", async () => {
  const browser = await import("@envelope/envelope/browser");
  for (
    const name of ["encrypt", "decrypt", "encryptStream", "decryptStream", "LocalKey", "RawDataKey", "Fernet", "AesGcm"]
  ) {
    assert.equal(typeof browser[name], "function", `browser ${name}`);
    assert.equal(typeof envelope[name], "function", `main ${name}`);
  }
  const key = await browser.RawDataKey.create(new Uint8Array(32).fill(9));
  assert.equal((await envelope.decrypt(await browser.encrypt(utf8("x"), { keys: key }), { keys: key }))[0], 0x78);
  const fs = await import("@envelope/envelope/fs");
  assert.equal(typeof fs.fileSource, "function");
  assert.equal(typeof fs.loadLocalKeyFile, "function");
  const aliyun = await import("@envelope/envelope/aliyun");
  assert.equal(typeof aliyun.AliyunKms, "function");
  const aws = await import("@envelope/envelope/aws");
  assert.equal(typeof aws.AwsKms, "function");
  const pkg = createRequire(import.meta.url)("@envelope/envelope/package.json");
  assert.equal(pkg.name, "@envelope/envelope");
  assert.equal(pkg.type, "module");
});

test("./fs: random access into an encrypted file on disk", async () => {
  const { fileSource } = await import("@envelope/envelope/fs");
  const dir = await mkdtemp(join(tmpdir(), "envelope-npm-"));
  try {
    const key = await LocalKey.generate();
    const pt = pattern(5000, 11);
    const path = join(dir, "data.envl");
    await writeFile(path, await encrypt(pt, { keys: key, chunkSize: 1024 }));
    const reader = await openRandomAccess(await fileSource(path), { keys: key });
    try {
      assert.equal(hex(await reader.read(1000, 100)), hex(pt.subarray(1000, 1100)));
      assert.equal(hex(await reader.read(4990, 10)), hex(pt.subarray(4990)));
    } finally {
      await reader.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("core.wasm: the raw module ships, resolves through the exports map and exports the ABI", async () => {
  const path = createRequire(import.meta.url).resolve("@envelope/envelope/core.wasm");
  const bytes = await readFile(path);
  assert.ok(WebAssembly.validate(bytes));
  const { instance } = await WebAssembly.instantiate(bytes, {});
  for (
    const name of ["memory", "alloc", "free", "gcm_seal", "gcm_open", "sha256", "fernet_encrypt", "fernet_decrypt"]
  ) {
    assert.ok(name in instance.exports, `core.wasm exports ${name}`);
  }
});
