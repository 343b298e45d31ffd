/**
 * Fernet: the specification's vectors (generate, verify, invalid: each case
 * with its own expected failure), key parsing, strict token decoding, the
 * TTL and clock-skew rules, the WebCrypto path against the core, and Python's
 * `cryptography.fernet` in both directions.
 */
import assert from "node:assert/strict";
import { decodeTokenText, Fernet } from "../src/crypto/fernet.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { withFixedRandom } from "../src/crypto/fixed_random_internal.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeBase64Url, encodeBase64, encodeBase64Url, encodeHex } from "../src/encoding/base64.ts";
import { type FernetCase, pythonFernet } from "./support/python.ts";

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

const dir = new URL("./vectors/fernet/", import.meta.url);
const load = async <T>(name: string): Promise<T> => JSON.parse(await Deno.readTextFile(new URL(name, dir))) as T;
const te = new TextEncoder();
const td = new TextDecoder();

/** What each invalid vector must fail with. */
const EXPECTED: Record<string, "TOKEN_INVALID" | "TOKEN_EXPIRED"> = {
  "incorrect mac": "TOKEN_INVALID",
  "too short": "TOKEN_INVALID",
  "invalid base64": "TOKEN_INVALID",
  "payload size not multiple of block size": "TOKEN_INVALID",
  "payload padding error": "TOKEN_INVALID",
  "far-future TS (unacceptable clock skew)": "TOKEN_EXPIRED",
  "expired TTL": "TOKEN_EXPIRED",
  "incorrect IV (causes padding error)": "TOKEN_INVALID",
};

Deno.test("Fernet spec: generate vectors give the same tokens (sync and WebCrypto)", async () => {
  const vectors = await load<GenerateVector[]>("generate.json");
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    const f = await Fernet.create(v.secret);
    const opts = withFixedRandom({ now: new Date(v.now) }, new Uint8Array(v.iv));
    assert.equal(f.encrypt(v.src, opts), v.token);
    assert.equal(await f.encryptAsync(v.src, { ...opts, backend: "webcrypto" }), v.token);
    assert.equal(await f.encryptAsync(te.encode(v.src), { ...opts, backend: "wasm" }), v.token);
    f.dispose();
  }
});

Deno.test("Fernet spec: verify vectors decrypt (sync and WebCrypto, string and bytes)", async () => {
  const vectors = await load<VerifyVector[]>("verify.json");
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    const f = await Fernet.create(v.secret);
    const opts = { ttl: v.ttl_sec, now: new Date(v.now) };
    assert.equal(td.decode(f.decrypt(v.token, opts)), v.src);
    assert.equal(td.decode(f.decrypt(te.encode(v.token), opts)), v.src);
    assert.equal(td.decode(await f.decryptAsync(v.token, { ...opts, backend: "webcrypto" })), v.src);
    assert.equal(td.decode(f.decrypt(v.token)), v.src, "no TTL: no time check");
    f.dispose();
  }
});

Deno.test("Fernet spec: every invalid vector fails with its own code (sync and WebCrypto)", async () => {
  const vectors = await load<InvalidVector[]>("invalid.json");
  assert.equal(vectors.length, Object.keys(EXPECTED).length);
  for (const v of vectors) {
    const code = EXPECTED[v.desc];
    assert.ok(code, `no expectation for "${v.desc}"`);
    const f = await Fernet.create(v.secret);
    const opts = { ttl: v.ttl_sec, now: new Date(v.now) };
    assert.throws(() => f.decrypt(v.token, opts), (e: unknown) => isEnvelopeError(e, code), v.desc);
    await assert.rejects(
      () => f.decryptAsync(v.token, { ...opts, backend: "webcrypto" }),
      (e: unknown) => isEnvelopeError(e, code),
      `${v.desc}, WebCrypto`,
    );
    f.dispose();
  }
});

Deno.test("Fernet TTL and clock skew follow Python: boundaries, and no check without a TTL", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  const t0 = 1_700_000_000;
  const token = f.encrypt("x", { now: t0 * 1000 + 999 });
  const at = (s: number) => s * 1000;
  assert.equal(td.decode(f.decrypt(token, { ttl: 10, now: at(t0 + 10) })), "x", "age == ttl is accepted");
  assert.throws(
    () => f.decrypt(token, { ttl: 10, now: at(t0 + 11) }),
    (e: unknown) => isEnvelopeError(e, "TOKEN_EXPIRED"),
  );
  assert.equal(td.decode(f.decrypt(token, { ttl: 10, now: at(t0 - 60) })), "x", "60 s of skew is accepted");
  assert.throws(
    () => f.decrypt(token, { ttl: 10, now: at(t0 - 61) }),
    (e: unknown) => isEnvelopeError(e, "TOKEN_EXPIRED"),
  );
  assert.equal(td.decode(f.decrypt(token, { now: at(t0 + 10 ** 6) })), "x");
  assert.equal(td.decode(f.decrypt(token, { now: at(0) })), "x");
  // A forged token is TOKEN_INVALID even when it is also expired.
  const raw = decodeBase64Url(token);
  raw[raw.length - 1] ^= 1;
  assert.throws(
    () => f.decrypt(encodeBase64Url(raw), { ttl: 1, now: at(t0 + 100) }),
    (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"),
  );
  f.dispose();
});

