/**
 * Key material that the caller owns stays the caller's, and key material the
 * library wipes is really gone (findings of a review of the small-message
 * work, 2026-12-07):
 *
 * - a Node `Buffer`'s `slice()` is a view, so "copies" made with it shared
 *   the caller's memory: `LocalKey.fromBytes` (a caller wiping its buffer
 *   changed the key) and the header parser (a caller reusing its buffer
 *   changed a parsed header);
 * - a disposed key wrapped and unwrapped under zeros instead of refusing;
 * - a data key whose first wrap failed was not wiped.
 *
 * The Buffer cases use `node:buffer`'s Buffer, the same class as Node's.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decrypt, encrypt, EnvelopeError, LocalKey, RawDataKey } from "../mod.ts";
import type { KeyProvider, WrappedKey } from "../src/keys/provider.ts";
import { parseHeader } from "../src/format/header.ts";

const text = new TextEncoder().encode("secret");

function isCode(code: string) {
  return (e: unknown) => e instanceof EnvelopeError && e.code === code;
}

Deno.test("hygiene: LocalKey.fromBytes copies a Buffer; the caller wiping it or dispose() changes nothing of the other", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const buf = Buffer.from(bytes);
  assert.ok(buf.slice(0, 1).buffer === buf.buffer, "the premise: Buffer#slice is a view");
  const key = await LocalKey.fromBytes(buf);
  buf.fill(0); // the caller wipes its copy, as it should
  const sealed = await encrypt(text, { keys: key });
  // Opened by the real key, not by a key of zeros.
  assert.deepEqual(await decrypt(sealed, { keys: await LocalKey.fromBytes(bytes) }), text);
  await assert.rejects(decrypt(sealed, { keys: await LocalKey.fromBytes(new Uint8Array(32)) }));

  const mine = Buffer.from(bytes);
  const other = await LocalKey.fromBytes(mine);
  other.dispose();
  assert.deepEqual(new Uint8Array(mine), bytes, "dispose() wiped the caller's buffer");
});

Deno.test("hygiene: a disposed LocalKey or RawDataKey refuses to wrap, unwrap or give its key (INVALID_KEY)", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(text, { keys: key });
  key.dispose();
  await assert.rejects(encrypt(text, { keys: key }), isCode("INVALID_KEY"));
  const wrapped: WrappedKey = parseHeader(sealed).keys[0];
  await assert.rejects(key.unwrap(wrapped, {}), isCode("INVALID_KEY"));
  // decrypt reports each key it tried; the disposed one says why it did not open.
  await assert.rejects(decrypt(sealed, { keys: key }), (e) => e instanceof EnvelopeError && /disposed/.test(e.message));

  const raw = await RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));
  const rawSealed = await encrypt(text, { keys: raw });
  raw.dispose();
  await assert.rejects(encrypt(text, { keys: raw }), isCode("INVALID_KEY"));
  await assert.rejects(decrypt(rawSealed, { keys: raw }));
  // The control: a key that is not disposed still works.
  const live = await LocalKey.generate();
  assert.deepEqual(await decrypt(await encrypt(text, { keys: live }), { keys: live }), text);
});

Deno.test("hygiene: a header parsed from a Buffer is a copy; the caller reusing the Buffer does not change it", async () => {
  const sealed = await encrypt(text, { keys: await LocalKey.generate() });
  const buf = Buffer.from(sealed);
  const h = parseHeader(buf);
  const salt = new Uint8Array(h.salt);
  const wrapped = new Uint8Array(h.keys[0].wrapped);
  buf.fill(0xaa);
  assert.deepEqual(h.salt, salt);
  assert.deepEqual(h.keys[0].wrapped, wrapped);
  assert.ok(h.salt.buffer !== buf.buffer);
});

Deno.test("hygiene: the data key is wiped when the first key's wrap fails, and when a later one's does", async () => {
  const seen: Uint8Array[] = [];
  const failing: KeyProvider = {
    provider: "test",
    keyId: "fails",
    wrap(dataKey: Uint8Array) {
      seen.push(dataKey); // keep the very array the library passed, to look at it afterwards
      return Promise.reject(new EnvelopeError("KMS_FAILED", "wrap refused"));
    },
    unwrap: () => Promise.resolve(null),
  };
  await assert.rejects(encrypt(text, { keys: failing }), isCode("KMS_FAILED"));
  await assert.rejects(encrypt(text, { keys: [await LocalKey.generate(), failing] }), isCode("KMS_FAILED"));
  assert.equal(seen.length, 2);
  for (const k of seen) {
    assert.equal(k.length, 32);
    assert.ok(k.every((b) => b === 0), `a data key left unwiped: ${k.slice(0, 4)}`);
  }
});
