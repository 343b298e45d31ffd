/**
 * The trust boundaries around the payload (issue 15): a rewrap that cannot be
 * poisoned (H1), a cache partitioned by provider that wipes what it drops
 * (H2), an unwrap order and cap the file cannot steer (M1), no public way to
 * fix a salt (M2), the 2^32-chunk cap and version-2 local wraps.
 */
import assert from "node:assert/strict";
import { DataKeyCache, decrypt, encrypt, type KeyProvider, LocalKey, rewrapHeader, type WrappedKey } from "../mod.ts";
import { ChunkCipher } from "../src/envelope/chunks.ts";
import { payloadLayout } from "../src/format/chunk.ts";
import { encodeHeader, parseHeader } from "../src/format/header.ts";
import { concatBytes, prng } from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "no error";
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).name;
  }
}

/**
 * A stand-in KMS: every key name is one LocalKey inside it, so any blob of
 * this "KMS" opens whatever key name asks (as a KMS Decrypt names the key in
 * the blob), ReEncrypt moves any blob it can open, and Encrypt is all an
 * attacker needs to plant an entry. Calls are logged.
 */
function fakeKms(inner: LocalKey, name: string, log: string[]): KeyProvider {
  const own = (w: WrappedKey) => ({ provider: "fake-kms", keyId: name, wrapped: w.wrapped });
  return {
    provider: "fake-kms",
    keyId: name,
    wrap: async (dk, ctx) => (log.push(`encrypt ${name}`), own(await inner.wrap(dk, ctx))),
    unwrap: (w, ctx) => {
      if (w.provider !== "fake-kms") return Promise.resolve(null);
      log.push(`decrypt ${w.keyId} as ${name}`);
      return inner.unwrap({ ...w, provider: "local", keyId: inner.keyId }, ctx);
    },
    rewrap: async (w, ctx) => {
      if (w.provider !== "fake-kms") return null;
      log.push(`reencrypt ${w.keyId} -> ${name}`);
      const dk = await inner.unwrap({ ...w, provider: "local", keyId: inner.keyId }, ctx);
      return own(await inner.wrap(dk!, ctx));
    },
  };
}

function withKeys(message: Uint8Array, keys: WrappedKey[]): Uint8Array {
  const h = parseHeader(message);
  return concatBytes([encodeHeader(h.core, h.headerTag, keys), message.subarray(h.length)]);
}

Deno.test("H1: a planted first entry cannot make rewrap --replace destroy the file", async () => {
  const kms = await LocalKey.generate();
  const log: string[] = [];
  const oldKey = fakeKms(kms, "old", log);
  const newKey = fakeKms(kms, "new", log);
  const ctx = { app: "ledger" };
  const sealed = await encrypt(te.encode("the books"), { keys: oldKey, context: ctx });
  // The attacker has only Encrypt on the old key: it wraps a data key of its own and puts that entry first.
  const bogus = await oldKey.wrap(prng(66).bytes(32), ctx);
  const poisoned = withKeys(sealed, [bogus, ...parseHeader(sealed).keys]);
  // Through ReEncrypt (no key to unwrap given) and through unwrap-and-wrap: either way the result opens.
  for (const keys of [undefined, [oldKey]]) {
    log.length = 0;
    const r = await rewrapHeader(poisoned, { keys, add: [newKey], remove: (k) => k.keyId === "old" });
    const next = concatBytes([r.header, poisoned.subarray(r.payloadOffset)]);
    assert.deepEqual(parseHeader(next).keys.map((k) => k.keyId), ["new"]);
    assert.equal(td.decode(await decrypt(next, { keys: newKey, context: ctx })), "the books", String(log));
  }
  // With only bogus entries, the rewrap refuses and writes nothing.
  const onlyBogus = withKeys(sealed, [bogus]);
  assert.equal(
    await codeOf(rewrapHeader(onlyBogus, { add: [newKey], remove: () => true })),
    "NO_KEY_MATCHED",
    "no key given and ReEncrypt proves nothing: it falls back to unwrapping, which has no key",
  );
  assert.equal(
    await codeOf(rewrapHeader(onlyBogus, { keys: [oldKey], add: [newKey] })),
    "KEY_COMMITMENT_MISMATCH",
  );
});