Deno.test("Fernet keys: bytes, base64url and standard base64, padded or not; bad keys are INVALID_KEY", async () => {
  const key = new Uint8Array(32);
  key[0] = 0xfb; // makes the two alphabets differ: '+' vs '-'
  key[31] = 0xff;
  const token = (await Fernet.create(key)).encrypt("k", withFixedRandom({ now: 0 }, new Uint8Array(16)));
  for (
    const text of [
      encodeBase64Url(key),
      encodeBase64Url(key, false),
      encodeBase64(key),
      encodeBase64(key).replace(/=+$/, ""),
    ]
  ) {
    const f = await Fernet.create(text);
    assert.equal(f.encrypt("k", withFixedRandom({ now: 0 }, new Uint8Array(16))), token, text);
    f.dispose();
  }
  for (
    const bad of [
      new Uint8Array(31),
      new Uint8Array(33),
      encodeBase64Url(new Uint8Array(16)),
      "not a key!",
      encodeBase64Url(key) + "AAAA",
      " " + encodeBase64Url(key),
    ]
  ) {
    await assert.rejects(() => Fernet.create(bad), (e: unknown) => isEnvelopeError(e, "INVALID_KEY"), String(bad));
  }
  await assert.rejects(() => Fernet.create(42 as unknown as string), TypeError);
  const k = Fernet.generateKey();
  assert.match(k, /^[A-Za-z0-9_-]{43}=$/);
  assert.notEqual(Fernet.generateKey(), k);
});

