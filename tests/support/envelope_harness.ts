/**
 * Shared helpers for the envelope tests: the vectors, running a message
 * through each decoder (buffered, streamed in pieces, random access) with
 * the outcome as data, a seeded PRNG, and providers that count their calls.
 */
import { FIXED_RANDOM } from "../../src/crypto/fixed_random_internal.ts";
import { setBackendOverride } from "../../src/crypto/backend.ts";
import assert from "node:assert/strict";
import { decrypt, type DecryptOptions, decryptStream } from "../../src/envelope/decrypt.ts";
import { bytesSource, openRandomAccess } from "../../src/envelope/random_access.ts";
import { EnvelopeError } from "../../src/errors.ts";
import type { EncryptionContext, GeneratedDataKey, KeyProvider, WrappedKey } from "../../src/keys/provider.ts";
import { LocalKey } from "../../src/keys/local.ts";
import { RawDataKey } from "../../src/keys/raw.ts";
import { decodeBase64 } from "../../src/encoding/base64.ts";

/** One vector file, as `tests/vectors/envelope/README.md` describes it. */
export interface EnvelopeVector {
  readonly name: string;
  readonly description: string;
  readonly dataKey: string;
  readonly localKey?: string;
  readonly context?: Record<string, string>;
  readonly requiredContext?: Record<string, string>;
  readonly chunkSize: number;
  readonly salt?: string;
  readonly message: string;
  readonly plaintext?: string;
  readonly plaintextSha256?: string;
  readonly plaintextLength?: number;
  readonly derived?: Record<string, string>;
  readonly expect: string;
}

const VECTOR_DIR = new URL("../vectors/envelope/", import.meta.url);

/** Every vector, sorted by name. */
export async function loadVectors(): Promise<EnvelopeVector[]> {
  const out: EnvelopeVector[] = [];
  for await (const e of Deno.readDir(VECTOR_DIR)) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    const v = JSON.parse(await Deno.readTextFile(new URL(e.name, VECTOR_DIR)));
    out.push({ name: e.name.slice(0, -5), ...v });
  }
  return out.sort((a, b) => a.name < b.name ? -1 : 1);
}

export const b64 = (s: string) => decodeBase64(s);

/** The decrypt options a vector asks for: its local key if it has one, else its raw data key. */
export async function vectorOptions(v: EnvelopeVector): Promise<DecryptOptions> {
  const keys: KeyProvider = v.localKey ? await LocalKey.fromText(v.localKey) : await RawDataKey.create(b64(v.dataKey));
  return v.requiredContext ? { keys, context: v.requiredContext } : { keys };
}

/** What a decoder did: the plaintext, or the error it threw. */
export type Outcome =
  | { readonly ok: true; readonly plaintext: Uint8Array }
  | { readonly ok: false; readonly error: unknown; readonly code: string };

/** Runs `f` and records its outcome; non-EnvelopeErrors get code `<name>: <message>` so assertions show them. */
export async function outcome(f: () => Promise<Uint8Array>): Promise<Outcome> {
  try {
    return { ok: true, plaintext: await f() };
  } catch (error) {
    const code = error instanceof EnvelopeError
      ? error.code
      : `not an EnvelopeError: ${(error as Error)?.name}: ${(error as Error)?.message}`;
    return { ok: false, error, code };
  }
}

/** Splits `bytes` into pieces of `size` (the last one shorter). */
export function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  if (bytes.length === 0) return;
  for (let o = 0; o < bytes.length; o += size) yield bytes.slice(o, o + size);
}

/** A stream of `bytes` in pieces of `size`. */
export function streamOf(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces(bytes, size));
}

/**
 * Reads `readable` to its end. Returns what it released and the error it
 * ended with (if any), so a test can check what came out before a failure.
 */
