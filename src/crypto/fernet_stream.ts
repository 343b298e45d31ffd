/**
 * Fernet tokens as streams, so a token of any size (the Nitro format's is a
 * whole zip) is handled in flat memory, byte-compatible with
 * {@linkcode Fernet} and Python's `cryptography.fernet`.
 *
 * Decrypting takes two passes over the token's text, because the HMAC comes
 * last and no plaintext may be released before it verified:
 *
 * 1. {@linkcode verifyFernetStream} decodes the base64url incrementally (as
 *    strictly as the whole-token decoder: the alphabet, whole 4-character
 *    groups, `=` only at the end) and computes the HMAC-SHA256 as it goes,
 *    then compares it with the token's in constant time.
 * 2. {@linkcode decryptFernetStream} reads the same text again and decrypts
 *    the AES-128-CBC ciphertext run by run. It computes the HMAC again and
 *    fails at its end when the text is not the one pass one verified (a file
 *    changed between the reads).
 *
 * Encrypting is one pass ({@linkcode encryptFernetStream}): the HMAC is
 * written last. The bulk work is native: WebCrypto's AES-CBC and
 * `node:crypto`'s incremental HMAC (the core's HMAC is one-shot, and
 * WebCrypto has no incremental HMAC). This module is for Deno and Node; the
 * browser entry does not import it.
 *
 * WebCrypto's AES-CBC always pads. A middle run is encrypted with the
 * padding block dropped; a middle run is decrypted with one extra block
 * appended, `E(K, last ^ 0x10..10)`, which decrypts to a whole block of
 * valid padding that WebCrypto then removes.
 *
 * @module
 */
import { createHmac, type Hmac } from "node:crypto";
import { EnvelopeError } from "../errors.ts";
import { subtleOrUndefined } from "./backend.ts";
import { constantTimeEqual, ready } from "./hash.ts";
import { randomBytes } from "./random.ts";
import { fixedRandom } from "./fixed_random_internal.ts";
import { decodeTokenRun, HEADER, invalid, MAC, MIN_TOKEN, nowSeconds, toBase64Url } from "./fernet_token.ts";
import type { FernetEncryptOptions } from "./fernet.ts";

/** Plaintext (or ciphertext) bytes gathered before one WebCrypto call. */
const RUN = 256 * 1024;
const BLOCK = 16;

/** What pass one learnt about a token whose HMAC verified. */
export interface FernetVerified {
  /** The token's HMAC (verified). */
  readonly mac: Uint8Array;
  /** The decoded token's length in bytes. */
  readonly rawLength: number;
  /** The token's timestamp, seconds since the epoch (authenticated). */
  readonly timestamp: number;
}

type Bytes = Uint8Array<ArrayBuffer>;

function subtle(): SubtleCrypto {
  const s = subtleOrUndefined();
  if (s === undefined) {
    throw new EnvelopeError("WASM_UNAVAILABLE", "Streaming the Fernet token failed: this runtime has no WebCrypto", {
      hint: "use Deno or Node 20 or later, or the whole-token Fernet class",
    });
  }
  return s;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new EnvelopeError("INVALID_KEY", "Loading the Fernet key failed: it is not 32 bytes", {
      hint: "pass the 32 raw key bytes",
    });
  }
}

async function aesKey(key: Uint8Array): Promise<CryptoKey> {
  const raw = key.slice(16, 32);
  try {
    return await subtle().importKey("raw", raw, "AES-CBC", false, ["encrypt", "decrypt"]);
  } finally {
    raw.fill(0);
  }
}

function hmacOf(key: Uint8Array): Hmac {
  const sign = key.slice(0, 16);
  try {
    return createHmac("sha256", sign);
  } finally {
    sign.fill(0);
  }
}

