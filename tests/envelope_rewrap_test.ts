/**
 * rewrapHeader (src/envelope/rewrap.ts): adding, removing and replacing wrapped keys with the
 * payload bytes unchanged, and re-encrypting inside a KMS that can, proved before it is returned.
 */
import assert from "node:assert/strict";
import { decrypt, encrypt, LocalKey, rewrapHeader } from "../mod.ts";
import { parseHeader } from "../src/format/header.ts";
import type { KeyProvider } from "../src/keys/provider.ts";
import { concatBytes, failureCode as codeOf, hex, prng } from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("rewrapHeader adds, removes and replaces wrapped keys; the payload bytes stay identical", async () => {
  const a = await LocalKey.generate();
  const b = await LocalKey.generate();
  const pt = prng(4).bytes(1000);
  const sealed = await encrypt(pt, { keys: a, chunkSize: 64, context: { r: "w" } });
  const h0 = parseHeader(sealed);
  const payload = sealed.subarray(h0.length);
  const join = (r: { header: Uint8Array; payloadOffset: number }, from: Uint8Array) =>
    concatBytes([r.header, from.subarray(r.payloadOffset)]);

  // Add b.
  const added = await rewrapHeader(sealed, { keys: [a], add: [b] });
  assert.deepEqual(added.added, [{ provider: "local", keyId: b.keyId, via: "wrap" }]);
  const withB = join(added, sealed);
  const h1 = parseHeader(withB);
  assert.equal(hex(withB.subarray(h1.length)), hex(payload), "payload unchanged");
  assert.equal(hex(h1.core), hex(h0.core), "core unchanged");
  assert.equal(hex(h1.headerTag), hex(h0.headerTag), "header tag unchanged");
  assert.deepEqual(h1.keys.map((k) => k.keyId), [a.keyId, b.keyId]);
  assert.equal(hex(await decrypt(withB, { keys: b })), hex(pt));
  assert.equal(hex(await decrypt(withB, { keys: a })), hex(pt));

  // Remove a: a no longer opens it.
  const removed = await rewrapHeader(withB, { remove: (k) => k.keyId === a.keyId });
  assert.deepEqual(removed.removed.map((k) => k.keyId), [a.keyId]);
  const onlyB = join(removed, withB);
  assert.equal(hex(onlyB.subarray(parseHeader(onlyB).length)), hex(payload));
  assert.equal(await codeOf(decrypt(onlyB, { keys: a })), "NO_KEY_MATCHED");
  assert.equal(hex(await decrypt(onlyB, { keys: b })), hex(pt));

  // Replace b's entry with a fresh wrap under b: same count, a new wrapped value, still opens.
  const replaced = await rewrapHeader(onlyB, { keys: [b], add: [b] });
  const reB = join(replaced, onlyB);
  const h3 = parseHeader(reB);
  assert.equal(h3.keys.length, 1);
  assert.notEqual(hex(h3.keys[0].wrapped), hex(parseHeader(onlyB).keys[0].wrapped));
  assert.equal(hex(reB.subarray(h3.length)), hex(payload));
  assert.equal(hex(await decrypt(reB, { keys: b })), hex(pt));

  // Refusals: no key to unwrap with, a key that does not open it, a tampered header, removing every key.
  assert.equal(await codeOf(rewrapHeader(onlyB, { add: [a] })), "NO_KEY_MATCHED");
  assert.equal(await codeOf(rewrapHeader(onlyB, { keys: [a], add: [a] })), "NO_KEY_MATCHED");
  const tampered = onlyB.slice();
  tampered[parseHeader(onlyB).core.length + 3] ^= 1; // the header tag
  assert.equal(await codeOf(rewrapHeader(tampered, { keys: [b], add: [a] })), "HEADER_AUTH_FAILED");
  assert.equal(await codeOf(rewrapHeader(onlyB, { remove: () => true })), "INVALID_ARGUMENT");
  // Only the header is needed.
  const fromHeaderOnly = await rewrapHeader(sealed.slice(0, h0.length), { keys: [a], add: [b] });
  assert.equal(fromHeaderOnly.payloadOffset, h0.length);
});

/** A KMS-like provider over a LocalKey that can re-encrypt entries of its own kind without the data key leaving it. */
function fakeKms(inner: LocalKey, name: string, calls: string[]): KeyProvider {
  const asOwn = (w: { wrapped: Uint8Array }) => ({ provider: "fake-kms", keyId: name, wrapped: w.wrapped });
  return {
    provider: "fake-kms",
    keyId: name,
    wrap: async (dk, ctx) => (calls.push(`wrap ${name}`), asOwn(await inner.wrap(dk, ctx))),
    unwrap: (w, ctx) => {
      if (w.provider !== "fake-kms" || w.keyId !== name) return Promise.resolve(null);
      calls.push(`unwrap ${name}`);
      return inner.unwrap({ ...w, provider: "local", keyId: inner.keyId }, ctx);
    },
  };
}

Deno.test("rewrapHeader re-encrypts inside the KMS when the provider can, needs no key to unwrap then, and proves the result", async () => {
  const shared = await LocalKey.generate(); // one "KMS" holding both key names
  const calls: string[] = [];
  const a = fakeKms(shared, "key-a", calls);
  const b: KeyProvider = {
    ...fakeKms(shared, "key-b", calls),
    rewrap: (w) => {
      if (w.provider !== "fake-kms") return Promise.resolve(null);
      calls.push(`reencrypt ${w.keyId} -> key-b`);
      return Promise.resolve({ provider: "fake-kms", keyId: "key-b", wrapped: w.wrapped.slice() });
    },
  };
  const sealed = await encrypt(te.encode("kms"), { keys: a, context: { k: "v" } });
  calls.length = 0;
  const r = await rewrapHeader(sealed, { add: [b] });
  assert.deepEqual(r.added, [{ provider: "fake-kms", keyId: "key-b", via: "reencrypt" }]);
  // No unwrap of the old entry and no wrap; one unwrap with the new key proves the re-encrypted entry (FORMAT.md §9).
  assert.deepEqual(calls, ["reencrypt key-a -> key-b", "unwrap key-b"]);
  const next = concatBytes([r.header, sealed.subarray(r.payloadOffset)]);
  assert.equal(td.decode(await decrypt(next, { keys: b })), "kms");
  // A provider that cannot re-encrypt this entry falls back to unwrap and wrap.
  const c = { ...fakeKms(shared, "key-c", calls), rewrap: () => Promise.resolve(null) };
  calls.length = 0;
  const r2 = await rewrapHeader(sealed, { keys: [a], add: [c] });
  assert.deepEqual(r2.added, [{ provider: "fake-kms", keyId: "key-c", via: "wrap" }]);
  assert.deepEqual(calls, ["unwrap key-a", "wrap key-c", "unwrap key-c"]);
});

Deno.test("rewrapHeader: a key added twice is wrapped once, as encrypt does", async () => {
  const a = await LocalKey.generate();
  const b = await LocalKey.generate();
  const sealed = await encrypt(new Uint8Array([1, 2, 3]), { keys: [a, b, b] });
  assert.equal(parseHeader(sealed).keys.length, 2);
  const once = await encrypt(new Uint8Array([1, 2, 3]), { keys: [a] });
  const r = await rewrapHeader(once, { keys: [a], add: [b, b] });
  assert.deepEqual(r.header.length > 0 && parseHeader(r.header).keys.map((k) => k.keyId), [a.keyId, b.keyId]);
  assert.equal(r.added.length, 1);
});
