/**
 * The envelope library's API: several providers per message, NO_KEY_MATCHED
 * naming what was tried, required contexts, raw data keys, inspect on every
 * kind of source (reading no more than the header), limits checked before any
 * provider call, and errors that carry no key material. The data-key cache and
 * rewrapHeader have their own files (envelope_cache_test.ts,
 * envelope_rewrap_test.ts).
 */
import assert from "node:assert/strict";
import {
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  EnvelopeError,
  inspect,
  LocalKey,
  RawDataKey,
  rewrapHeader,
} from "../mod.ts";
import { deriveKeys } from "../src/envelope/data_key.ts";
import { parseHeader } from "../src/format/header.ts";
import { encodeBase64, encodeBase64Url } from "../src/encoding/base64.ts";
import { bytesSource, openRandomAccess } from "../src/envelope/random_access.ts";
import {
  concatBytes,
  CountingProvider,
  decryptStreamed,
  drain,
  failureCode as codeOf,
  hex,
  outcome,
  prng,
  streamOf,
} from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("two local keys wrap one data key; either alone decrypts, a third does not", async () => {
  const a = await LocalKey.generate();
  const b = await LocalKey.generate();
  const c = await LocalKey.generate();
  const pt = te.encode("for both a and b");
  const sealed = await encrypt(pt, { keys: [a, b], context: { x: "1" } });
  const info = await inspect(sealed);
  assert.deepEqual(info.keys.map((k) => [k.provider, k.keyId, k.wrappedBytes]), [["local", a.keyId, 81], [
    "local",
    b.keyId,
    81,
  ]]);
  assert.equal(td.decode(await decrypt(sealed, { keys: a })), "for both a and b");
  assert.equal(td.decode(await decrypt(sealed, { keys: b })), "for both a and b");
  assert.equal(td.decode(await decrypt(sealed, { keys: [c, b] })), "for both a and b");
  assert.equal(await codeOf(decrypt(sealed, { keys: c })), "NO_KEY_MATCHED");
  // Both entries hold the same data key: the raw key from one opens the message for the other.
  const streamed = await decryptStreamed(sealed, { keys: [c, a] }, 5);
  assert.equal(td.decode(streamed), "for both a and b");
});

Deno.test("NO_KEY_MATCHED names the keys given, the file's wrapped keys and every failed attempt", async () => {
  const a = await LocalKey.generate();
  const b = await LocalKey.generate();
  const stranger = await LocalKey.generate();
  const sealed = await encrypt(te.encode("x"), { keys: [a, b] });
  try {
    await decrypt(sealed, { keys: stranger });
    assert.fail("decrypted with a stranger's key");
  } catch (e) {
    assert.ok(e instanceof EnvelopeError);
    assert.equal(e.code, "NO_KEY_MATCHED");
    assert.match(e.message, new RegExp(stranger.keyId));
    assert.ok(e.hint?.includes(`local:${a.keyId}`) && e.hint.includes(`local:${b.keyId}`), e.hint);
  }
  // A raw key that is not the data key: the attempt and its cause are named.
  const wrongRaw = await RawDataKey.create(new Uint8Array(32).fill(7));
  try {
    await decrypt(sealed, { keys: [stranger, wrongRaw] });
    assert.fail("decrypted with a wrong raw key");
  } catch (e) {
    assert.ok(e instanceof EnvelopeError);
    assert.equal(e.code, "NO_KEY_MATCHED");
    assert.match(
      e.message,
      new RegExp(`raw key ${wrongRaw.keyId}: the supplied data key is not this message's data key`),
    );
  }
});

