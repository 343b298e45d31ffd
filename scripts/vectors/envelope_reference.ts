/**
 * The reference encoder of the envelope vectors: the format written from
 * docs/FORMAT.md alone, with WebCrypto (`crypto.subtle`: AES-256-GCM,
 * HMAC-SHA256, HKDF-SHA256) and none of the library's encoder or crypto core,
 * so the vectors check the library against a second reading of the spec.
 * Every input is fixed (keys, salts and local wrap nonces are SHA-256 of a
 * label). The case table that uses it is gen_envelope_vectors.ts.
 *
 * @module
 */
export const te = new TextEncoder();
export const subtle = crypto.subtle;
export type Bytes = Uint8Array<ArrayBuffer>;

// ---------------------------------------------------------------- bytes

export function cat(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
export const u8 = (v: number) => new Uint8Array([v]);
export const u16 = (v: number) => new Uint8Array([v >>> 8, v & 0xff]);
export const u32 = (v: number) => new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
export const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
export const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
export function b64big(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
export const b64url = (b: Uint8Array) => b64(b).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

export async function sha256(b: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await subtle.digest("SHA-256", b as Bytes));
}
/** A fixed 32-byte value named by `label`. */
export const fixed = (label: string) => sha256(te.encode(`envelope vectors: ${label}`));

/** `n` pseudo-random plaintext bytes from a fixed label (SHA-256 in counter mode). */
export async function plaintext(label: string, n: number): Promise<Bytes> {
  const out = new Uint8Array(n);
  for (let i = 0, block = 0; i < n; i += 32, block++) {
    const h = await sha256(cat(te.encode(`plaintext ${label} `), u32(block)));
    out.set(h.subarray(0, Math.min(32, n - i)), i);
  }
  return out;
}

// ---------------------------------------------------------------- crypto (WebCrypto)

export async function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, n: number): Promise<Bytes> {
  const k = await subtle.importKey("raw", ikm as Bytes, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(
    await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: salt as Bytes, info: te.encode(info) }, k, n * 8),
  );
}
export async function hmac(key: Uint8Array, data: Uint8Array): Promise<Bytes> {
  const k = await subtle.importKey("raw", key as Bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data as Bytes));
}
export async function gcmSeal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Promise<Bytes> {
  const k = await subtle.importKey("raw", key as Bytes, "AES-GCM", false, ["encrypt"]);
  return new Uint8Array(
    await subtle.encrypt({ name: "AES-GCM", iv: nonce as Bytes, additionalData: aad as Bytes }, k, pt as Bytes),
  );
}

// ---------------------------------------------------------------- the format, from docs/FORMAT.md

export const MAGIC = new Uint8Array([0x89, 0x45, 0x4e, 0x56, 0x0d, 0x0a, 0x1a, 0x0a]);
export const EMPTY = new Uint8Array(0);

export type Pair = [Uint8Array, Uint8Array];

/** §3.2: pairs as UTF-8, sorted by key bytes. */
export function sortedPairs(ctx: Record<string, string>): Pair[] {
  const pairs: Pair[] = Object.entries(ctx).map(([k, v]) => [te.encode(k), te.encode(v)]);
  const cmp = (a: Uint8Array, b: Uint8Array) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  };
  return pairs.sort((x, y) => cmp(x[0], y[0]));
}
/** `context` as written, in the order given (so that broken orders can be written too). */
export function encodeContext(pairs: Pair[]): Bytes {
  return cat(u16(pairs.length), ...pairs.flatMap(([k, v]) => [u16(k.length), k, u16(v.length), v]));
}

export interface Derived {
  commitment: Bytes;
  headerKey: Bytes;
  payloadKey: Bytes;
}
/** §4. */
export async function derive(dk: Uint8Array, salt: Uint8Array): Promise<Derived> {
  return {
    commitment: await hkdf(dk, salt, "envelope v1 commitment", 32),
    headerKey: await hkdf(dk, salt, "envelope v1 header", 32),
    payloadKey: await hkdf(dk, salt, "envelope v1 payload", 32),
  };
}
/** §5: `u88(i) || last`. */
export function nonce(i: number, last: boolean): Bytes {
  const n = new Uint8Array(12);
  let v = i;
  for (let j = 10; j >= 0; j--) {
    n[j] = v % 256;
    v = Math.floor(v / 256);
  }
  n[11] = last ? 1 : 0;
  return n;
}
export const sealChunk = (payloadKey: Uint8Array, i: number, last: boolean, pt: Uint8Array) =>
  gcmSeal(payloadKey, nonce(i, last), pt, EMPTY);

