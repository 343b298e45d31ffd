/**
 * The data-key cache (src/envelope/cache.ts): reuse up to its age, message and byte
 * bounds, at most maxEntries entries, one provider call for concurrent requests, and on
 * decrypt a cached key released only to a caller holding a key for that entry.
 */
import assert from "node:assert/strict";
import { decrypt, encrypt, encryptStream, EnvelopeError, LocalKey, rewrapHeader } from "../mod.ts";
import { DataKeyCache } from "../src/envelope/cache.ts";
import { parseHeader } from "../src/format/header.ts";
import type { KeyProvider } from "../src/keys/provider.ts";
import { bytesSource, openRandomAccess } from "../src/envelope/random_access.ts";
import {
  concatBytes,
  CountingProvider,
  decryptStreamed,
  drain,
  failureCode as codeOf,
  hex,
  prng,
  streamOf,
} from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("DataKeyCache: a data key is reused until its age bound, and every message still has its own salt", async () => {
  let now = 1_000_000;
  const inner = await LocalKey.generate();
  const p = new CountingProvider(inner);
  const cache = new DataKeyCache({ maxAgeMs: 1000, now: () => now });
  const m1 = await encrypt(te.encode("1"), { keys: p, cache });
  now += 999;
  const m2 = await encrypt(te.encode("2"), { keys: p, cache });
  assert.equal(p.calls.generateDataKey, 1);
  assert.equal(
    hex(parseHeader(m1).keys[0].wrapped),
    hex(parseHeader(m2).keys[0].wrapped),
    "same data key, same wrapped entry",
  );
  assert.notEqual(hex(parseHeader(m1).salt), hex(parseHeader(m2).salt), "a fresh salt per message");
  now += 1;
  const m3 = await encrypt(te.encode("3"), { keys: p, cache });
  assert.equal(p.calls.generateDataKey, 2, "expired at maxAgeMs");
  assert.notEqual(hex(parseHeader(m3).keys[0].wrapped), hex(parseHeader(m1).keys[0].wrapped));
  for (const [m, want] of [[m1, "1"], [m2, "2"], [m3, "3"]] as const) {
    assert.equal(td.decode(await decrypt(m, { keys: inner })), want);
  }
  assert.deepEqual({ ...cache.stats }, { encryptHits: 1, encryptMisses: 2, decryptHits: 0, decryptMisses: 0 });
  // A different context is a different entry.
  await encrypt(te.encode("4"), { keys: p, cache, context: { other: "ctx" } });
  assert.equal(p.calls.generateDataKey, 3);
  await cache.clear();
  await encrypt(te.encode("5"), { keys: p, cache });
  assert.equal(p.calls.generateDataKey, 4, "clear forgets every entry");
});

Deno.test("DataKeyCache: bounded by messages and by bytes", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  const byMessages = new DataKeyCache({ maxMessages: 3 });
  for (let i = 0; i < 7; i++) await encrypt(te.encode(`m${i}`), { keys: p, cache: byMessages });
  assert.equal(p.calls.generateDataKey, 3, "7 messages at 3 per key need 3 keys");

  const q = new CountingProvider(await LocalKey.generate());
  const byBytes = new DataKeyCache({ maxBytes: 1000 });
  await encrypt(new Uint8Array(600), { keys: q, cache: byBytes });
  await encrypt(new Uint8Array(400), { keys: q, cache: byBytes });
  assert.equal(q.calls.generateDataKey, 1, "600 + 400 fits 1000");
  await encrypt(new Uint8Array(1), { keys: q, cache: byBytes });
  assert.equal(q.calls.generateDataKey, 2, "one byte more does not");
  // A stream counts its announced length.
  const stream = async (n: number) => {
    const r = await drain(
      streamOf(new Uint8Array(n), 100).pipeThrough(encryptStream({ keys: q, cache: byBytes, plaintextLength: n })),
    );
    assert.equal(r.error, undefined);
  };
  await stream(999);
  assert.equal(q.calls.generateDataKey, 2, "1 + 999 fits");
  await stream(1);
  assert.equal(q.calls.generateDataKey, 3);
  // A message larger than the bound gets a key of its own every time.
  await encrypt(new Uint8Array(2000), { keys: q, cache: byBytes });
  await encrypt(new Uint8Array(2000), { keys: q, cache: byBytes });
  assert.equal(q.calls.generateDataKey, 5);
});

Deno.test("DataKeyCache: concurrent requests share one provider call", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  let release!: () => void;
  p.gate = new Promise((r) => (release = r));
  const cache = new DataKeyCache();
  const pending = Array.from({ length: 6 }, (_, i) => encrypt(te.encode(`c${i}`), { keys: p, cache }));
  await new Promise((r) => setTimeout(r, 10));
  release();
  const sealed = await Promise.all(pending);
  assert.equal(p.calls.generateDataKey, 1);
  assert.equal(new Set(sealed.map((m) => hex(parseHeader(m).salt))).size, 6, "six salts");
  for (let i = 0; i < 6; i++) assert.equal(td.decode(await decrypt(sealed[i], { keys: p.inner })), `c${i}`);
  // A failing provider call is not cached.
  const failing: KeyProvider = {
    provider: "local",
    keyId: "0000000000000000",
    generateDataKey: () => Promise.reject(new EnvelopeError("KMS_FAILED", "Generating a data key failed: test")),
    wrap: () => Promise.reject(new Error("unused")),
    unwrap: () => Promise.resolve(null),
  };
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: failing, cache })), "KMS_FAILED");
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: failing, cache })), "KMS_FAILED");
});

