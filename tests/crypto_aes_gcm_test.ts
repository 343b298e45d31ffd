/**
 * AES-GCM over the WASM core: argument checks, the incremental API, the
 * tamper sweep, and differential tests against Python's `cryptography`,
 * Node's `crypto` (a `node` subprocess, any IV length), Deno's `node:crypto`
 * (12-byte IVs only: it is wrong for 16-byte IVs, see COMPAT.md section 6) and
 * WebCrypto; and the two backends of `sealAsync`/`openAsync` byte for byte.
 */
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { AesGcm } from "../src/crypto/aes_gcm.ts";
import { WINDOW } from "../src/crypto/wasm.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeHex, encodeHex } from "../src/encoding/base64.ts";
import { type GcmCase, pythonGcm } from "./support/python.ts";

/** A small seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Byte equality that stays fast for MiB inputs and names the first difference. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: first difference at byte ${i}`);
  }
}

const KEY_SIZES = [16, 24, 32] as const;
/** Lengths across the block (16), 4-block (64) and 8-block (128) boundaries. */
const LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000];

function assertAuthFailed(f: () => unknown, what: string): void {
  assert.throws(f, (err: unknown) => isEnvelopeError(err, "PAYLOAD_AUTH_FAILED"), what);
}

async function assertAuthFailedAsync(f: () => Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(f, (err: unknown) => isEnvelopeError(err, "PAYLOAD_AUTH_FAILED"), what);
}

interface Case {
  key: Uint8Array;
  iv: Uint8Array;
  aad: Uint8Array;
  pt: Uint8Array;
}

function makeCases(seed: number, ivLengths: number[], count: number): Case[] {
  const r = rng(seed);
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    cases.push({
      key: randomBytes(KEY_SIZES[i % 3]),
      iv: randomBytes(ivLengths[i % ivLengths.length]),
      aad: randomBytes(LENGTHS[Math.floor(r() * LENGTHS.length)]),
      pt: randomBytes(LENGTHS[Math.floor(r() * LENGTHS.length)]),
    });
  }
  return cases;
}

async function sealAll(cases: Case[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const c of cases) {
    const g = await AesGcm.create(c.key);
    out.push(g.seal(c.iv, c.pt, c.aad));
    g.dispose();
  }
  return out;
}

