/**
 * The signed suite (docs/FORMAT.md §5.1) and the sender-authentication gap it
 * closes (issue 15, H3): a holder of the data key can forge a suite-1 message
 * that every reader accepts, and cannot forge a suite-2 one.
 */
import assert from "node:assert/strict";
import { decrypt, encrypt, inspect, isEnvelopeError, LocalKey, openRandomAccess, RawDataKey } from "../mod.ts";
import { decryptStream } from "../src/envelope/decrypt.ts";
import { ChunkCipher } from "../src/envelope/chunks.ts";
import { computeHeaderTag, deriveKeys, openDataKey } from "../src/envelope/data_key.ts";
import { beginSigning, Transcript } from "../src/envelope/signature.ts";
import { encodeCore, encodeHeader, type Header, parseHeader } from "../src/format/header.ts";
import { SIGNATURE_BYTES, VERIFICATION_KEY } from "../src/format/limits.ts";
import {
  concatBytes,
  CountingProvider,
  decryptRandomAccess,
  decryptStreamed,
  outcome,
  prng,
  streamOf,
} from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "no error";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/**
 * What a holder of the data key can do (the review's proof of concept): write
 * a new payload under the stolen message's data key, its wrapped keys and its
 * context, with the core fields as given, and sign it with a key pair of its
 * own when `sign` is set.
 */
async function forge(
  original: Uint8Array,
  dataKey: Uint8Array,
  plaintext: Uint8Array,
  o: { suite?: number; context?: Record<string, string>; sign?: boolean },
): Promise<Uint8Array> {
  const h = parseHeader(original);
  const keys = await deriveKeys(dataKey, h.salt);
  const core = encodeCore({
    chunkSize: h.chunkSize,
    salt: h.salt,
    context: o.context ?? h.context,
    commitment: keys.commitment,
    suite: o.suite ?? h.suite,
  });
  const tag = computeHeaderTag(keys.headerKey, core);
  const cipher = await ChunkCipher.create(keys.payloadKey);
  const chunk = await cipher.seal(0, true, plaintext);
  cipher.dispose();
  const parts = [encodeHeader(core, tag, h.keys), chunk];
  if (o.sign) {
    const mine = await beginSigning({});
    const t = mine.start(core, tag);
    t.addChunk(chunk);
    parts.push(await mine.finish(t));
  }
  return concatBytes(parts);
}

async function stolenDataKey(sealed: Uint8Array, key: LocalKey): Promise<Uint8Array> {
  return (await openDataKey(parseHeader(sealed), [key])).dataKey;
}

Deno.test("H3 proof of concept: a data-key holder forges a suite-1 message that the key's owner accepts", async () => {
  const server = await LocalKey.generate();
  const sealed = await encrypt(te.encode("pay 10 to alice"), { keys: server, context: { app: "pay" } });
  const dk = await stolenDataKey(sealed, server);
  const forged = await forge(sealed, dk, te.encode("pay 9999 to mallory"), {});
  // This is the documented property of suite 1 (FORMAT.md §10), kept as a test so the gap stays visible.
  assert.equal(td.decode(await decrypt(forged, { keys: server, context: { app: "pay" } })), "pay 9999 to mallory");
  assert.equal(await codeOf(decrypt(forged, { keys: server, requireSigned: true })), "SIGNATURE_REQUIRED");
});

Deno.test("H3: a signed message cannot be forged by a data-key holder, whichever way it tries", async () => {
  const server = await LocalKey.generate();
  const sealed = await encrypt(te.encode("pay 10 to alice"), { keys: server, context: { app: "pay" }, sign: true });
  const h = parseHeader(sealed);
  assert.equal(h.suite, 2);
  assert.ok(h.context[VERIFICATION_KEY]?.length === 88);
  const dk = await stolenDataKey(sealed, server);
  const evil = te.encode("pay 9999 to mallory");
  // Keep the original verification key and sign with its own key pair: the signature fails.
  const own = await forge(sealed, dk, evil, { sign: true });
  for (const [name, f] of decodersOf(own, server)) assert.equal(await codeOf(f()), "SIGNATURE_INVALID", name);
  // Put its own verification key into the context: the local wrap is bound to the old context and refuses.
  const mine = await beginSigning({ app: "pay" });
  const swapped = await forge(sealed, dk, evil, { sign: true, context: mine.context });
  const err = await decrypt(swapped, { keys: server }).catch((e) => e);
  assert.equal(err.code, "HEADER_AUTH_FAILED");
  assert.match(err.message, /encryption context in the header was modified/);
  // Strip the signature and mark the message suite 1: the verification key in the context gives it away.
  const stripped = await forge(sealed, dk, evil, { suite: 1 });
  for (const [name, f] of decodersOf(stripped, server)) assert.equal(await codeOf(f()), "SIGNATURE_INVALID", name);
  // The genuine message still opens everywhere.
  for (const [name, f] of decodersOf(sealed, server)) assert.equal(td.decode(await f()), "pay 10 to alice", name);
});