Deno.test("DataKeyCache on decrypt: the second message under a cached key needs no provider call", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  const encCache = new DataKeyCache();
  const m1 = await encrypt(te.encode("one"), { keys: p, cache: encCache });
  const m2 = await encrypt(te.encode("two"), { keys: p, cache: encCache });
  const cache = new DataKeyCache();
  assert.equal(td.decode(await decrypt(m1, { keys: p, cache })), "one");
  assert.equal(p.calls.unwrap, 1);
  assert.equal(td.decode(await decrypt(m2, { keys: p, cache })), "two");
  assert.equal(td.decode(await decryptStreamed(m1, { keys: p, cache }, 9)), "one");
  assert.equal(p.calls.unwrap, 1, "hits need no unwrap");
  assert.equal(cache.stats.decryptHits, 2);
  // A hit still checks the commitment: a message whose entry was copied from another message but whose data key differs.
  const other = await encrypt(te.encode("other"), { keys: p });
  const forged = concatBytes([
    (await rewrapHeader(other, { remove: () => false })).header.subarray(0, parseHeader(other).keyListOffset),
    m1.subarray(parseHeader(m1).keyListOffset),
  ]);
  // `forged` is other's core and tag with m1's key list and m1's payload: the cached key fails other's commitment.
  assert.equal(await codeOf(decrypt(forged, { keys: p, cache })), "KEY_COMMITMENT_MISMATCH");
});

Deno.test("DataKeyCache on decrypt: a cached key is only released to a caller holding a key for that entry", async () => {
  const owner = await LocalKey.generate();
  const stranger = await LocalKey.generate();
  const cache = new DataKeyCache();
  const sealed = await encrypt(te.encode("owner's secret"), { keys: owner });
  assert.equal(td.decode(await decrypt(sealed, { keys: owner, cache })), "owner's secret");
  // Without the cache the stranger's key cannot open it; a shared cache must not change that.
  assert.equal(await codeOf(decrypt(sealed, { keys: stranger })), "NO_KEY_MATCHED");
  assert.equal(await codeOf(decrypt(sealed, { keys: stranger, cache })), "NO_KEY_MATCHED");
});

Deno.test("DataKeyCache: at most maxEntries entries, the oldest evicted first", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  const cache = new DataKeyCache({ maxEntries: 2 });
  for (const c of ["1", "2", "3", "3", "2", "1"]) await encrypt(te.encode(c), { keys: p, cache, context: { c } });
  // 1, 2, 3 miss (1 evicted by 3); 3 and 2 hit; 1 misses again.
  assert.equal(p.calls.generateDataKey, 4);
  assert.deepEqual({ ...cache.stats, decryptHits: 0, decryptMisses: 0 }, {
    encryptHits: 2,
    encryptMisses: 4,
    decryptHits: 0,
    decryptMisses: 0,
  });
  assert.throws(() => new DataKeyCache({ maxAgeMs: 0 }), RangeError);
  assert.throws(() => new DataKeyCache({ maxBytes: -1 }), RangeError);
});

Deno.test("DataKeyCache: a stream of unannounced length cannot take a data key past maxBytes", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  const cache = new DataKeyCache({ maxBytes: 1000 });
  for (let i = 0; i < 3; i++) {
    const r = await drain(streamOf(new Uint8Array(5000), 1000).pipeThrough(encryptStream({ keys: p, cache })));
    assert.equal(r.error, undefined);
  }
  // Each 5000-byte stream is over the 1000-byte bound alone: no two may share a data key.
  assert.equal(p.calls.generateDataKey, 3);
});

Deno.test("DataKeyCache on decrypt: concurrent requests share one unwrap; a hit is per provider object", async () => {
  const kek = prng(13).bytes(32);
  const p = new CountingProvider(await LocalKey.fromBytes(kek));
  const sealed = await encrypt(prng(14).bytes(500), { keys: p.inner, chunkSize: 64 });
  const cache = new DataKeyCache();
  const results = await Promise.all([
    ...Array.from({ length: 4 }, () => decrypt(sealed, { keys: p, cache })),
    decryptStreamed(sealed, { keys: p, cache }, 33),
    decryptRandomAccessWith(sealed, p, cache),
  ]);
  for (const r of results) assert.equal(hex(r), hex(prng(14).bytes(500)));
  assert.equal(p.calls.unwrap, 1, "one unwrap for six concurrent decrypts");
  // Another object holding the same key unwraps for itself: it opens, through its own provider call.
  const twin = new CountingProvider(await LocalKey.fromBytes(kek));
  assert.equal(hex(await decrypt(sealed, { keys: twin, cache })), hex(prng(14).bytes(500)));
  assert.equal(twin.calls.unwrap, 1);
  assert.equal(hex(await decrypt(sealed, { keys: twin, cache })), hex(prng(14).bytes(500)));
  assert.equal(twin.calls.unwrap, 1, "and is cached for that object from then on");
});

async function decryptRandomAccessWith(
  message: Uint8Array,
  keys: KeyProvider,
  cache: DataKeyCache,
): Promise<Uint8Array> {
  const reader = await openRandomAccess(bytesSource(message), { keys, cache });
  try {
    return await reader.read(0, reader.size);
  } finally {
    await reader.close();
  }
}