Deno.test("AesGcm refuses bad keys, IVs and argument types", async () => {
  for (const n of [0, 1, 15, 17, 31, 33, 64]) {
    await assert.rejects(
      () => AesGcm.create(new Uint8Array(n)),
      (e: unknown) => isEnvelopeError(e, "INVALID_KEY"),
      `key of ${n} bytes`,
    );
  }
  await assert.rejects(() => AesGcm.create("0".repeat(32) as unknown as Uint8Array), TypeError);
  for (const n of [0, 15, 33]) {
    assert.throws(
      () => AesGcm.createSync(new Uint8Array(n)),
      (e: unknown) => isEnvelopeError(e, "INVALID_KEY"),
      `createSync, key of ${n} bytes`,
    );
  }
  assert.throws(() => AesGcm.createSync("0".repeat(32) as unknown as Uint8Array), TypeError);
  const g = await AesGcm.create(new Uint8Array(32));
  assert.throws(
    () => g.seal(new Uint8Array(0), new Uint8Array(1)),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => g.open(new Uint8Array(0), new Uint8Array(16)),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(() => g.beginSeal(new Uint8Array(0)), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  assert.throws(() => g.seal([1, 2] as unknown as Uint8Array, new Uint8Array(1)), TypeError);
  assert.throws(() => g.seal(new Uint8Array(12), "x" as unknown as Uint8Array), TypeError);
  for (const n of [0, 1, 15]) {
    assertAuthFailed(() => g.open(new Uint8Array(12), new Uint8Array(n)), `sealed of ${n} bytes`);
  }
  await assertAuthFailedAsync(() => g.openAsync(new Uint8Array(12), new Uint8Array(15)), "short sealed, async");
  g.dispose();
});

Deno.test("AesGcm known answers: NIST GCM test cases 2, 4 (AAD) and 6 (60-byte IV)", async () => {
  // From the GCM specification's test cases (McGrew and Viega), AES-128.
  const k0 = new Uint8Array(16);
  const g0 = await AesGcm.create(k0);
  assert.equal(
    encodeHex(g0.seal(new Uint8Array(12), new Uint8Array(16))),
    "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf",
  );
  g0.dispose();
  const s0 = AesGcm.createSync(k0);
  assert.equal(
    encodeHex(s0.seal(new Uint8Array(12), new Uint8Array(16))),
    "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf",
    "createSync makes the same key",
  );
  s0.dispose();
  const key = decodeHex("feffe9928665731c6d6a8f9467308308");
  const pt = decodeHex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
  );
  const aad = decodeHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const g = await AesGcm.create(key);
  const tc4 = g.seal(decodeHex("cafebabefacedbaddecaf888"), pt, aad);
  assert.equal(
    encodeHex(tc4),
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091" +
      "5bc94fbc3221a5db94fae95ae7121a47",
  );
  const iv6 = decodeHex(
    "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
  );
  const tc6 = g.seal(iv6, pt, aad);
  assert.equal(
    encodeHex(tc6),
    "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca701e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5" +
      "619cc5aefffe0bfa462af43c1699d050",
  );
  assert.deepEqual(g.open(iv6, tc6, aad), pt);
  g.dispose();
});

Deno.test("AesGcm round trips across block and window boundaries, and large AAD", async () => {
  const g = await AesGcm.create(randomBytes(32));
  const sizes = [...LENGTHS, WINDOW - 17, WINDOW - 16, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW + 500];
  for (const n of sizes) {
    for (const ivLen of [12, 16]) {
      const iv = randomBytes(ivLen);
      const pt = randomBytes(n);
      const aad = randomBytes(n % 7 === 0 ? 70_000 : 5);
      const sealed = g.seal(iv, pt, aad);
      assert.equal(sealed.length, n + 16);
      assert.deepEqual(g.open(iv, sealed, aad), pt, `length ${n}, IV ${ivLen}`);
    }
  }
  g.dispose();
});

Deno.test("AesGcm.sealInto writes seal's bytes at the offset, leaves the rest alone, and refuses a short output", async () => {
  const g = await AesGcm.create(randomBytes(32));
  for (const n of [0, 1, 4096, WINDOW, WINDOW + 1, 2 * WINDOW + 500]) {
    const iv = randomBytes(12);
    const pt = randomBytes(n);
    const aad = randomBytes(n % 2 ? 70_000 : 5);
    const out = new Uint8Array(7 + n + 16 + 3).fill(0xee);
    g.sealInto(iv, pt, aad, out, 7);
    assertSameBytes(out.subarray(7, 7 + n + 16), g.seal(iv, pt, aad), `length ${n}`);
    assert.ok(out.subarray(0, 7).every((b) => b === 0xee), `bytes before, length ${n}`);
    assert.ok(out.subarray(7 + n + 16).every((b) => b === 0xee), `bytes after, length ${n}`);
  }
  const out = new Uint8Array(40).fill(0xee);
  for (const [n, offset] of [[25, 0], [10, 15], [0, -1], [0, 1.5], [0, 25]] as const) {
    assert.throws(() => g.sealInto(new Uint8Array(12), new Uint8Array(n), new Uint8Array(0), out, offset), RangeError);
  }
  assert.ok(out.every((b) => b === 0xee), "a refused call writes nothing");
  g.dispose();
  assert.throws(
    () => g.sealInto(new Uint8Array(12), new Uint8Array(1), new Uint8Array(0), new Uint8Array(17), 0),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
});

Deno.test("AesGcm agrees with Python's cryptography both ways (IVs 8..64, all key sizes)", async () => {
  const ivLens = Array.from({ length: 57 }, (_, i) => i + 8);
  const cases = makeCases(0xc0ffee, ivLens, 57 * 3);
  // The full cross of plaintext and AAD lengths with a 12-byte IV.
  for (const p of LENGTHS) {
    for (const a of [0, 1, 16, 17, 64, 129]) {
      cases.push({ key: randomBytes(KEY_SIZES[p % 3]), iv: randomBytes(12), aad: randomBytes(a), pt: randomBytes(p) });
    }
  }
  // Window boundaries, with 12- and 16-byte IVs and an AAD larger than the scratch head.
  for (const p of [WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW + 500]) {
    cases.push({
      key: randomBytes(32),
      iv: randomBytes(p % 2 ? 16 : 12),
      aad: randomBytes(p === WINDOW ? 70_000 : 3),
      pt: randomBytes(p),
    });
  }
  const ours = await sealAll(cases);
  const py: GcmCase[] = [];
  for (const [i, c] of cases.entries()) {
    py.push({ op: "seal", key: c.key, iv: c.iv, aad: c.aad, data: c.pt });
    py.push({ op: "open", key: c.key, iv: c.iv, aad: c.aad, data: ours[i] });
  }
  const res = await pythonGcm(py);
  for (const [i, c] of cases.entries()) {
    const what = `key ${c.key.length}, IV ${c.iv.length}, AAD ${c.aad.length}, plaintext ${c.pt.length}`;
    const theirs = res[2 * i];
    assert.ok(theirs !== null);
    assertSameBytes(ours[i], theirs, `Python seals the same bytes: ${what}`);
    const opened = res[2 * i + 1];
    assert.ok(opened !== null, `Python opens ours: ${what}`);
    assertSameBytes(opened, c.pt, `Python opens ours: ${what}`);
    const g = await AesGcm.create(c.key);
    assertSameBytes(g.open(c.iv, theirs, c.aad), c.pt, `we open Python's: ${what}`);
    g.dispose();
  }
});

const NODE_GCM = `
const crypto = require("node:crypto");
let input = "";
process.stdin.on("data", (d) => input += d);
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((c) => {
    const key = Buffer.from(c.key, "hex"), iv = Buffer.from(c.iv, "hex");
    const alg = "aes-" + key.length * 8 + "-gcm";
    const e = crypto.createCipheriv(alg, key, iv);
    e.setAAD(Buffer.from(c.aad, "hex"));
    const ct = Buffer.concat([e.update(Buffer.from(c.pt, "hex")), e.final(), e.getAuthTag()]);
    const sealed = Buffer.from(c.ours, "hex");
    const d = crypto.createDecipheriv(alg, key, iv);
    d.setAAD(Buffer.from(c.aad, "hex"));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    let opened = null;
    try { opened = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]).toString("hex"); } catch {}
    return { sealed: ct.toString("hex"), opened };
  });
  process.stdout.write(JSON.stringify(out));
});
`;

Deno.test("AesGcm agrees with Node's crypto (a node subprocess) for every IV length 1..64", async () => {
  const ivLens = Array.from({ length: 64 }, (_, i) => i + 1);
  const cases = makeCases(0xbeef, ivLens, 64 * 3);
  const ours = await sealAll(cases);
  const child = new Deno.Command("node", { args: ["-e", NODE_GCM], stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(cases.map((c, i) => ({
    key: encodeHex(c.key),
    iv: encodeHex(c.iv),
    aad: encodeHex(c.aad),
    pt: encodeHex(c.pt),
    ours: encodeHex(ours[i]),
  })))));
  await w.close();
  const out = await child.output();
  assert.ok(out.success, `node failed: ${new TextDecoder().decode(out.stderr)}`);
  const res = JSON.parse(new TextDecoder().decode(out.stdout)) as { sealed: string; opened: string | null }[];
  for (const [i, c] of cases.entries()) {
    const what = `key ${c.key.length}, IV ${c.iv.length}, AAD ${c.aad.length}, plaintext ${c.pt.length}`;
    assert.equal(encodeHex(ours[i]), res[i].sealed, `Node seals the same bytes: ${what}`);
    assert.equal(res[i].opened, encodeHex(c.pt), `Node opens ours: ${what}`);
    const g = await AesGcm.create(c.key);
    assert.deepEqual(g.open(c.iv, decodeHex(res[i].sealed), c.aad), c.pt, `we open Node's: ${what}`);
    g.dispose();
  }
});

Deno.test("AesGcm agrees with WebCrypto (12- and 16-byte IVs) and with Deno's node:crypto (12-byte IVs)", async () => {
  const cases = makeCases(0x5eed, [12, 16], 120);
  const ours = await sealAll(cases);
  for (const [i, c] of cases.entries()) {
    const what = `key ${c.key.length}, IV ${c.iv.length}, AAD ${c.aad.length}, plaintext ${c.pt.length}`;
    const k = await crypto.subtle.importKey("raw", c.key as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    const params = {
      name: "AES-GCM",
      iv: c.iv as Uint8Array<ArrayBuffer>,
      additionalData: c.aad as Uint8Array<ArrayBuffer>,
    };
    const web = new Uint8Array(await crypto.subtle.encrypt(params, k, c.pt as Uint8Array<ArrayBuffer>));
    assert.equal(encodeHex(ours[i]), encodeHex(web), `WebCrypto seals the same bytes: ${what}`);
    assert.deepEqual(new Uint8Array(await crypto.subtle.decrypt(params, k, ours[i] as Uint8Array<ArrayBuffer>)), c.pt);
    // Deno's node:crypto has no AES-192-GCM.
    if (c.iv.length === 12 && c.key.length !== 24) {
      const e = createCipheriv(`aes-${c.key.length * 8}-gcm` as "aes-256-gcm", c.key, c.iv);
      e.setAAD(c.aad);
      const n = new Uint8Array([...e.update(c.pt), ...e.final(), ...e.getAuthTag()]);
      assert.equal(encodeHex(ours[i]), encodeHex(n), `node:crypto seals the same bytes: ${what}`);
    }
  }
});

Deno.test("AesGcm tamper sweep: every flipped byte of IV, AAD, ciphertext and tag fails", async () => {
  const g = await AesGcm.create(randomBytes(32));
  for (const ivLen of [12, 16, 5]) {
    const iv = randomBytes(ivLen);
    const aad = randomBytes(20);
    const pt = randomBytes(37);
    const sealed = g.seal(iv, pt, aad);
    for (const bit of [0x01, 0x80]) {
      for (let i = 0; i < sealed.length; i++) {
        const bad = sealed.slice();
        bad[i] ^= bit;
        assertAuthFailed(() => g.open(iv, bad, aad), `sealed byte ${i}`);
        if (ivLen === 12) {
          await assertAuthFailedAsync(
            () => g.openAsync(iv, bad, aad, { backend: "webcrypto" }),
            `sealed byte ${i}, WebCrypto`,
          );
        }
        const o = g.beginOpen(iv, aad);
        o.update(bad.subarray(0, pt.length));
        assertAuthFailed(() => o.finish(bad.subarray(pt.length)), `sealed byte ${i}, incremental`);
      }
      for (let i = 0; i < aad.length; i++) {
        const bad = aad.slice();
        bad[i] ^= bit;
        assertAuthFailed(() => g.open(iv, sealed, bad), `AAD byte ${i}`);
      }
      for (let i = 0; i < iv.length; i++) {
        const bad = iv.slice();
        bad[i] ^= bit;
        assertAuthFailed(() => g.open(bad, sealed, aad), `IV byte ${i}`);
      }
    }
    assertAuthFailed(() => g.open(iv, sealed.subarray(0, sealed.length - 1), aad), "truncated");
    assertAuthFailed(() => g.open(iv, new Uint8Array([...sealed, 0]), aad), "extended");
    assertAuthFailed(() => g.open(iv, sealed, aad.subarray(1)), "shorter AAD");
    assertAuthFailed(() => g.open(iv, sealed), "AAD missing");
    const other = await AesGcm.create(randomBytes(32));
    assertAuthFailed(() => other.open(iv, sealed, aad), "another key");
    other.dispose();
    assert.deepEqual(g.open(iv, sealed, aad), pt);
  }
  // A failed large open returns nothing and the key still works afterwards.
  const iv = randomBytes(12);
  const big = g.seal(iv, randomBytes(WINDOW + 100));
  big[WINDOW + 50] ^= 1;
  assertAuthFailed(() => g.open(iv, big), "large message");
  g.dispose();
});

Deno.test("AesGcm incremental seal and open with random splits equal one-shot", async () => {
  const r = rng(42);
  for (const keyLen of KEY_SIZES) {
    const g = await AesGcm.create(randomBytes(keyLen));
    for (const n of [0, 1, 15, 16, 17, 100, 1000, 5000, WINDOW + 3]) {
      for (const ivLen of [12, 1, 16]) {
        const iv = randomBytes(ivLen);
        const aad = randomBytes(Math.floor(r() * 40));
        const pt = randomBytes(n);
        const whole = g.seal(iv, pt, aad);
        const s = g.beginSeal(iv, aad);
        const parts: Uint8Array[] = [];
        let off = 0;
        while (off < n) {
          const step = Math.min(n - off, 1 + Math.floor(r() * (n > 5000 ? 300_000 : 70)));
          parts.push(s.update(pt.subarray(off, off + step)));
          off += step;
        }
        if (r() < 0.5) parts.push(s.update(new Uint8Array(0)));
        parts.push(s.finish());
        assert.deepEqual(concat(parts), whole, `seal ${n}`);
        const o = g.beginOpen(iv, aad);
        const got: Uint8Array[] = [];
        off = 0;
        while (off < n) {
          const step = Math.min(n - off, 1 + Math.floor(r() * (n > 5000 ? 300_000 : 70)));
          got.push(o.update(whole.subarray(off, off + step)));
          off += step;
        }
        o.finish(whole.subarray(n));
        assert.deepEqual(concat(got), pt, `open ${n}`);
      }
    }
    g.dispose();
  }
});

Deno.test("AesGcm incremental objects: finish once, abort, wrong tag length, dispose aborts", async () => {
  const g = await AesGcm.create(randomBytes(16));
  const iv = randomBytes(12);
  const s = g.beginSeal(iv);
  s.update(new Uint8Array(5));
  s.finish();
  assert.throws(() => s.finish(), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  assert.throws(() => s.update(new Uint8Array(1)), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  const a = g.beginSeal(iv);
  a.abort();
  a.abort();
  assert.throws(() => a.finish(), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  const o = g.beginOpen(iv);
  assertAuthFailed(() => o.finish(new Uint8Array(15)), "short tag");
  const pending = g.beginOpen(iv);
  const pending2 = g.beginSeal(iv, new Uint8Array(3));
  g.dispose();
  assert.throws(() => pending.update(new Uint8Array(1)), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  assert.throws(() => pending2.finish(), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  assert.throws(() => g.seal(iv, new Uint8Array(1)), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  assert.throws(() => g.open(iv, new Uint8Array(16)), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  await assert.rejects(
    () => g.sealAsync(iv, new Uint8Array(1)),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  g.dispose();
});

Deno.test("AesGcm backends: WebCrypto and WASM give identical bytes and open each other's", async () => {
  const g = await AesGcm.create(randomBytes(32));
  for (const n of [0, 1, 16, 64, 1023, 1024, 8191, 8192, 16 * 1024, 65536, WINDOW, WINDOW + 1, 3 * WINDOW + 7]) {
    const iv = randomBytes(12);
    const aad = randomBytes(n % 3 === 0 ? 13 : 0);
    const pt = randomBytes(n);
    const w = await g.sealAsync(iv, pt, aad, { backend: "wasm" });
    const c = await g.sealAsync(iv, pt, aad, { backend: "webcrypto" });
    const auto = await g.sealAsync(iv, pt, aad);
    assert.equal(encodeHex(w), encodeHex(c), `seal ${n}`);
    assert.equal(encodeHex(w), encodeHex(auto), `seal ${n}, chosen backend`);
    assert.deepEqual(await g.openAsync(iv, w, aad, { backend: "webcrypto" }), pt);
    assert.deepEqual(await g.openAsync(iv, c, aad, { backend: "wasm" }), pt);
    assert.deepEqual(await g.openAsync(iv, c, aad), pt);
  }
  // Non-12-byte IVs always use the core, even when WebCrypto is asked for.
  const iv = randomBytes(7);
  const sealed = await g.sealAsync(iv, randomBytes(100_000), new Uint8Array(0), { backend: "webcrypto" });
  assert.equal(sealed.length, 100_016);
  assert.equal((await g.openAsync(iv, sealed, new Uint8Array(0), { backend: "webcrypto" })).length, 100_000);
  g.dispose();
});

Deno.test("AesGcm takes views at odd offsets and returns fresh buffers that later calls do not touch", async () => {
  const backing = randomBytes(3 * WINDOW);
  const key = backing.subarray(3, 35);
  const g = await AesGcm.create(key);
  const iv = backing.subarray(101, 113);
  const aad = backing.subarray(7, 30);
  for (const n of [0, 5, 1000, 20_000, WINDOW + 3]) {
    const pt = backing.subarray(1001, 1001 + n);
    const want = g.seal(iv.slice(), pt.slice(), aad.slice());
    for (const backend of ["wasm", "webcrypto"] as const) {
      const sealed = await g.sealAsync(iv, pt, aad, { backend });
      assertSameBytes(sealed, want, `seal ${n} from views, ${backend}`);
      const odd = new Uint8Array(sealed.length + 1).subarray(1);
      odd.set(sealed);
      const opened = await g.openAsync(iv, odd, aad, { backend });
      assertSameBytes(opened, pt, `open ${n} from an odd offset, ${backend}`);
      const copy = opened.slice();
      g.seal(iv, randomBytes(n), aad);
      g.open(iv, sealed, aad);
      assertSameBytes(opened, copy, `result of ${n} unchanged by later calls, ${backend}`);
    }
  }
  g.dispose();
});