function decodersOf(message: Uint8Array, key: LocalKey): [string, () => Promise<Uint8Array>][] {
  return [
    ["decrypt", () => decrypt(message, { keys: key })],
    ["decryptStream whole", () => decryptStreamed(message, { keys: key }, message.length)],
    ["decryptStream 5-byte pieces", () => decryptStreamed(message, { keys: key }, 5)],
    ["openRandomAccess", () => decryptRandomAccess(message, { keys: key })],
  ];
}

Deno.test("signed messages round-trip at chunk boundaries through every decoder, byte by byte included", async () => {
  const key = await LocalKey.generate();
  const cs = 64;
  for (const len of [0, 1, cs - 1, cs, cs + 1, 2 * cs + 500]) {
    const pt = prng(len + 1).bytes(len);
    const sealed = await encrypt(pt, { keys: key, chunkSize: cs, sign: true, context: { n: String(len) } });
    const chunks = Math.max(1, Math.ceil(len / cs));
    assert.equal(sealed.length, parseHeader(sealed).length + len + 16 * chunks + SIGNATURE_BYTES, `length ${len}`);
    for (const [name, f] of decodersOf(sealed, key)) assert.deepEqual(await f(), pt, `${name} at ${len}`);
    assert.deepEqual(await decryptStreamed(sealed, { keys: key, concurrency: 1 }, 1), pt, `byte by byte at ${len}`);
    // The streaming encoder writes the same layout, and its output verifies.
    const streamed = await new Response(
      streamOf(pt, 7).pipeThrough(
        (await import("../mod.ts")).encryptStream({ keys: key, chunkSize: cs, sign: true }),
      ),
    ).bytes();
    assert.deepEqual(await decrypt(streamed, { keys: key, requireSigned: true }), pt, `encryptStream at ${len}`);
  }
});

Deno.test("a signed message: every byte of the signature and every chunk tag is covered", async () => {
  const key = await LocalKey.generate();
  const pt = prng(3).bytes(200);
  const sealed = await encrypt(pt, { keys: key, chunkSize: 64, sign: true });
  const headerLength = parseHeader(sealed).length;
  for (let i = headerLength; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i] ^= 0x01;
    const inSignature = i >= sealed.length - SIGNATURE_BYTES;
    const o = await outcome(() => decrypt(bad, { keys: key }));
    assert.ok(!o.ok, `byte ${i} flipped was accepted`);
    assert.doesNotMatch(o.code, /not an EnvelopeError/, `byte ${i}`);
    if (inSignature) assert.equal(o.code, "SIGNATURE_INVALID", `signature byte ${i}`);
  }
  // The signature cut short, or missing: refused, never accepted.
  for (const cut of [1, 32, SIGNATURE_BYTES]) {
    for (const [name, f] of decodersOf(sealed.subarray(0, sealed.length - cut), key)) {
      assert.notEqual(await codeOf(f()), "no error", `${name} with ${cut} bytes cut`);
    }
  }
  // A stream ends with an error, never quietly, when only the signature fails.
  const bad = sealed.slice();
  bad[bad.length - 1] ^= 0x80;
  const out = streamOf(bad, 50).pipeThrough(decryptStream({ keys: key }));
  assert.equal(await codeOf(new Response(out).bytes()), "SIGNATURE_INVALID");
});

Deno.test("requireSigned refuses an unsigned message before any key provider is called", async () => {
  const p = new CountingProvider(await LocalKey.generate());
  const sealed = await encrypt(te.encode("x"), { keys: p });
  p.calls.unwrap = 0;
  assert.equal(await codeOf(decrypt(sealed, { keys: p, requireSigned: true })), "SIGNATURE_REQUIRED");
  assert.equal(await codeOf(decryptStreamed(sealed, { keys: p, requireSigned: true }, 3)), "SIGNATURE_REQUIRED");
  assert.equal(p.calls.unwrap, 0);
  const signed = await encrypt(te.encode("x"), { keys: p, sign: true });
  assert.equal(td.decode(await decrypt(signed, { keys: p, requireSigned: true })), "x");
});

Deno.test("the reserved context keys: refused from callers, left out of required-context comparisons", async () => {
  const key = await LocalKey.generate();
  assert.equal(
    await codeOf(encrypt(te.encode("x"), { keys: key, context: { "envelope:verification-key": "mine" } })),
    "INVALID_ARGUMENT",
  );
  assert.equal(
    await codeOf(encrypt(te.encode("x"), { keys: key, context: { "envelope:other": "" } })),
    "INVALID_ARGUMENT",
  );
  const signed = await encrypt(te.encode("x"), { keys: key, context: { tenant: "a" }, sign: true });
  assert.equal(td.decode(await decrypt(signed, { keys: key, context: { tenant: "a" } })), "x");
  assert.equal(await codeOf(decrypt(signed, { keys: key, context: { tenant: "b" } })), "CONTEXT_MISMATCH");
  const info = await inspect(signed);
  assert.equal(info.context[VERIFICATION_KEY], parseHeader(signed).context[VERIFICATION_KEY]);
});