Deno.test("Fernet token decoding is strict: whitespace, other alphabet, missing padding, junk all fail", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  const token = f.encrypt(randomBytes(20));
  assert.ok(token.endsWith("="));
  const broken = [
    token.slice(0, 10) + " " + token.slice(10),
    token.slice(0, 10) + "\n" + token.slice(10, -1),
    token + "\n",
    token.replace(/=+$/, ""),
    token.replace(/-/g, "+").replace(/_/g, "/") === token
      ? token.slice(0, 5) + "+" + token.slice(6)
      : token.replace(/-/g, "+").replace(/_/g, "/"),
    token.slice(0, 5) + "%" + token.slice(6),
    token + "=",
    token.slice(0, -4),
    "",
    "gAAAAA==",
  ];
  for (const t of broken) {
    assert.throws(() => f.decrypt(t), (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"), JSON.stringify(t));
    await assert.rejects(
      () => f.decryptAsync(t, { backend: "webcrypto" }),
      (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"),
      JSON.stringify(t),
    );
  }
  assert.throws(
    () => f.decrypt(new Uint8Array([...te.encode(token.slice(0, 4)), 0xc3, 0xa9])),
    (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"),
  );
  // The platform decoder and the shared strict decoder accept exactly the same texts.
  for (const t of [...broken, token, "AAAA", "AA==", "AAA=", "AB==", "A===", "AAAAA===", "AA-_", "AA+/"]) {
    let shared: string;
    try {
      shared = encodeHex(decodeBase64Url(t, "required"));
    } catch {
      shared = "error";
    }
    let ours: string;
    try {
      ours = encodeHex(decodeTokenText(t));
    } catch {
      ours = "error";
    }
    assert.equal(ours, shared, JSON.stringify(t));
  }
  f.dispose();
});

Deno.test("Fernet tamper sweep: every flipped byte of a token fails", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  const raw = decodeBase64Url(f.encrypt(randomBytes(40)));
  for (let i = 0; i < raw.length; i++) {
    const bad = raw.slice();
    bad[i] ^= 0x01;
    assert.throws(
      () => f.decrypt(encodeBase64Url(bad)),
      (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"),
      `byte ${i}`,
    );
  }
  f.dispose();
});

Deno.test("Fernet async paths give the same tokens as the core for all sizes", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  for (
    const n of [0, 1, 15, 16, 17, 1000, 4096, 8191, 8192, 12_000, 12_300, 16 * 1024, 100_000, (1 << 20) + 5, 3 << 20]
  ) {
    const data = randomBytes(n);
    const iv = randomBytes(16);
    const at = (o: { backend?: "wasm" | "webcrypto" }) => withFixedRandom({ now: 1234567890000, ...o }, iv);
    const sync = f.encrypt(data, at({}));
    assert.equal(await f.encryptAsync(data, at({ backend: "webcrypto" })), sync, `encrypt ${n}`);
    assert.equal(await f.encryptAsync(data, at({})), sync, `encrypt ${n}, chosen backend`);
    assert.equal(await f.encryptAsync(data, at({ backend: "wasm" })), sync, `encrypt ${n}, core`);
    assert.deepEqual(await f.decryptAsync(sync, { backend: "wasm" }), data);
    assert.deepEqual(await f.decryptAsync(sync, { backend: "webcrypto" }), data);
    assert.deepEqual(await f.decryptAsync(sync), data);
    assert.deepEqual(f.decrypt(sync), data);
  }
  f.dispose();
  assert.throws(() => f.encrypt("x"), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  await assert.rejects(() => f.decryptAsync("x"), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
});

Deno.test("Fernet agrees with Python's cryptography both ways", async () => {
  const sizes = [0, 1, 15, 16, 17, 31, 32, 33, 100, 1024, 65536, (1 << 20) + 1];
  const cases: { key: string; data: Uint8Array; iv: Uint8Array; now: number }[] = [];
  for (const [i, n] of sizes.entries()) {
    const key = i % 2 ? Fernet.generateKey() : encodeBase64(randomBytes(32));
    cases.push({ key, data: randomBytes(n), iv: randomBytes(16), now: 1_600_000_000 + i });
  }
  const ours: string[] = [];
  for (const c of cases) {
    const f = await Fernet.create(c.key);
    ours.push(f.encrypt(c.data, withFixedRandom({ now: c.now * 1000 }, c.iv)));
    f.dispose();
  }
  const req: FernetCase[] = [];
  for (const [i, c] of cases.entries()) {
    req.push({ op: "encrypt", key: c.key, data: c.data, now: c.now, iv: c.iv });
    req.push({ op: "encrypt", key: c.key, data: c.data, now: c.now });
    req.push({ op: "decrypt", key: c.key, token: ours[i], ttl: 30, now: c.now + 30 });
    req.push({ op: "decrypt", key: c.key, token: ours[i], ttl: 30, now: c.now + 31 });
  }
  const res = await pythonFernet(req);
  for (const [i, c] of cases.entries()) {
    const [same, random, opened, old] = res.slice(4 * i, 4 * i + 4);
    assert.ok("token" in same && "token" in random && "data" in opened);
    assert.equal(ours[i], same.token, `Python makes the same token, ${c.data.length} bytes`);
    assert.deepEqual(opened.data, c.data, `Python opens ours, ${c.data.length} bytes`);
    assert.deepEqual(old, { error: "InvalidToken" }, "Python refuses ours when expired");
    const f = await Fernet.create(c.key);
    assert.deepEqual(f.decrypt(random.token, { ttl: 30, now: (c.now + 30) * 1000 }), c.data, "we open Python's");
    assert.deepEqual(
      await f.decryptAsync(random.token, { backend: "webcrypto" }),
      c.data,
      "we open Python's, WebCrypto",
    );
    assert.throws(
      () => f.decrypt(random.token, { ttl: 30, now: (c.now + 31) * 1000 }),
      (e: unknown) => isEnvelopeError(e, "TOKEN_EXPIRED"),
    );
    f.dispose();
  }
  // Python refuses our tampered tokens too, and we refuse its.
  const key = Fernet.generateKey();
  const f = await Fernet.create(key);
  const raw = decodeBase64Url(f.encrypt("tamper me", { now: 1_000_000_000_000 }));
  const bad: string[] = [];
  for (let i = 0; i < raw.length; i += 7) {
    const b = raw.slice();
    b[i] ^= 0x80;
    bad.push(encodeBase64Url(b));
  }
  const py = await pythonFernet(bad.map((token) => ({ op: "decrypt", key, token, now: 1_000_000_000 })));
  for (const [i, r] of py.entries()) {
    assert.deepEqual(r, { error: "InvalidToken" }, `Python refuses tampered byte ${7 * i}`);
    assert.throws(() => f.decrypt(bad[i]), (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID"));
  }
  f.dispose();
});

Deno.test("Fernet: no public option fixes the IV; a leftover iv is refused and every token's IV is fresh", async () => {
  const f = await Fernet.create(Fernet.generateKey());
  const legacy = { now: 0, iv: new Uint8Array(16) } as unknown as Parameters<Fernet["encrypt"]>[1];
  assert.throws(() => f.encrypt("x", legacy), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  await assert.rejects(
    () => f.encryptAsync(new Uint8Array(1 << 16), legacy),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  const ivs = new Set<string>();
  for (let i = 0; i < 50; i++) ivs.add(encodeHex(decodeBase64Url(f.encrypt("x", { now: 0 })).subarray(9, 25)));
  assert.equal(ivs.size, 50);
  // The fixed-IV key is reachable only through the internal module, not the public entry points.
  const pub = await import("../mod.ts");
  const crypto = await import("../src/crypto/mod.ts");
  for (const m of [pub, crypto]) {
    assert.ok(!Object.keys(m).some((k) => /fixed|FIXED/.test(k)), "no public fixed-randomness export");
  }
  f.dispose();
});
