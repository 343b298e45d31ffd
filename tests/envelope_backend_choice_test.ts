/**
 * Which AES-GCM implementation a message goes through (crypto/backend.ts): a
 * whole message sealed or opened alone goes to the WASM core below
 * WHOLE_MESSAGE_THRESHOLDS, a stream's chunk to WebCrypto from
 * WEBCRYPTO_THRESHOLDS; the bytes are the same either way
 * (tests/envelope_vectors_test.ts).
 */
import assert from "node:assert/strict";
import { decrypt } from "../src/envelope/decrypt.ts";
import { encrypt, encryptStream } from "../src/envelope/encrypt.ts";
import { WEBCRYPTO_THRESHOLDS, WHOLE_MESSAGE_THRESHOLDS } from "../src/crypto/backend.ts";
import { RawDataKey } from "../src/keys/raw.ts";

/** Runs `fn`, counting the calls to WebCrypto's AES-GCM encrypt and decrypt meanwhile. */
async function countingSubtle(fn: () => Promise<void>): Promise<{ encrypt: number; decrypt: number }> {
  const subtle = crypto.subtle;
  const real = { encrypt: subtle.encrypt, decrypt: subtle.decrypt };
  const calls = { encrypt: 0, decrypt: 0 };
  subtle.encrypt = function (...args: Parameters<SubtleCrypto["encrypt"]>) {
    calls.encrypt++;
    return real.encrypt.apply(subtle, args);
  };
  subtle.decrypt = function (...args: Parameters<SubtleCrypto["decrypt"]>) {
    calls.decrypt++;
    return real.decrypt.apply(subtle, args);
  };
  try {
    await fn();
  } finally {
    subtle.encrypt = real.encrypt;
    subtle.decrypt = real.decrypt;
  }
  return calls;
}

Deno.test("backend: a whole 16 KiB message goes to the core; a stream's 16 KiB chunks and a 64 KiB message to WebCrypto", async () => {
  assert.ok(WHOLE_MESSAGE_THRESHOLDS.deno.seal > 16 * 1024 && WEBCRYPTO_THRESHOLDS.deno.seal <= 16 * 1024);
  const key = await RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));
  try {
    const small = crypto.getRandomValues(new Uint8Array(16 * 1024));
    let sealed = new Uint8Array();
    const whole = await countingSubtle(async () => {
      sealed = await encrypt(small, { keys: key });
      assert.deepEqual(await decrypt(sealed, { keys: key }), small);
    });
    assert.deepEqual(whole, { encrypt: 0, decrypt: 0 }, "a whole 16 KiB message went to WebCrypto");

    const streamed = await countingSubtle(async () => {
      const out = encryptStream({ keys: key, chunkSize: 16 * 1024 });
      const writer = out.writable.getWriter();
      const done = new Response(out.readable).arrayBuffer();
      await writer.write(crypto.getRandomValues(new Uint8Array(64 * 1024)));
      await writer.close();
      assert.ok((await done).byteLength > 64 * 1024);
    });
    assert.ok(
      streamed.encrypt >= 4,
      `a stream's 16 KiB chunks went to WebCrypto ${streamed.encrypt} times, not 4 or more`,
    );

    const large = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const big = await countingSubtle(async () => {
      assert.deepEqual(await decrypt(await encrypt(large, { keys: key }), { keys: key }), large);
    });
    assert.ok(big.encrypt >= 1 && big.decrypt >= 1, `a whole 64 KiB message: ${JSON.stringify(big)}`);
  } finally {
    key.dispose();
  }
});

Deno.test("backend: whole messages with others in flight (overlapping calls, or a batch's hint) go to WebCrypto from 8 KiB", async () => {
  const { setSeveralInFlight } = await import("../src/envelope/chunks.ts");
  const key = await RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));
  try {
    const a = crypto.getRandomValues(new Uint8Array(16 * 1024));
    const b = crypto.getRandomValues(new Uint8Array(16 * 1024));
    // Two calls at once: the second finds the first in progress.
    const both = await countingSubtle(async () => {
      const [sa, sb] = await Promise.all([encrypt(a, { keys: key }), encrypt(b, { keys: key })]);
      const [da, db] = await Promise.all([decrypt(sa, { keys: key }), decrypt(sb, { keys: key })]);
      assert.deepEqual([da, db], [a, b]);
    });
    assert.ok(both.encrypt >= 1 && both.decrypt >= 1, `overlapping calls: ${JSON.stringify(both)}`);
    // One at a time, but the process said it keeps several in flight (the CLI's batch of files).
    setSeveralInFlight(true);
    let hinted;
    try {
      hinted = await countingSubtle(async () => {
        assert.deepEqual(await decrypt(await encrypt(a, { keys: key }), { keys: key }), a);
      });
    } finally {
      setSeveralInFlight(false);
    }
    assert.deepEqual(hinted, { encrypt: 1, decrypt: 1 });
    // And alone again after the hint is withdrawn.
    const after = await countingSubtle(async () => {
      assert.deepEqual(await decrypt(await encrypt(a, { keys: key }), { keys: key }), a);
    });
    assert.deepEqual(after, { encrypt: 0, decrypt: 0 });
  } finally {
    key.dispose();
  }
});