/** `first` then each of `rest` (`restBytes` in all), in one new array (or `first` itself when `rest` is empty). */
function joinAll(first: Uint8Array, rest: readonly Uint8Array[], restBytes: number): Uint8Array {
  if (restBytes === 0) return first;
  if (first.length === 0 && rest.length === 1) return rest[0];
  const out = new Uint8Array(first.length + restBytes);
  out.set(first);
  let o = first.length;
  for (const r of rest) out.set(r, o), o += r.length;
  return out;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Incremental strict base64url: {@linkcode push} returns the bytes of the
 * whole groups seen so far but the last, which may be the padded final one;
 * {@linkcode end} decodes that one.
 */
class TokenTextDecoder {
  #carry: Uint8Array = new Uint8Array(0);
  #latin1 = new TextDecoder("latin1");

  push(text: Uint8Array): Uint8Array {
    const buf = join(this.#carry, text);
    // Keep the last whole group (it may hold the padding) and any partial one.
    // A whole group followed by more text cannot be the last, so only a text that ends on a group boundary keeps one.
    let keep = buf.length % 4;
    if (keep === 0 && buf.length > 0) keep = 4;
    const cut = buf.length - keep;
    this.#carry = buf.slice(cut);
    return cut > 0 ? decodeTokenRun(this.#latin1.decode(buf.subarray(0, cut)), false) : new Uint8Array(0);
  }

  end(): Uint8Array {
    const last = this.#carry;
    this.#carry = new Uint8Array(0);
    if (last.length % 4 !== 0) throw invalid("the token is not valid base64url");
    return last.length > 0 ? decodeTokenRun(this.#latin1.decode(last), true) : new Uint8Array(0);
  }
}

/**
 * Pass one: reads a token's text to its end, checks its layout and its HMAC
 * (in constant time), and returns what pass two needs. `TOKEN_INVALID` for
 * anything malformed or forged. Nothing is decrypted.
 */
export async function verifyFernetStream(key: Uint8Array, text: ReadableStream<Uint8Array>): Promise<FernetVerified> {
  checkKey(key);
  await ready();
  const hmac = hmacOf(key);
  const dec = new TokenTextDecoder();
  const header = new Uint8Array(HEADER);
  let total = 0;
  // The last MAC bytes seen are held back from the HMAC until more arrive.
  let tail: Uint8Array = new Uint8Array(0);
  const take = (raw: Uint8Array) => {
    if (raw.length === 0) return;
    if (total < HEADER) header.set(raw.subarray(0, HEADER - total), total);
    total += raw.length;
    if (raw.length >= MAC) {
      if (tail.length > 0) hmac.update(tail);
      hmac.update(raw.subarray(0, raw.length - MAC));
      tail = raw.slice(raw.length - MAC);
    } else {
      const both = join(tail, raw);
      if (both.length > MAC) hmac.update(both.subarray(0, both.length - MAC));
      tail = both.slice(Math.max(0, both.length - MAC));
    }
  };
  for await (const chunk of text) take(dec.push(chunk));
  take(dec.end());
  if (total < MIN_TOKEN) throw invalid("the token is too short");
  if (header[0] !== 0x80) throw invalid("the token's version is not 0x80");
  if ((total - HEADER - MAC) % BLOCK !== 0) throw invalid("the token is malformed");
  const mac = new Uint8Array(hmac.digest());
  if (!constantTimeEqual(mac, tail)) throw invalid("its HMAC does not verify");
  const view = new DataView(header.buffer);
  return { mac, rawLength: total, timestamp: view.getUint32(1) * 2 ** 32 + view.getUint32(5) };
}

/**
 * Pass two: a `TransformStream` from the same token text that
 * {@linkcode verifyFernetStream} verified to its plaintext, in flat memory.
 * Its end fails with `TOKEN_INVALID` when the text differs from the one
 * pass one verified.
 */
export async function decryptFernetStream(
  key: Uint8Array,
  verified: FernetVerified,
): Promise<TransformStream<Uint8Array, Uint8Array>> {
  checkKey(key);
  await ready();
  const s = subtle();
  const enc = await aesKey(key);
  const hmac = hmacOf(key);
  const dec = new TokenTextDecoder();
  const ctEnd = verified.rawLength - MAC;
  const lastStart = ctEnd - BLOCK;
  const changed = () => invalid("the token changed between the verifying read and the decrypting read");
  let pos = 0;
  let iv: Uint8Array = new Uint8Array(BLOCK);
  let pending: Uint8Array = new Uint8Array(0);
  const lastBlock = new Uint8Array(BLOCK);
  const mac = new Uint8Array(MAC);

  const decryptRun = async (run: Uint8Array): Promise<Uint8Array> => {
    const last = run.subarray(run.length - BLOCK);
    const pad = new Uint8Array(await s.encrypt({ name: "AES-CBC", iv: last as Bytes }, enc, new Uint8Array(0)));
    const buf = new Uint8Array(run.length + BLOCK);
    buf.set(run);
    buf.set(pad, run.length);
    const out = new Uint8Array(await s.decrypt({ name: "AES-CBC", iv: iv as Bytes }, enc, buf));
    iv = last.slice();
    return out;
  };
  const take = async (raw: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>) => {
    if (raw.length === 0) return;
    const start = pos;
    pos += raw.length;
    if (pos > verified.rawLength) throw changed();
    hmac.update(raw.subarray(0, Math.max(0, Math.min(raw.length, ctEnd - start))));
    for (let i = Math.max(start, 9); i < Math.min(pos, HEADER); i++) iv[i - 9] = raw[i - start];
    const mid = raw.subarray(Math.max(0, HEADER - start), Math.max(0, Math.min(raw.length, lastStart - start)));
    for (let i = Math.max(start, lastStart); i < Math.min(pos, ctEnd); i++) lastBlock[i - lastStart] = raw[i - start];
    for (let i = Math.max(start, ctEnd); i < pos; i++) mac[i - ctEnd] = raw[i - start];
    if (mid.length === 0) return;
    pending = join(pending, mid);
    if (pending.length < RUN) return;
    const whole = pending.length - (pending.length % BLOCK);
    const run = pending.subarray(0, whole);
    pending = pending.slice(whole);
    controller.enqueue(await decryptRun(run));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await take(dec.push(chunk), controller);
    },
    async flush(controller) {
      await take(dec.end(), controller);
      if (pos !== verified.rawLength || pending.length % BLOCK !== 0) throw changed();
      if (!constantTimeEqual(new Uint8Array(hmac.digest()), verified.mac) || !constantTimeEqual(mac, verified.mac)) {
        throw changed();
      }
      if (pending.length > 0) controller.enqueue(await decryptRun(pending));
      let out: ArrayBuffer;
      try {
        out = await s.decrypt({ name: "AES-CBC", iv: iv as Bytes }, enc, lastBlock);
      } catch {
        throw invalid("its padding is wrong");
      }
      if (out.byteLength > 0) controller.enqueue(new Uint8Array(out));
    },
  });
}

/**
 * A `TransformStream` from plaintext to a Fernet token's text (ASCII bytes),
 * the same token {@linkcode Fernet.encrypt} would make for the same time and
 * IV. The IV comes from the CSPRNG.
 */
export async function encryptFernetStream(
  key: Uint8Array,
  options: Pick<FernetEncryptOptions, "now"> = {},
): Promise<TransformStream<Uint8Array, Uint8Array>> {
  checkKey(key);
  const s = subtle();
  const enc = await aesKey(key);
  const hmac = hmacOf(key);
  const ts = nowSeconds(options.now, "Encrypting the Fernet token");
  let iv: Uint8Array = fixedRandom(options, "iv", "Encrypting the Fernet token")?.slice() ?? randomBytes(BLOCK);
  if (iv.length !== BLOCK) {
    throw new EnvelopeError("INVALID_ARGUMENT", `Encrypting the Fernet token failed: the IV is ${iv.length} bytes`);
  }
  const header = new Uint8Array(HEADER);
  header[0] = 0x80;
  const view = new DataView(header.buffer);
  view.setUint32(1, Math.floor(ts / 2 ** 32));
  view.setUint32(5, ts >>> 0);
  header.set(iv, 9);
  hmac.update(header);
  const ascii = new TextEncoder();
  let pending: Uint8Array = new Uint8Array(0);
  // Chunks held until RUN bytes are in, then joined once: joining each small chunk onto the pending bytes copied
  // them again every time (a folder's zip arrives as one chunk per file: at 8 KiB files, 16 times the data).
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  // Raw token bytes not yet base64-encoded (fewer than 3 after each emit).
  let raw: Uint8Array = header;
  const emit = (bytes: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>, final: boolean) => {
    const all = join(raw, bytes);
    const cut = final ? all.length : all.length - (all.length % 3);
    raw = all.slice(cut);
    if (cut > 0) controller.enqueue(ascii.encode(toBase64Url(all.subarray(0, cut))));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (pending.length + heldBytes < RUN) return;
      pending = joinAll(pending, held, heldBytes);
      held = [];
      heldBytes = 0;
      const whole = pending.length - (pending.length % BLOCK);
      const run = pending.subarray(0, whole);
      const padded = new Uint8Array(await s.encrypt({ name: "AES-CBC", iv: iv as Bytes }, enc, run as Bytes));
      pending = pending.slice(whole);
      const ct = padded.subarray(0, whole);
      iv = ct.slice(whole - BLOCK);
      hmac.update(ct);
      emit(ct, controller, false);
    },
    async flush(controller) {
      pending = joinAll(pending, held, heldBytes);
      const ct = new Uint8Array(await s.encrypt({ name: "AES-CBC", iv: iv as Bytes }, enc, pending as Bytes));
      hmac.update(ct);
      emit(join(ct, new Uint8Array(hmac.digest())), controller, true);
    },
  });
}