Deno.test("a required context must match exactly, and is checked before any provider is called", async () => {
  const inner = await LocalKey.generate();
  const counting = new CountingProvider(inner);
  const ctx = { tenant: "acme", purpose: "test" };
  const sealed = await encrypt(te.encode("ctx"), { keys: inner, context: ctx });
  assert.equal(td.decode(await decrypt(sealed, { keys: inner, context: { purpose: "test", tenant: "acme" } })), "ctx");
  assert.equal(td.decode(await decrypt(sealed, { keys: inner })), "ctx", "no required context: any stored context");
  for (
    const wrong of [{ tenant: "acme" }, { ...ctx, extra: "" }, { tenant: "acme", purpose: "Test" }, {}, {
      tenant: "acme",
      purpose: "test ",
    }] as Record<string, string>[]
  ) {
    assert.equal(
      await codeOf(decrypt(sealed, { keys: counting, context: wrong })),
      "CONTEXT_MISMATCH",
      JSON.stringify(wrong),
    );
    assert.equal(await codeOf(decryptStreamed(sealed, { keys: counting, context: wrong }, 11)), "CONTEXT_MISMATCH");
    assert.equal(
      await codeOf(openRandomAccess(bytesSource(sealed), { keys: counting, context: wrong })),
      "CONTEXT_MISMATCH",
    );
  }
  assert.equal(counting.calls.unwrap, 0, "no provider call before the context check");
  // The empty stored context against a required empty context.
  const plain = await encrypt(te.encode("none"), { keys: inner });
  assert.equal(td.decode(await decrypt(plain, { keys: inner, context: {} })), "none");
  assert.equal(await codeOf(decrypt(plain, { keys: inner, context: { a: "" } })), "CONTEXT_MISMATCH");
  // Keys that look like Object.prototype members are ordinary keys.
  const odd = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}');
  const s2 = await encrypt(te.encode("odd"), { keys: inner, context: odd });
  assert.deepEqual(Object.entries((await inspect(s2)).context).sort(), [["__proto__", "p"], ["constructor", "c"], [
    "toString",
    "t",
  ]]);
  assert.equal(td.decode(await decrypt(s2, { keys: inner, context: odd })), "odd");
  assert.equal(
    await codeOf(decrypt(s2, { keys: inner, context: { constructor: "c", toString: "t" } })),
    "CONTEXT_MISMATCH",
  );
});

Deno.test("RawDataKey: encrypts with the given key, decrypts what a local key wrapped, refuses a wrong key", async () => {
  const dk = prng(1).bytes(32);
  const raw = await RawDataKey.create(dk);
  const local = await LocalKey.generate();
  const sealed = await encrypt(te.encode("raw"), { keys: [raw, local] });
  const info = await inspect(sealed);
  assert.deepEqual(info.keys.map((k) => [k.provider, k.keyId, k.wrappedBytes]), [["raw", raw.keyId, 0], [
    "local",
    local.keyId,
    81,
  ]]);
  const header = parseHeader(sealed);
  assert.equal(
    hex(header.commitment),
    hex((await deriveKeys(dk, header.salt)).commitment),
    "the raw key is the data key",
  );
  assert.equal(td.decode(await decrypt(sealed, { keys: local })), "raw");
  assert.equal(td.decode(await decrypt(sealed, { keys: await RawDataKey.create(encodeBase64(dk)) })), "raw");
  assert.equal(td.decode(await decrypt(sealed, { keys: await RawDataKey.create(encodeBase64Url(dk, false)) })), "raw");
  // A local-only message opens with its data key given raw.
  const localOnly = await encrypt(te.encode("local only"), { keys: [raw, local] });
  const onlyLocal = concatBytes([
    (await rewrapHeader(localOnly, { remove: (k) => k.provider === "raw" })).header,
    localOnly.subarray(parseHeader(localOnly).length),
  ]);
  assert.deepEqual((await inspect(onlyLocal)).keys.map((k) => k.provider), ["local"]);
  assert.equal(td.decode(await decrypt(onlyLocal, { keys: raw })), "local only");
  const wrong = await RawDataKey.create(prng(2).bytes(32));
  assert.equal(await codeOf(decrypt(sealed, { keys: wrong })), "NO_KEY_MATCHED");
  assert.equal(await codeOf(decryptStreamed(sealed, { keys: wrong }, 3)), "NO_KEY_MATCHED");
  assert.equal(await codeOf(RawDataKey.create(new Uint8Array(31))), "INVALID_KEY");
  assert.equal(await codeOf(RawDataKey.create("not base64!")), "INVALID_KEY");
  // A raw key can only be the message's own key, not wrap another one.
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: [local, raw] })), "INVALID_ARGUMENT");
});