Deno.test("H1: a new key that cannot open what it wrapped is refused with REWRAP_UNVERIFIED", async () => {
  const a = await LocalKey.generate();
  const sealed = await encrypt(te.encode("x"), { keys: a });
  const blackHole: KeyProvider = {
    provider: "hole",
    keyId: "k",
    wrap: () => Promise.resolve({ provider: "hole", keyId: "k", wrapped: new Uint8Array(8) }),
    unwrap: () => Promise.resolve(new Uint8Array(32)),
  };
  assert.equal(await codeOf(rewrapHeader(sealed, { keys: [a], add: [blackHole] })), "REWRAP_UNVERIFIED");
});

Deno.test("H2: one cache, two providers with the same provider name and key id: each message is wrapped for its own key", async () => {
  // Two regions' "alias/backup": the same strings, different keys.
  const log: string[] = [];
  const eu = fakeKms(await LocalKey.generate(), "alias/backup", log);
  const us = fakeKms(await LocalKey.generate(), "alias/backup", log);
  const generating = (p: KeyProvider): KeyProvider => ({
    ...p,
    generateDataKey: async (ctx) => {
      const dataKey = crypto.getRandomValues(new Uint8Array(32));
      return { dataKey, wrapped: await p.wrap(dataKey, ctx) };
    },
  });
  const [euK, usK] = [generating(eu), generating(us)];
  const cache = new DataKeyCache();
  const m1 = await encrypt(te.encode("eu"), { keys: euK, cache });
  const m2 = await encrypt(te.encode("us"), { keys: usK, cache });
  assert.equal(cache.stats.encryptMisses, 2, "the second provider did not get the first one's key");
  assert.equal(td.decode(await decrypt(m2, { keys: us })), "us");
  // The fake passes on its inner local key's refusal of an entry that names it (HEADER_AUTH_FAILED); a real KMS answers
  // with an error of its own. Either way the other region's key opens nothing.
  assert.equal(await codeOf(decrypt(m2, { keys: eu })), "HEADER_AUTH_FAILED");
  assert.equal(td.decode(await decrypt(m1, { keys: eu })), "eu");
  // The same provider object still shares its key within the bounds.
  await encrypt(te.encode("eu again"), { keys: euK, cache });
  assert.equal(cache.stats.encryptHits, 1);
});

Deno.test("H2: the cache wipes a data key it expires or replaces", async () => {
  let now = 0;
  const issued: Uint8Array[] = [];
  const inner = await LocalKey.generate();
  const p: KeyProvider = {
    provider: "local",
    keyId: inner.keyId,
    generateDataKey: async (ctx) => {
      const dataKey = crypto.getRandomValues(new Uint8Array(32));
      issued.push(dataKey);
      return { dataKey, wrapped: await inner.wrap(dataKey, ctx) };
    },
    wrap: (dk, ctx) => inner.wrap(dk, ctx),
    unwrap: (w, ctx) => inner.unwrap(w, ctx),
  };
  const cache = new DataKeyCache({ maxAgeMs: 1000, now: () => now });
  await encrypt(te.encode("1"), { keys: p, cache });
  assert.ok(issued[0].some((b) => b !== 0));
  now = 5000; // expired: the next message replaces the entry
  await encrypt(te.encode("2"), { keys: p, cache });
  await Promise.resolve();
  assert.equal(issued.length, 2);
  assert.ok(issued[0].every((b) => b === 0), "the expired key was wiped");
  assert.ok(issued[1].some((b) => b !== 0));
  await cache.clear();
  assert.ok(issued[1].every((b) => b === 0), "clear wipes");
});

Deno.test("M1: configured keys are tried first, attempts are capped at 8, and the cap is settable", async () => {
  const log: string[] = [];
  const kms = await LocalKey.generate();
  const mine = fakeKms(kms, "mine", log);
  const sealed = await encrypt(te.encode("x"), { keys: mine });
  const attacker = await LocalKey.generate();
  const planted = await Promise.all(
    Array.from({ length: 31 }, (_, i) => fakeKms(attacker, `attacker-${i}`, []).wrap(prng(i).bytes(32), {})),
  );
  const steered = withKeys(sealed, [...planted, ...parseHeader(sealed).keys]);
  // A provider configured with the genuine key id: the genuine entry first, one call.
  log.length = 0;
  assert.equal(td.decode(await decrypt(steered, { keys: mine })), "x");
  assert.deepEqual(log, ["decrypt mine as mine"]);
  // A provider that takes any entry of its KMS (discovery): stopped after 8 attempts.
  const discovery = { ...fakeKms(kms, "*", log) };
  log.length = 0;
  const err = await decrypt(steered, { keys: discovery }).catch((e) => e);
  assert.equal(err.code, "KEY_LIMIT");
  assert.equal(log.length, 8);
  // The library names its own option; the CLI says --max-attempts (tests/cli_envelope_test.ts).
  assert.match(err.hint, /maxAttempts/);
  assert.doesNotMatch(err.hint, /--|-k\b/);
  // Raising the cap lets it reach the genuine entry.
  log.length = 0;
  assert.equal(td.decode(await decrypt(steered, { keys: discovery, maxAttempts: 32 })), "x");
  assert.equal(log.length, 32);
  assert.equal(await codeOf(decrypt(steered, { keys: discovery, maxAttempts: 0 })), "RangeError");
});

