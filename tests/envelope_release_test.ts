/**
 * Key release on the server side: the public `unwrapDataKey` (src/envelope/release.ts), the
 * `keyRelease` handler (src/envelope/key_release.ts) and decrypt's `verificationKey` option,
 * with real local keys (the AWS KMS path runs against moto in tests/cli_serve_keys_test.ts).
 */
import assert from "node:assert/strict";
import {
  decrypt,
  encrypt,
  type EncryptionContext,
  type KeyProvider,
  keyRelease,
  type KeyReleaseEvent,
  LocalKey,
  RawDataKey,
  unwrapDataKey,
  type WrappedKey,
} from "../mod.ts";
import { decodeBase64, encodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { MAX_HEADER_BYTES } from "../src/format/limits.ts";

/** A real LocalKey that counts the unwraps that reach it. */
function counted(key: LocalKey): KeyProvider & { calls: number } {
  const p = {
    provider: key.provider,
    keyId: key.keyId,
    calls: 0,
    wrap: (dk: Uint8Array, c: EncryptionContext) => key.wrap(dk, c),
    unwrap: (w: WrappedKey, c: EncryptionContext) => {
      p.calls++;
      return key.unwrap(w, c);
    },
  };
  return p;
}

async function code(p: Promise<unknown>): Promise<string> {
  return await p.then(() => "no error", (e) => e.code ?? String(e));
}

const post = (body: BodyInit, headers: HeadersInit = {}) =>
  new Request("http://127.0.0.1/keys", { method: "POST", body, headers });

Deno.test("unwrapDataKey: returns the data key and the key that opened it, from bytes, a Blob or a stream", async () => {
  const kek = await LocalKey.generate();
  const other = await LocalKey.generate();
  const plaintext = new TextEncoder().encode("released");
  const sealed = await encrypt(plaintext, { keys: [other, kek], context: { app: "r" } });
  for (const source of [sealed, new Blob([sealed]), new Blob([sealed]).stream()]) {
    const r = await unwrapDataKey(source, { keys: kek });
    assert.deepEqual([r.dataKey.length, r.provider, r.keyId, r.verificationKey], [32, "local", kek.keyId, undefined]);
    assert.deepEqual(await decrypt(sealed, { keys: await RawDataKey.create(r.dataKey) }), plaintext);
  }
  // Only the header is needed.
  const header = sealed.subarray(0, parseHeader(sealed).length);
  assert.equal((await unwrapDataKey(header, { keys: kek })).keyId, kek.keyId);
  assert.equal(await code(unwrapDataKey(header.subarray(0, 50), { keys: kek })), "TRUNCATED");
  assert.equal(await code(unwrapDataKey(sealed, { keys: await LocalKey.generate() })), "NO_KEY_MATCHED");
  assert.equal(await code(unwrapDataKey(sealed, { keys: kek, context: { app: "other" } })), "CONTEXT_MISMATCH");
  assert.equal(await code(unwrapDataKey(sealed, { keys: kek, requireSigned: true })), "SIGNATURE_REQUIRED");
});

Deno.test("unwrapDataKey: a forged salt or commitment is refused by the commitment, a forged core by the header tag, and no key is returned", async () => {
  const kek = await LocalKey.generate();
  const sealed = await encrypt(new Uint8Array(100), { keys: kek });
  const h = parseHeader(sealed);
  const commitmentAt = h.core.length - 32;
  const forge = (at: number) => {
    const f = sealed.slice();
    f[at] ^= 0x01;
    return f;
  };
  const provider = counted(kek);
  // The commitment can only be checked with the key it commits to: one unwrap, then refusal.
  assert.equal(await code(unwrapDataKey(forge(commitmentAt + 5), { keys: provider })), "KEY_COMMITMENT_MISMATCH");
  assert.equal(await code(unwrapDataKey(forge(14), { keys: provider })), "KEY_COMMITMENT_MISMATCH", "salt");
  assert.equal(provider.calls, 2);
  // The chunk size is not in the commitment, but the header tag covers it.
  const chunkSizeForged = sealed.slice();
  chunkSizeForged[12] ^= 0x01;
  assert.equal(await code(unwrapDataKey(chunkSizeForged, { keys: kek })), "HEADER_AUTH_FAILED");
  // The required context and signature are checked before any unwrap.
  provider.calls = 0;
  assert.equal(await code(unwrapDataKey(sealed, { keys: provider, context: { x: "y" } })), "CONTEXT_MISMATCH");
  assert.equal(await code(unwrapDataKey(sealed, { keys: provider, requireSigned: true })), "SIGNATURE_REQUIRED");
  assert.equal(provider.calls, 0);
});

Deno.test("signed messages: unwrapDataKey returns the verification key, and decrypt can require exactly that key", async () => {
  const kek = await LocalKey.generate();
  const plaintext = new TextEncoder().encode("signed for the page");
  const sealed = await encrypt(plaintext, { keys: kek, sign: true });
  const another = await encrypt(plaintext, { keys: kek, sign: true });
  const unsigned = await encrypt(plaintext, { keys: kek });
  const r = await unwrapDataKey(sealed, { keys: kek, requireSigned: true });
  assert.equal(r.verificationKey, parseHeader(sealed).context["envelope:verification-key"]);
  assert.equal(decodeBase64(r.verificationKey!).length, 65);
  const raw = await RawDataKey.create(r.dataKey);
  assert.deepEqual(await decrypt(sealed, { keys: raw, verificationKey: r.verificationKey }), plaintext);
  assert.deepEqual(await decrypt(sealed, { keys: raw, verificationKey: decodeBase64(r.verificationKey!) }), plaintext);
  // Another sender's message (here: another signed message under the same KEK), or an unsigned one, is refused
  // before any key is tried, even with a key that opens it.
  const kekCounted = counted(kek);
  assert.equal(
    await code(decrypt(another, { keys: kekCounted, verificationKey: r.verificationKey })),
    "SIGNATURE_INVALID",
  );
  assert.equal(
    await code(decrypt(unsigned, { keys: kekCounted, verificationKey: r.verificationKey })),
    "SIGNATURE_REQUIRED",
  );
  assert.equal(kekCounted.calls, 0);
  assert.equal(await code(decrypt(sealed, { keys: raw, verificationKey: "not a key" })), "INVALID_KEY");
});

Deno.test("keyRelease: authorize sees the header before any unwrap; a refusal is typed JSON and no key is used", async () => {
  const kek = await LocalKey.generate();
  const provider = counted(kek);
  const sealed = await encrypt(new TextEncoder().encode("x"), { keys: kek, context: { team: "finance" } });
  const events: KeyReleaseEvent[] = [];
  const seen: string[] = [];
  const handler = keyRelease({
    keys: provider,
    authorize: (req, header) => {
      seen.push(`${header.context.team} ${header.keys.map((k) => k.keyId).join(",")}`);
      return req.headers.get("x-user") === "alice" ? "alice" : false;
    },
    onEvent: (e) => events.push(e),
  });
  let res = await handler(post(sealed, { "x-user": "mallory" }));
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const refusal = await res.json();
  assert.equal(refusal.error.code, "RELEASE_REFUSED");
  assert.match(refusal.error.hint, /\S/);
  assert.equal(provider.calls, 0, "a refused caller reached the key");

  res = await handler(post(sealed, { "x-user": "alice" }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const answer = await res.json();
  assert.deepEqual([answer.provider, answer.keyId], ["local", kek.keyId]);
  const released = decodeBase64(answer.dataKey);
  assert.deepEqual(released, (await unwrapDataKey(sealed, { keys: kek })).dataKey);
  assert.deepEqual(seen, [`finance ${kek.keyId}`, `finance ${kek.keyId}`]);
  assert.deepEqual(events.map((e) => [e.status, e.code, e.caller]), [
    [403, "RELEASE_REFUSED", undefined],
    [200, undefined, "alice"],
  ]);
  assert.ok(!JSON.stringify(events).includes(answer.dataKey), "an event holds the key");
  assert.ok(!JSON.stringify(events).includes(encodeBase64(released).slice(0, 20)));
});

Deno.test("keyRelease: bounds the body at the header limit, refuses other methods, bad headers and forged commitments", async () => {
  const kek = await LocalKey.generate();
  const provider = counted(kek);
  const sealed = await encrypt(new Uint8Array(10), { keys: kek });
  const handler = keyRelease({ keys: provider, authorize: () => true });
  const status = async (r: Request) => {
    const res = await handler(r);
    return [res.status, (await res.json()).error?.code];
  };
  assert.deepEqual(await status(new Request("http://x/", { method: "GET" })), [405, "INVALID_ARGUMENT"]);
  const big = new Uint8Array(MAX_HEADER_BYTES + 1);
  assert.deepEqual(await status(post(big)), [413, "LIMIT_EXCEEDED"]);
  // Without a Content-Length (a stream), reading stops at the limit.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += 65536;
      c.enqueue(new Uint8Array(65536).fill(0x41));
    },
  });
  const streamed = new Request("http://x/", { method: "POST", body: endless, duplex: "half" } as RequestInit);
  assert.deepEqual(await status(streamed), [400, "FORMAT_UNKNOWN"]);
  assert.ok(pulled <= 2 * 65536, `${pulled} bytes pulled for a body that is not a header`);
  assert.deepEqual(await status(post(sealed.subarray(0, 40))), [400, "TRUNCATED"]);
  assert.deepEqual(await status(post(new Uint8Array(0))), [400, "TRUNCATED"]);
  const forged = sealed.slice();
  forged[parseHeader(sealed).core.length - 1] ^= 0x80;
  assert.deepEqual(await status(post(forged)), [422, "KEY_COMMITMENT_MISMATCH"]);
  assert.equal(provider.calls, 1, "only the forged commitment reached the key");
  // The whole file may be posted: only its header is read.
  const res = await handler(post(sealed));
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("keyRelease: the rate limit counts per caller in a window and answers 429 with Retry-After", async () => {
  const kek = await LocalKey.generate();
  const sealed = await encrypt(new Uint8Array(1), { keys: kek });
  let t = 1_000_000;
  const handler = keyRelease({
    keys: kek,
    authorize: (req) => req.headers.get("x-user") ?? false,
    rateLimit: { requests: 2, windowMs: 60_000 },
    now: () => t,
  });
  const as = async (user: string) => {
    const res = await handler(post(sealed, { "x-user": user }));
    await res.body?.cancel();
    return res.status;
  };
  assert.deepEqual([await as("a"), await as("a"), await as("b"), await as("a")], [200, 200, 200, 429]);
  const res = await handler(post(sealed, { "x-user": "a" }));
  assert.equal(res.headers.get("retry-after"), "60");
  assert.equal((await res.json()).error.code, "RATE_LIMITED");
  t += 60_000;
  assert.equal(await as("a"), 200);
  assert.throws(() => keyRelease({ keys: kek, authorize: () => true, rateLimit: { requests: 0, windowMs: 1 } }));
});

Deno.test("keyRelease: a body that stops before the header is complete gets 408 REQUEST_TIMEOUT, not an open request", async () => {
  const kek = await LocalKey.generate();
  const sealed = await encrypt(new Uint8Array(10), { keys: kek });
  const header = sealed.subarray(0, parseHeader(sealed).length);
  let authorized = 0;
  const handler = keyRelease({
    keys: kek,
    authorize: () => (authorized++, "tester"),
    bodyTimeoutMs: 300,
  });
  // The first 40 bytes of the header, then nothing, and no end.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(header.slice(0, 40));
    },
  });
  const started = performance.now();
  const res = await handler(new Request("http://127.0.0.1/", { method: "POST", body, duplex: "half" } as RequestInit));
  const waited = performance.now() - started;
  assert.equal(res.status, 408);
  assert.equal((await res.json()).error.code, "REQUEST_TIMEOUT");
  assert.ok(waited >= 250 && waited < 10_000, `answered after ${waited} ms`);
  assert.equal(authorized, 0, "asked to authorize a header that never arrived");
  // The whole header at once is still served.
  const ok = await handler(new Request("http://127.0.0.1/", { method: "POST", body: header.slice() }));
  assert.equal(ok.status, 200);
  assert.equal(authorized, 1);
});