/** A stream of `bytes` in pieces of `piece` that counts what was pulled and whether it was cancelled. */
function countingStream(bytes: Uint8Array, piece: number) {
  const state = { pulled: 0, cancelled: false };
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const p = bytes.slice(at, at + piece);
      at += p.length;
      state.pulled += p.length;
      c.enqueue(p);
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

Deno.test("inspect reads bytes, a Blob and a stream alike, and takes no more than the header from a stream", async () => {
  const key = await LocalKey.generate();
  const big = prng(3).bytes(1 << 20);
  const sealed = await encrypt(big, { keys: key, context: { app: "inspect" }, chunkSize: 4096 });
  const header = parseHeader(sealed);
  const fromBytes = await inspect(sealed);
  assert.equal(fromBytes.format, "envelope");
  assert.equal(fromBytes.version, 1);
  assert.equal(fromBytes.chunkSize, 4096);
  assert.deepEqual({ ...fromBytes.context }, { app: "inspect" });
  assert.equal(fromBytes.headerLength, header.length);
  // A Blob whose slices are recorded.
  const slices: [number, number][] = [];
  class RecordingBlob extends Blob {
    override slice(start?: number, end?: number, type?: string): Blob {
      slices.push([start ?? 0, end ?? this.size]);
      return super.slice(start, end, type);
    }
  }
  const fromBlob = await inspect(new RecordingBlob([sealed as Uint8Array<ArrayBuffer>]));
  assert.deepEqual(fromBlob, fromBytes);
  assert.ok(slices.every(([s, e]) => s === 0 && e <= 4096), `blob slices ${JSON.stringify(slices)}`);
  for (const piece of [1, 7, 100, 4096]) {
    const { stream, state } = countingStream(sealed, piece);
    assert.deepEqual(await inspect(stream), fromBytes);
    assert.ok(
      state.pulled < header.length + piece,
      `pieces of ${piece}: pulled ${state.pulled} for a ${header.length}-byte header`,
    );
    assert.ok(state.cancelled, "the stream is cancelled after the header");
  }
  // Failures from a stream: not envelope, cut inside the header.
  assert.equal(await codeOf(inspect(countingStream(te.encode("plain text here"), 4).stream)), "FORMAT_UNKNOWN");
  assert.equal(await codeOf(inspect(countingStream(sealed.slice(0, header.length - 1), 50).stream)), "TRUNCATED");
  assert.equal(await codeOf(inspect(new Uint8Array(0))), "TRUNCATED");
});

Deno.test("limits: chunk sizes outside 64..16 MiB and contexts over their limits fail before any provider call", async () => {
  const inner = await LocalKey.generate();
  const p = new CountingProvider(inner);
  for (const chunkSize of [0, 63, 16 * 1024 * 1024 + 1, 64.5, -64, Number.NaN]) {
    assert.equal(
      await codeOf(encrypt(te.encode("x"), { keys: p, chunkSize })),
      "LIMIT_EXCEEDED",
      `chunk size ${chunkSize}`,
    );
    const r = await drain(streamOf(te.encode("x"), 1).pipeThrough(encryptStream({ keys: p, chunkSize })));
    assert.ok(r.error instanceof EnvelopeError && r.error.code === "LIMIT_EXCEEDED", `stream chunk size ${chunkSize}`);
  }
  for (const chunkSize of [64, 16 * 1024 * 1024]) {
    const sealed = await encrypt(te.encode("edge"), { keys: inner, chunkSize });
    assert.equal(parseHeader(sealed).chunkSize, chunkSize);
    assert.equal(td.decode(await decrypt(sealed, { keys: inner })), "edge");
  }
  const over: [string, Record<string, string>][] = [
    ["a 257-byte key", { ["k".repeat(257)]: "v" }],
    ["a 257-byte key of 2-byte characters", { ["é".repeat(128) + "k"]: "v" }],
    ["a 4097-byte value", { k: "v".repeat(4097) }],
    ["65 pairs", Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, ""]))],
    ["16,410 bytes encoded", Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`k${i}`, "v".repeat(4096)]))],
  ];
  for (const [what, context] of over) {
    assert.equal(await codeOf(encrypt(te.encode("x"), { keys: p, context })), "LIMIT_EXCEEDED", what);
  }
  const atLimit = {
    ["k".repeat(256)]: "v".repeat(4096),
    ...Object.fromEntries(Array.from({ length: 2 }, (_, i) => [`k${i}`, "v".repeat(4096)])),
    z: "v".repeat(16384 - 2 - 3 * (4 + 4096) - 256 - 5 - 2 * 2),
  };
  const sealedAtLimit = await encrypt(te.encode("limit"), { keys: inner, context: atLimit });
  assert.equal(td.decode(await decrypt(sealedAtLimit, { keys: inner, context: atLimit })), "limit");
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: p, context: { "": "empty key" } })), "INVALID_ARGUMENT");
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: p, context: { a: "\ud800" } })), "INVALID_ARGUMENT");
  await assert.rejects(encrypt(te.encode("x"), { keys: p, context: { a: 1 as unknown as string } }), TypeError);
  assert.equal(await codeOf(encrypt(te.encode("x"), { keys: [] })), "INVALID_ARGUMENT");
  assert.deepEqual(p.calls, { generateDataKey: 0, wrap: 0, unwrap: 0 }, "no provider call for any refused input");
});