export interface Entry {
  provider: Uint8Array;
  keyId: Uint8Array;
  wrapped: Uint8Array;
}
/** §6 `raw`: the key id from the data key, nothing wrapped. */
export async function rawEntry(dk: Uint8Array): Promise<Entry> {
  return {
    provider: te.encode("raw"),
    keyId: te.encode(hex(await hkdf(dk, EMPTY, "envelope v1 raw key id", 8))),
    wrapped: EMPTY,
  };
}
export const localKeyId = async (kek: Uint8Array) => hex(await hkdf(kek, EMPTY, "envelope v1 local key id", 8));
/**
 * §6 `local`: `nonce(12) || GCM-Seal(wrap-key, nonce, DK, "envelope v1 local wrap" || context)` with
 * `wrap-key = HKDF(KEK, "", "envelope v1 local wrap", 32)` and the canonical context encoding.
 */
export async function localEntry(
  kek: Uint8Array,
  dk: Uint8Array,
  ctx: Uint8Array,
  wrapNonce: Uint8Array,
): Promise<Entry> {
  const wrapKey = await hkdf(kek, EMPTY, "envelope v1 local wrap", 32);
  const sealed = await gcmSeal(wrapKey, wrapNonce, dk, cat(te.encode("envelope v1 local wrap"), ctx));
  return { provider: te.encode("local"), keyId: te.encode(await localKeyId(kek)), wrapped: cat(wrapNonce, sealed) };
}
/** A version-2 local wrap (FORMAT.md §6): a key per wrap from a 32-byte salt, a zero nonce. */
export async function localEntryV2(
  kek: Uint8Array,
  dk: Uint8Array,
  ctx: Uint8Array,
  wrapSalt: Uint8Array,
): Promise<Entry> {
  const wrapKey = await hkdf(kek, wrapSalt, "envelope v1 local wrap v2", 32);
  const sealed = await gcmSeal(wrapKey, new Uint8Array(12), dk, cat(te.encode("envelope v1 local wrap v2"), ctx));
  return {
    provider: te.encode("local"),
    keyId: te.encode(await localKeyId(kek)),
    wrapped: cat(u8(2), wrapSalt, sealed),
  };
}
export function keyList(entries: Entry[], count = entries.length): Bytes {
  return cat(
    u8(count),
    ...entries.flatMap((
      e,
    ) => [u8(e.provider.length), e.provider, u16(e.keyId.length), e.keyId, u16(e.wrapped.length), e.wrapped]),
  );
}
export const keyFileText = (kek: Uint8Array) => `ENVELOPE-LOCAL-KEY-V1:${b64url(kek)}\n`;

/** A message as its parts, so cases can change any of them before joining. */
export interface Parts {
  core: Bytes;
  tag: Bytes;
  keys: Bytes;
  chunks: Bytes[];
  derived: Derived;
}
export const join = (p: Parts) => cat(p.core, p.tag, p.keys, ...p.chunks);

export interface BuildOptions {
  dk: Uint8Array;
  salt: Uint8Array;
  chunkSize: number;
  plaintext: Uint8Array;
  /** Context pairs in the order to write them (default: sortedPairs of `context`). */
  pairs?: Pair[];
  context?: Record<string, string>;
  /** Wrapped keys to write; default the raw entry. */
  entries?: Entry[];
  version?: number;
  suite?: number;
  /** Chunk size written in the header, when it differs from the one used to split. */
  headerChunkSize?: number;
}

/** §7: a well-formed message (unless the options say otherwise). */
export async function build(o: BuildOptions): Promise<Parts> {
  const pairs = o.pairs ?? sortedPairs(o.context ?? {});
  const derived = await derive(o.dk, o.salt);
  const core = cat(
    MAGIC,
    u8(o.version ?? 1),
    u8(o.suite ?? 1),
    u32(o.headerChunkSize ?? o.chunkSize),
    o.salt,
    encodeContext(pairs),
    derived.commitment,
  );
  const tag = await hmac(derived.headerKey, core);
  const entries = o.entries ?? [await rawEntry(o.dk)];
  const cs = o.chunkSize;
  const n = Math.max(1, Math.ceil(o.plaintext.length / cs));
  const chunks: Bytes[] = [];
  for (let i = 0; i < n; i++) {
    chunks.push(await sealChunk(derived.payloadKey, i, i === n - 1, o.plaintext.subarray(i * cs, (i + 1) * cs)));
  }
  return { core, tag, keys: keyList(entries), chunks, derived };
}
