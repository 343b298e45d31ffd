/**
 * The core's loader and memory discipline: keys and plaintext do not stay in
 * the core's memory after use or `dispose()`, memory growth is handled, and
 * the facade works where `crypto.subtle` is missing and fails with
 * `WASM_UNAVAILABLE` where `WebAssembly` is (each in a fresh Deno process).
 */
import assert from "node:assert/strict";
import { AesGcm } from "../src/crypto/aes_gcm.ts";
import { Fernet } from "../src/crypto/fernet.ts";
import { hmacSha256, sha256 } from "../src/crypto/hash.ts";
import { loadCore, moduleBytes } from "../src/crypto/wasm.ts";
import { WASM_BASE64, WASM_SHA256 } from "../src/crypto/_wasm/core.generated.ts";
import { decodeBase64, encodeHex } from "../src/encoding/base64.ts";
import { randomBytes } from "../src/crypto/random.ts";

/** Where `needle` occurs in the core's whole memory. */
async function occurrences(needle: Uint8Array): Promise<number> {
  const mem = (await loadCore()).mem();
  let count = 0;
  const first = needle[0];
  for (let i = mem.indexOf(first); i >= 0 && i <= mem.length - needle.length; i = mem.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && mem[i + j] === needle[j]) j++;
    if (j === needle.length) count++;
  }
  return count;
}

Deno.test("keys leave no copy in the core's memory after dispose (AesGcm, all sizes; Fernet)", async () => {
  for (const n of [16, 24, 32]) {
    const key = randomBytes(n);
    const g = await AesGcm.create(key);
    assert.ok((await occurrences(key)) >= 1, "the key is in the core while loaded");
    const iv = randomBytes(12);
    const s = g.beginSeal(iv);
    s.update(randomBytes(100));
    await g.sealAsync(iv, randomBytes(1 << 20)); // imports into WebCrypto too
    g.dispose();
    assert.equal(await occurrences(key), 0, `AES-${n * 8} key wiped`);
  }
  const key = randomBytes(32);
  const f = await Fernet.create(key);
  assert.ok((await occurrences(key)) >= 1);
  const t = await f.encryptAsync(randomBytes(2000)); // core HMAC with the key in place
  await f.decryptAsync(await f.encryptAsync(randomBytes(100_000)));
  f.decrypt(t);
  f.dispose();
  assert.equal(await occurrences(key), 0, "Fernet key wiped");
  assert.equal(await occurrences(key.subarray(0, 16)), 0, "Fernet signing key wiped");
  assert.equal(await occurrences(key.subarray(16)), 0, "Fernet encryption key wiped");
});

Deno.test("plaintext does not stay in the core's memory after open, decrypt or hashing", async () => {
  const g = await AesGcm.create(randomBytes(32));
  for (const n of [40, 70_000, (1 << 20) + 9]) {
    const pt = randomBytes(n);
    const iv = randomBytes(12);
    const sealed = g.seal(iv, pt);
    assert.deepEqual(g.open(iv, sealed), pt);
    const o = g.beginOpen(iv);
    o.update(sealed.subarray(0, n));
    o.finish(sealed.subarray(n));
    assert.equal(await occurrences(pt.subarray(0, 32)), 0, `open ${n}`);
    assert.equal(await occurrences(pt.subarray(n - 32)), 0, `open ${n}, tail`);
  }
  g.dispose();
  const f = await Fernet.create(randomBytes(32));
  for (const n of [40, 70_000, (1 << 20) + 9]) {
    const pt = randomBytes(n);
    const token = f.encrypt(pt);
    assert.deepEqual(f.decrypt(token), pt);
    assert.equal(await occurrences(pt.subarray(0, 32)), 0, `Fernet ${n}`);
    assert.equal(await occurrences(pt.subarray(n - 32)), 0, `Fernet ${n}, tail`);
  }
  f.dispose();
  const secret = randomBytes(3 << 20);
  const mac = randomBytes(32);
  sha256(secret);
  hmacSha256(mac, secret);
  assert.equal(await occurrences(secret.subarray(0, 32)), 0, "hashed data");
  assert.equal(await occurrences(mac), 0, "HMAC key");
});