Deno.test("errors carry no key material: data keys, local keys and derived keys appear in no message, hint or cause", async () => {
  const dk = prng(5).bytes(32);
  const kek = prng(6).bytes(32);
  const raw = await RawDataKey.create(dk);
  const local = await LocalKey.fromBytes(kek);
  const sealed = await encrypt(te.encode("secret"), { keys: [raw, local], chunkSize: 64, context: { c: "1" } });
  const h = parseHeader(sealed);
  const derived = await deriveKeys(dk, h.salt);
  const secrets = [dk, kek, derived.headerKey, derived.payloadKey, derived.commitment].flatMap((k) => [
    hex(k),
    hex(k).toUpperCase(),
    encodeBase64(k),
    encodeBase64Url(k, false),
    hex(k.subarray(0, 8)),
  ]);
  const flip = (at: number) => {
    const m = sealed.slice();
    m[at] ^= 1;
    return m;
  };
  const wrongDk = await RawDataKey.create(prng(7).bytes(32));
  const failures: Promise<unknown>[] = [
    decrypt(sealed, { keys: wrongDk }),
    decrypt(sealed, { keys: local, context: { c: "2" } }),
    decrypt(flip(20), { keys: local }),
    decrypt(flip(20), { keys: raw }),
    decrypt(flip(h.core.length - 1), { keys: local }),
    decrypt(flip(h.core.length + 1), { keys: raw }),
    decrypt(flip(h.length - 1), { keys: local }),
    decrypt(flip(h.length + 3), { keys: raw }),
    decrypt(sealed.slice(0, sealed.length - 1), { keys: raw }),
    decryptStreamed(flip(h.length + 3), { keys: raw }, 5),
    openRandomAccess(bytesSource(flip(30)), { keys: local }),
    RawDataKey.create(dk.subarray(0, 31)),
    LocalKey.fromText(`ENVELOPE-LOCAL-KEY-V1:${encodeBase64Url(kek, false)}x`),
    LocalKey.fromText(`ENVELOPE-LOCAL-KEY-V2:${encodeBase64Url(kek, false)}`),
    rewrapHeader(flip(h.core.length + 1), { keys: [raw], add: [local] }),
  ];
  let n = 0;
  for (const f of failures) {
    const o = await outcome(async () => (await f, new Uint8Array(0)));
    assert.ok(!o.ok, `failure ${n} did not fail`);
    const e = o.error as EnvelopeError;
    const seen: string[] = [];
    for (let x: unknown = e; x instanceof Error; x = (x as Error).cause) {
      seen.push(x.message, String((x as EnvelopeError).hint ?? ""), x.stack ?? "", JSON.stringify(x));
    }
    const text = seen.join("\n");
    for (const s of secrets) assert.ok(!text.includes(s), `failure ${n} (${e.code}) shows key material: ${e.message}`);
    n++;
  }
  assert.equal(n, failures.length);
});

