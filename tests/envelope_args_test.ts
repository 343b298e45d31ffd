/**
 * Wrong argument types at every public entry point of mod.ts: each throws a
 * `TypeError` (src/errors.ts: the caller's code is wrong), never an
 * EnvelopeError nor a native "cannot read properties of undefined", and
 * before any key provider is called. And openRandomAccess takes the message
 * itself (bytes or a Blob), as the README shows.
 */
import assert from "node:assert/strict";
import {
  blobSource,
  bytesSource,
  DataKeyCache,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  EnvelopeError,
  inspect,
  keyRelease,
  LocalKey,
  openRandomAccess,
  rewrapHeader,
  unwrapDataKey,
} from "../mod.ts";
import { CountingProvider, drain, streamOf } from "./support/envelope_harness.ts";

const te = new TextEncoder();
const key = await LocalKey.generate();
const sealed = await encrypt(te.encode("hello, world"), { keys: key });
// deno-lint-ignore no-explicit-any
const wrong = (v: unknown) => v as any;

Deno.test("every public entry point throws a TypeError for an argument of the wrong type, before any provider call", async () => {
  const p = new CountingProvider(key);
  const calls: [string, () => unknown][] = [
    ["encrypt(string)", () => encrypt(wrong("text"), { keys: p })],
    ["encrypt(ArrayBuffer)", () => encrypt(wrong(new ArrayBuffer(4)), { keys: p })],
    ["encrypt(bytes, undefined)", () => encrypt(te.encode("x"), wrong(undefined))],
    ["encrypt(bytes, { keys: string })", () => encrypt(te.encode("x"), { keys: wrong("local:k.key") })],
    ["encrypt(bytes, { keys: [provider, {}] })", () => encrypt(te.encode("x"), { keys: [p, wrong({})] })],
    ["encrypt(bytes, { context: string })", () => encrypt(te.encode("x"), { keys: p, context: wrong("app=x") })],
    ["decrypt(string)", () => decrypt(wrong("text"), { keys: p })],
    ["decrypt(bytes, undefined)", () => decrypt(sealed, wrong(undefined))],
    ["decrypt(bytes, { keys: string })", () => decrypt(sealed, { keys: wrong("local:k.key") })],
    ["encryptStream(undefined)", () => encryptStream(wrong(undefined))],
    ["encryptStream('text')", () => encryptStream(wrong("text"))],
    ["decryptStream(undefined)", () => decryptStream(wrong(undefined))],
    ["inspect(string)", () => inspect(wrong("text"))],
    ["openRandomAccess(string)", () => openRandomAccess(wrong("text"), { keys: p })],
    ["openRandomAccess({})", () => openRandomAccess(wrong({}), { keys: p })],
    ["openRandomAccess(bytes, undefined)", () => openRandomAccess(sealed, wrong(undefined))],
    ["bytesSource(string)", () => bytesSource(wrong("text"))],
    ["blobSource(bytes)", () => blobSource(wrong(sealed))],
    ["rewrapHeader(string)", () => rewrapHeader(wrong("text"), { keys: [p] })],
    ["rewrapHeader(bytes, undefined)", () => rewrapHeader(sealed, wrong(undefined))],
    ["unwrapDataKey(string)", () => unwrapDataKey(wrong("text"), { keys: p })],
    ["unwrapDataKey(bytes, undefined)", () => unwrapDataKey(sealed, wrong(undefined))],
    ["keyRelease(undefined)", () => keyRelease(wrong(undefined))],
    ["LocalKey.fromBytes(string)", () => LocalKey.fromBytes(wrong("text"))],
    ["LocalKey.fromText(bytes)", () => LocalKey.fromText(wrong(sealed))],
    ["new DataKeyCache(string)", () => new DataKeyCache(wrong("x"))],
  ];
  for (const [name, call] of calls) {
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof TypeError, `${name}: ${error === undefined ? "no error" : String(error)}`);
    assert.ok(!(error instanceof EnvelopeError), name);
    assert.doesNotMatch(
      error.message,
      /cannot read|is not a function|undefined \(reading/i,
      `${name}: ${error.message}`,
    );
    // The message names the function or the argument it was given.
    assert.match(error.message, /\(\)|`keys`|context|DataKeyCache|LocalKey/, `${name}: ${error.message}`);
  }
  assert.deepEqual(p.calls, { generateDataKey: 0, wrap: 0, unwrap: 0 }, "a provider was called");
});

Deno.test("streams reject a chunk of the wrong type with a TypeError, as an error of the stream", async () => {
  for (
    const [name, t] of [["encryptStream", encryptStream({ keys: key })], [
      "decryptStream",
      decryptStream({ keys: key }),
    ]] as const
  ) {
    const w = t.writable.getWriter();
    const reading = drain(t.readable);
    await w.write(wrong("text")).catch(() => {});
    await w.close().catch(() => {});
    const { error } = await reading;
    assert.ok(error instanceof TypeError, `${name}: ${String(error)}`);
  }
  const ok = await drain(streamOf(sealed, 5).pipeThrough(decryptStream({ keys: key })));
  assert.equal(ok.error, undefined);
});

Deno.test("openRandomAccess takes the message as bytes or a Blob, as the README shows, and a source as before", async () => {
  // The README's example ("The library"): random access straight from the bytes.
  const reader = await openRandomAccess(sealed, { keys: key });
  assert.equal(new TextDecoder().decode(await reader.read(7, 5)), "world");
  await reader.close();
  for (const message of [new Blob([sealed]), bytesSource(sealed), blobSource(new Blob([sealed]))]) {
    const r = await openRandomAccess(message, { keys: key });
    assert.equal(r.size, 12);
    assert.equal(new TextDecoder().decode(await r.read(0, 5)), "hello");
    await r.close();
  }
});