export async function drain(readable: ReadableStream<Uint8Array>): Promise<{ parts: Uint8Array[]; error?: unknown }> {
  const parts: Uint8Array[] = [];
  const reader = readable.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { parts };
      parts.push(value);
    }
  } catch (error) {
    return { parts, error };
  } finally {
    reader.releaseLock();
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** decryptStream fed `message` in pieces of `size`. */
export function decryptStreamed(message: Uint8Array, options: DecryptOptions, size: number): Promise<Uint8Array> {
  return (async () => {
    const r = await drain(streamOf(message, size).pipeThrough(decryptStream(options)));
    if (r.error !== undefined) throw r.error;
    return concatBytes(r.parts);
  })();
}

/** openRandomAccess over the bytes, reading the whole plaintext, then closing. */
export async function decryptRandomAccess(message: Uint8Array, options: DecryptOptions): Promise<Uint8Array> {
  const reader = await openRandomAccess(bytesSource(message), options);
  try {
    return await reader.read(0, reader.size);
  } finally {
    await reader.close();
  }
}

/** The decoders each vector goes through, with a label. */
/** Runs `f` with the AES-GCM backend forced to WebCrypto, then restores the measured choice. */
async function withWebCrypto<T>(f: () => Promise<T>): Promise<T> {
  setBackendOverride("webcrypto");
  try {
    return await f();
  } finally {
    setBackendOverride("auto");
  }
}

export function decoders(
  messageLength: number,
): { label: string; run: (m: Uint8Array, o: DecryptOptions) => Promise<Uint8Array> }[] {
  const list = [
    { label: "decrypt", run: (m: Uint8Array, o: DecryptOptions) => decrypt(m, o) },
    { label: "decrypt concurrency 1", run: (m: Uint8Array, o: DecryptOptions) => decrypt(m, { ...o, concurrency: 1 }) },
    // Small messages open in the core without a promise; forcing WebCrypto takes them down the general path.
    {
      label: "decrypt, WebCrypto backend",
      run: (m: Uint8Array, o: DecryptOptions) => withWebCrypto(() => decrypt(m, o)),
    },
    {
      label: "decryptStream whole",
      run: (m: Uint8Array, o: DecryptOptions) => decryptStreamed(m, o, Math.max(1, m.length)),
    },
    { label: "decryptStream 7-byte pieces", run: (m: Uint8Array, o: DecryptOptions) => decryptStreamed(m, o, 7) },
    {
      label: "decryptStream 7-byte pieces concurrency 1",
      run: (m: Uint8Array, o: DecryptOptions) => decryptStreamed(m, { ...o, concurrency: 1 }, 7),
    },
    { label: "openRandomAccess", run: decryptRandomAccess },
  ];
  if (messageLength < 10_000) {
    list.push({ label: "decryptStream byte by byte", run: (m, o) => decryptStreamed(m, o, 1) });
  }
  return list;
}

export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(b: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>)));
}

/** Asserts that an outcome failed with `code`, as an EnvelopeError. */
export function assertCode(o: Outcome, code: string, what: string): void {
  if (o.ok) assert.fail(`${what}: expected ${code}, but it returned ${o.plaintext.length} bytes of plaintext`);
  assert.ok(o.error instanceof EnvelopeError, `${what}: expected an EnvelopeError, got ${o.code}`);
  assert.equal(o.code, code, `${what}: ${(o.error as Error).message}`);
}

/** A seeded PRNG (mulberry32), so property tests replay. */
export function prng(
  seed: number,
): { next(): number; int(lo: number, hi: number): number; bytes(n: number): Uint8Array } {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}

/** Encrypt options that fix the salt to `bytes`, through the test-only key (no public option can). */
export function withSalt(bytes: Uint8Array): { [FIXED_RANDOM]: Uint8Array } {
  return { [FIXED_RANDOM]: bytes };
}

/** A provider that forwards to `inner` and counts each call. */
export class CountingProvider implements KeyProvider {
  readonly provider: string;
  readonly keyId: string;
  calls = { generateDataKey: 0, wrap: 0, unwrap: 0 };
  /** When set, generateDataKey waits for this before answering. */
  gate?: Promise<void>;
  constructor(readonly inner: KeyProvider, readonly fakeGenerate = true) {
    this.provider = inner.provider;
    this.keyId = inner.keyId;
  }
  /** Like a KMS: a fresh random key, wrapped by the inner provider. */
  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.calls.generateDataKey++;
    if (this.gate) await this.gate;
    const dataKey = crypto.getRandomValues(new Uint8Array(32));
    return { dataKey, wrapped: await this.inner.wrap(dataKey, context) };
  }
  wrap(dataKey: Uint8Array, context: EncryptionContext): Promise<WrappedKey> {
    this.calls.wrap++;
    return this.inner.wrap(dataKey, context);
  }
  unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array | null> {
    this.calls.unwrap++;
    return this.inner.unwrap(wrapped, context);
  }
}

/** The code of the EnvelopeError `p` rejects with; fails the test if it resolves or throws anything else. */
export async function failureCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EnvelopeError, `expected an EnvelopeError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected a failure");
}