Deno.test("streams reject non-bytes and report every failure as an error, never an early end", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(prng(8).bytes(500), { keys: key, chunkSize: 64 });
  const bad = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(sealed.slice(0, 100));
      c.enqueue("text" as unknown as Uint8Array);
      c.close();
    },
  });
  const r = await drain(bad.pipeThrough(decryptStream({ keys: key })));
  assert.ok(r.error instanceof TypeError);
  const r2 = await drain(
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue("text" as unknown as Uint8Array);
        c.close();
      },
    }).pipeThrough(encryptStream({ keys: key })),
  );
  assert.ok(r2.error instanceof TypeError);
  // An empty input is an error, not an empty plaintext.
  const r3 = await drain(streamOf(new Uint8Array(0), 1).pipeThrough(decryptStream({ keys: key })));
  assert.ok(r3.error instanceof EnvelopeError && r3.error.code === "TRUNCATED");
});

Deno.test("onHeader sees the authenticated header before any plaintext, and is not called when the header fails", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(prng(9).bytes(300), { keys: key, chunkSize: 64, context: { h: "1" } });
  const events: string[] = [];
  const out = streamOf(sealed, 13).pipeThrough(
    decryptStream({ keys: key, onHeader: (h) => events.push(`header ${h.chunkSize}`) }),
  );
  for await (const part of out) events.push(`data ${part.length}`);
  assert.equal(events[0], "header 64");
  assert.deepEqual(events.slice(1).map((e) => e.split(" ")[0]), Array(events.length - 1).fill("data"));
  let called = 0;
  const tampered = sealed.slice();
  tampered[parseHeader(sealed).core.length] ^= 1; // the header tag
  assert.equal(await codeOf(decrypt(tampered, { keys: key, onHeader: () => called++ })), "HEADER_AUTH_FAILED");
  assert.equal(
    await codeOf(decryptStreamed(tampered, { keys: key, onHeader: () => called++ }, 5)),
    "HEADER_AUTH_FAILED",
  );
  assert.equal(called, 0);
});

Deno.test("cancelling a decrypting or encrypting stream midway stops it cleanly (no leak, no unhandled rejection)", async () => {
  const key = await LocalKey.generate();
  const pt = prng(10).bytes(20 * 65536 + 5);
  const sealed = await encrypt(pt, { keys: key });
  for (const concurrency of [1, 4]) {
    let sourceCancelled = false;
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        for (let o = 0; o < sealed.length; o += 70_000) c.enqueue(sealed.slice(o, o + 70_000));
        c.close();
      },
      cancel() {
        sourceCancelled = true;
      },
    });
    const reader = source.pipeThrough(decryptStream({ keys: key, concurrency })).getReader();
    const first = await reader.read();
    assert.equal(hex(first.value!), hex(pt.subarray(0, first.value!.length)));
    await reader.cancel("enough");
    // Cancellation travels back through the pipe asynchronously: wait for it, up to two seconds.
    for (let i = 0; i < 100 && !sourceCancelled; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(sourceCancelled, `concurrency ${concurrency}: the source was cancelled`);

    const enc = streamOf(pt, 50_000).pipeThrough(encryptStream({ keys: key, concurrency })).getReader();
    const head = await enc.read();
    assert.ok(head.value!.length > 0);
    await enc.read();
    await enc.cancel("enough");
    await new Promise((r) => setTimeout(r, 20));
  }
});