Deno.test("a reader holding only the data key verifies the signature too (a page handed a key)", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(te.encode("for the page"), { keys: key, sign: true });
  const dk = await stolenDataKey(sealed, key);
  const raw = await RawDataKey.create(dk);
  assert.equal(td.decode(await decrypt(sealed, { keys: raw, requireSigned: true })), "for the page");
  const forged = await forge(sealed, dk, te.encode("forged"), { sign: true });
  assert.equal(await codeOf(decrypt(forged, { keys: raw })), "SIGNATURE_INVALID");
});

Deno.test("the transcript chains the header and every tag in order", async () => {
  const h: Header = parseHeader(await encrypt(new Uint8Array(10), { keys: await LocalKey.generate() }));
  const tag = (b: number) => new Uint8Array(16).fill(b);
  const a = new Transcript(h.core, h.headerTag);
  const b = new Transcript(h.core, h.headerTag);
  a.addChunk(tag(1));
  a.addChunk(tag(2));
  b.addChunk(tag(2));
  b.addChunk(tag(1));
  assert.notDeepEqual(a.digest(), b.digest(), "order matters");
  const c = new Transcript(h.core, h.headerTag);
  c.addChunk(concatBytes([new Uint8Array(5), tag(1)]));
  c.addChunk(tag(2));
  assert.deepEqual(c.digest(), a.digest(), "only the last 16 bytes of a chunk count");
});

Deno.test("random access of a signed message: a chunk changed after the open is refused, even one sealed with the data key", async () => {
  const { chunkNonce } = await import("../src/format/chunk.ts");
  const { gcmSealOnce } = await import("../src/crypto/aes_gcm.ts");
  const dataKey = crypto.getRandomValues(new Uint8Array(32));
  const keys = await RawDataKey.create(dataKey);
  const text = new TextEncoder().encode("PAY 100 EUR TO ALICE".padEnd(64, ".") + "x".repeat(200));
  const sealed = await encrypt(text, { keys, sign: true, chunkSize: 64 });
  const file = sealed.slice();
  // A source over bytes that can change after the open, as a file rewritten in place can.
  const reader = await openRandomAccess({ size: file.length, read: (o, n) => Promise.resolve(file.slice(o, o + n)) }, {
    keys,
    requireSigned: true,
  });
  assert.equal(new TextDecoder().decode(await reader.read(0, 20)), "PAY 100 EUR TO ALICE");
  // The forger holds only the data key: chunk 0 sealed again, under the payload key, with other text.
  const header = parseHeader(sealed);
  const { payloadKey } = await deriveKeys(dataKey, header.salt);
  const forged = new Uint8Array(64 + 16);
  gcmSealOnce(
    payloadKey,
    chunkNonce(0, false),
    new TextEncoder().encode("PAY 999 EUR TO MALLORY".padEnd(64, ".")),
    new Uint8Array(0),
    forged,
    0,
  );
  file.set(forged, header.length);
  await assert.rejects(reader.read(0, 30), (e) => isEnvelopeError(e, "SIGNATURE_INVALID"));
  // The chunks that did not change still read.
  assert.equal(new TextDecoder().decode(await reader.read(70, 5)), "xxxxx");
  await reader.close();
});

Deno.test("random access: a source that keeps returning fewer bytes than its size fails with TRUNCATED, not a loop", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(new Uint8Array(100_000), { keys: key });
  const short = {
    size: sealed.length,
    read: (o: number, n: number) => Promise.resolve(sealed.slice(o, Math.min(o + n, 40))),
  };
  await assert.rejects(openRandomAccess(short, { keys: key }), (e) => isEnvelopeError(e, "TRUNCATED"));
});

Deno.test("SignedTags: kept one by one, or by groups past the bound; a changed tag fails either way", async () => {
  const { SignedTags } = await import("../src/envelope/signed_tags.ts");
  const chunks = Array.from({ length: 10 }, (_, i) => crypto.getRandomValues(new Uint8Array(20 + i)));
  const tagOf = (j: number) => Promise.resolve(chunks[j].subarray(chunks[j].length - 16));
  for (const exact of [16, 4, 1]) {
    const kept = new SignedTags(chunks.length, exact);
    assert.equal(kept.group, Math.ceil(10 / exact));
    for (const c of chunks) kept.add(c);
    for (let i = 0; i < chunks.length; i++) await kept.check(i, chunks[i], tagOf);
    const changed = chunks[7].slice();
    changed[changed.length - 1] ^= 1;
    await assert.rejects(
      kept.check(7, changed, tagOf),
      (e) => isEnvelopeError(e, "SIGNATURE_INVALID"),
      `exact ${exact}`,
    );
  }
});