Deno.test("the keystream of a seal or open does not stay in the core's memory (AesGcm, a whole message)", async () => {
  const { encrypt } = await import("../src/envelope/encrypt.ts");
  const { decrypt } = await import("../src/envelope/decrypt.ts");
  const { parseHeader } = await import("../src/format/header.ts");
  const { RawDataKey } = await import("../src/keys/raw.ts");
  /** The keystream blocks of the last, partial 128-byte run of `n` bytes: ciphertext XOR plaintext. */
  const tailKeystream = (ct: Uint8Array, pt: Uint8Array) => {
    const from = Math.floor(pt.length / 128) * 128;
    const blocks: Uint8Array[] = [];
    for (let at = from; at + 16 <= pt.length; at += 16) {
      blocks.push(Uint8Array.from({ length: 16 }, (_, i) => ct[at + i] ^ pt[at + i]));
    }
    return blocks;
  };
  const g = await AesGcm.create(randomBytes(32));
  const key = await RawDataKey.create(randomBytes(32));
  try {
    for (const n of [200, 20_000, 30_000]) {
      const pt = randomBytes(n);
      const iv = randomBytes(12);
      const sealed = g.seal(iv, pt);
      for (const [i, block] of tailKeystream(sealed, pt).entries()) {
        assert.equal(await occurrences(block), 0, `AesGcm.seal ${n}: keystream block ${i} left in the core`);
      }
      assert.deepEqual(g.open(iv, sealed), pt);
      for (const [i, block] of tailKeystream(sealed, pt).entries()) {
        assert.equal(await occurrences(block), 0, `AesGcm.open ${n}: keystream block ${i} left in the core`);
      }
      // A whole message of this size is sealed and opened by the core in one call (chunks.ts sealsInCore).
      const message = await encrypt(pt, { keys: key });
      const ct = message.subarray(parseHeader(message).length);
      for (const [i, block] of tailKeystream(ct, pt).entries()) {
        assert.equal(await occurrences(block), 0, `encrypt ${n}: keystream block ${i} left in the core`);
      }
      assert.deepEqual(await decrypt(message, { keys: key }), pt);
      for (const [i, block] of tailKeystream(ct, pt).entries()) {
        assert.equal(await occurrences(block), 0, `decrypt ${n}: keystream block ${i} left in the core`);
      }
    }
  } finally {
    g.dispose();
    key.dispose();
  }
});

async function runDeno(code: string): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { ok: out.success, out: td.decode(out.stdout) + td.decode(out.stderr) };
}

Deno.test("mem() follows the core's memory when it grows, and the core works on after growth", async () => {
  const core = await loadCore();
  const before = core.mem();
  assert.equal(before.length, core.exports.memory.buffer.byteLength);
  core.exports.memory.grow(1);
  assert.equal(before.length, 0, "growing detaches the old view");
  const after = core.mem();
  assert.notEqual(after, before);
  assert.equal(after.length, core.exports.memory.buffer.byteLength);
  assert.equal(core.mem(), after, "the view is kept while the memory does not grow");
  // Growth from inside the core (a large allocation) is seen as well.
  const big = randomBytes(8 << 20);
  const want = new Uint8Array(await crypto.subtle.digest("SHA-256", big as Uint8Array<ArrayBuffer>));
  assert.deepEqual(sha256(big), want);
  assert.equal(core.mem().length, core.exports.memory.buffer.byteLength);
  const gcm = await AesGcm.create(randomBytes(32));
  const iv = randomBytes(12);
  assert.deepEqual(gcm.open(iv, gcm.seal(iv, big.subarray(0, 4096))), big.subarray(0, 4096));
  gcm.dispose();
});

Deno.test("without crypto.subtle everything runs on the core and gives the same bytes", async () => {
  const r = await runDeno(`
    Object.defineProperty(globalThis.crypto, "subtle", { value: undefined, configurable: true });
    const { AesGcm, Fernet, sha256, hkdfSha256, ready } = await import("./src/crypto/mod.ts");
    const { encodeHex } = await import("./src/encoding/base64.ts");
    await ready();
    const g = await AesGcm.create(new Uint8Array(32));
    const iv = new Uint8Array(12);
    const big = new Uint8Array(1 << 20).fill(7);
    const a = await g.sealAsync(iv, big, undefined, { backend: "webcrypto" });
    const b = g.seal(iv, big);
    if (encodeHex(a) !== encodeHex(b)) throw new Error("sealAsync differs");
    if ((await g.openAsync(iv, a)).length !== big.length) throw new Error("openAsync");
    const f = await Fernet.create(new Uint8Array(32));
    const t = await f.encryptAsync(big, { backend: "webcrypto" });
    if ((await f.decryptAsync(t, { backend: "webcrypto" })).length !== big.length) throw new Error("fernet");
    console.log("OK", encodeHex(sha256(new Uint8Array(0))).slice(0, 8), hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 42).length);
  `);
  assert.ok(r.ok, r.out);
  assert.match(r.out, /OK e3b0c442 42/);
});

Deno.test("without WebAssembly every entry point fails with WASM_UNAVAILABLE", async () => {
  const r = await runDeno(`
    delete globalThis.WebAssembly;
    const { AesGcm, Fernet, sha256, ready } = await import("./src/crypto/mod.ts");
    const codes = [];
    for (const f of [() => ready(), () => AesGcm.create(new Uint8Array(16)), () => Fernet.create(new Uint8Array(32)), async () => sha256(new Uint8Array(1))]) {
      try { await f(); codes.push("none"); } catch (e) { codes.push(e.code); }
    }
    console.log(codes.join(","));
  `);
  assert.ok(r.ok, r.out);
  assert.equal(r.out.trim(), "WASM_UNAVAILABLE,WASM_UNAVAILABLE,WASM_UNAVAILABLE,WASM_UNAVAILABLE");
});

Deno.test("the core's bytes: the native base64 decoder (where the runtime has one) and the portable one agree", async () => {
  const portable = decodeBase64(WASM_BASE64);
  const native = (Uint8Array as unknown as { fromBase64?: unknown }).fromBase64;
  assert.equal(typeof native, "function", "Deno 2.9 has Uint8Array.fromBase64; this test checks it against ours");
  assert.deepEqual(moduleBytes(), portable);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", moduleBytes()));
  assert.equal(encodeHex(digest), WASM_SHA256);
});