Deno.test("M2: no public option fixes the salt; the old random option is refused, and salts are fresh", async () => {
  const key = await LocalKey.generate();
  // deno-lint-ignore no-explicit-any
  const opts = { keys: key, random: () => new Uint8Array(32) } as any;
  assert.equal(await codeOf(encrypt(new Uint8Array(10), opts)), "INVALID_ARGUMENT");
  const a = parseHeader(await encrypt(new Uint8Array(10), { keys: key }));
  const b = parseHeader(await encrypt(new Uint8Array(10), { keys: key }));
  assert.notDeepEqual(a.salt, b.salt);
  const mod = await import("../mod.ts");
  assert.ok(!Object.values(mod).some((v) => typeof v === "symbol"), "no symbol is exported that could fix randomness");
});

Deno.test("limits: a chunk index of 2^32 is refused on both sides, and so is a payload of more chunks", async () => {
  const c = await ChunkCipher.create(new Uint8Array(32));
  assert.equal(await codeOf(() => c.seal(2 ** 32, true, new Uint8Array(1))), "LIMIT_EXCEEDED");
  assert.equal(await codeOf(c.open(2 ** 32, true, new Uint8Array(17))), "LIMIT_EXCEEDED");
  assert.notEqual(await codeOf(c.seal(2 ** 32 - 1, true, new Uint8Array(1))), "LIMIT_EXCEEDED");
  c.dispose();
  assert.equal(await codeOf(() => payloadLayout((2 ** 32 + 1) * 80, 64)), "LIMIT_EXCEEDED");
  assert.equal(payloadLayout(2 ** 32 * 80, 64).chunks, 2 ** 32);
});

Deno.test("local wraps, version 2: 81 bytes with a salt of their own; version 1 still opens; other forms refused", async () => {
  const key = await LocalKey.generate();
  const a = await key.wrap(prng(1).bytes(32), { t: "1" });
  const b = await key.wrap(prng(1).bytes(32), { t: "1" });
  assert.equal(a.wrapped.length, 81);
  assert.equal(a.wrapped[0], 2);
  assert.notDeepEqual(a.wrapped.subarray(1, 33), b.wrapped.subarray(1, 33), "a fresh salt per wrap");
  assert.deepEqual(await key.unwrap(a, { t: "1" }), prng(1).bytes(32));
  assert.equal(await codeOf(key.unwrap(a, { t: "2" })), "HEADER_AUTH_FAILED");
  for (const len of [0, 59, 61, 80, 82]) {
    assert.equal(await codeOf(key.unwrap({ ...a, wrapped: new Uint8Array(len) }, {})), "HEADER_INVALID", `${len}`);
  }
  const notV2 = a.wrapped.slice();
  notV2[0] = 3;
  assert.equal(await codeOf(key.unwrap({ ...a, wrapped: notV2 }, { t: "1" })), "HEADER_INVALID");
  // Version 1 (60 bytes) is covered by every local-key vector in tests/vectors/envelope/ (ok_local, ...).
});

Deno.test("random access: a source that shrinks after open is TRUNCATED, not reported as tampering", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(prng(4).bytes(200), { keys: key, chunkSize: 64 });
  let cut = false;
  const { openRandomAccess } = await import("../mod.ts");
  const reader = await openRandomAccess({
    size: sealed.length,
    read: (o, n) => Promise.resolve(sealed.subarray(o, Math.min(o + n, cut ? sealed.length - 100 : sealed.length))),
  }, { keys: key });
  cut = true;
  assert.equal(await codeOf(reader.read(150, 50)), "TRUNCATED");
  await reader.close();
});
