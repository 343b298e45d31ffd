/**
 * The text format of the Alibaba Cloud sample (andrewhoulbrook/
 * alicloud-envelope-encryption at f1d2012, `aliEncrypt.py` / `aliDecrypt.py`):
 *
 * ```
 * B64(ciphertext) *---* CiphertextBlob *---* B64(nonce) *---* B64(tag) *---* ContextJSON
 * ```
 *
 * AES-256-GCM with a 16-byte random nonce, a 16-byte tag and no AAD; B64 is
 * standard base64 with padding; the CiphertextBlob is KMS's base64 text as
 * returned; ContextJSON is the literal string sent to KMS, sent back byte for
 * byte. No trailing newline. The file is split on the first four separators
 * only, since the context may itself contain `*---*`.
 *
 * The ciphertext comes first but the key, nonce and tag after it, so
 * reading is two passes: {@linkcode scanAliyun} finds where the ciphertext
 * ends and parses the (small) trailer, holding at most
 * {@linkcode ALIYUN_MAX_TRAILER} bytes; {@linkcode openAliyunStream} then
 * decodes and decrypts the ciphertext incrementally with the core's GCM
 * (WebCrypto cannot do 16-byte IVs everywhere) and fails at the end when the
 * tag does not verify. Writing is one pass ({@linkcode sealAliyunStream}).
 *
 * @module
 */
import { AesGcm } from "../crypto/mod.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { fixedRandom } from "../crypto/fixed_random_internal.ts";
import { randomBytes } from "../crypto/random.ts";

/** The field separator. */
export const ALIYUN_SEPARATOR = "*---*";

/** The sample's nonce length: pycryptodome's default for GCM. */
export const ALIYUN_NONCE_BYTES = 16;

/** The most bytes the four fields after the ciphertext may take. */
export const ALIYUN_MAX_TRAILER = 64 * 1024;

const SEP = new TextEncoder().encode(ALIYUN_SEPARATOR);
const NOT_B64 = /[^A-Za-z0-9+/=]/;
/**
 * Decodes the ciphertext for the check. UTF-8 is the fast path for ASCII; a
 * byte over 0x7f becomes a character outside the alphabet, and since every
 * byte before the first bad one is ASCII, its index is its byte offset.
 */
const asText = new TextDecoder();
const STAR = 0x2a;
const TAG_BYTES = 16;

/** The fields after the ciphertext. */
export interface AliyunTrailer {
  /** KMS's CiphertextBlob, base64 text as stored. */
  readonly blob: string;
  readonly nonce: Uint8Array;
  readonly tag: Uint8Array;
  /** The context string exactly as stored. */
  readonly context: string;
}

/** Where the ciphertext is and what follows it. */
export interface AliyunScan extends AliyunTrailer {
  /** Characters of base64 ciphertext at the start of the file. */
  readonly ciphertextChars: number;
}

function invalid(why: string): EnvelopeError {
  return new EnvelopeError("COMPAT_INVALID", `Reading the Alibaba-sample file failed: ${why}`, {
    hint:
      "check that the file is complete and unchanged and was written by aliEncrypt.py or `envelope encrypt --format aliyun`",
  });
}

const B64_CHAR = (() => {
  const t = new Uint8Array(256);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") t[c.charCodeAt(0)] = 1;
  return t;
})();

/** True when every byte of `bytes` is a standard base64 character (or `=`). */
export function isBase64Text(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (!B64_CHAR[bytes[i]]) return false;
  return true;
}

/** The index of the first `*---*` in `bytes` at or after `from`, or -1. */
export function indexOfSep(bytes: Uint8Array, from = 0): number {
  for (let i = bytes.indexOf(STAR, from); i >= 0 && i + SEP.length <= bytes.length; i = bytes.indexOf(STAR, i + 1)) {
    let j = 1;
    while (j < SEP.length && bytes[i + j] === SEP[j]) j++;
    if (j === SEP.length) return i;
  }
  return -1;
}

/**
 * Whether `head` (the first bytes, or the whole file when `whole`) starts like
 * an Alibaba-sample file: base64 characters (the first 32 are checked), then
 * `*---*`; or, when the head ends before any separator, at least 64 bytes
 * that start with base64. The reader then checks everything and names what
 * is wrong (a bad character, a missing separator) as `COMPAT_INVALID`.
 */
export function looksLikeAliyun(head: Uint8Array, whole: boolean): boolean {
  if (head.length === 0) return false;
  const first = indexOfSep(head, 0);
  const lead = first >= 0 ? first : head.length;
  if (!isBase64Text(head.subarray(0, Math.min(lead, 32)))) return false;
  if (first >= 0) return true;
  return !whole && head.length >= 64;
}

/** Splits the bytes after the first separator into blob, nonce and tag texts and the context's bytes; undefined when separators are missing. */
function splitTrailer(rest: Uint8Array): { fields: string[]; context: Uint8Array } | undefined {
  const fields: string[] = [];
  let from = 0;
  for (let k = 0; k < 3; k++) {
    const i = indexOfSep(rest, from);
    if (i < 0) return undefined;
    fields.push(new TextDecoder().decode(rest.subarray(from, i)));
    from = i + SEP.length;
  }
  return { fields, context: rest.subarray(from) };
}

function b64Field(text: string, name: string, length: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(text);
  } catch {
    throw invalid(`the ${name} is not base64`);
  }
  if (bytes.length !== length) throw invalid(`the ${name} is ${bytes.length} bytes, not ${length}`);
  return bytes;
}

/** Parses the bytes after the first separator (the trailer). */
export function parseTrailer(rest: Uint8Array): AliyunTrailer {
  const split = splitTrailer(rest);
  if (split === undefined) {
    throw invalid("a *---* separator is missing (expected ciphertext, wrapped key, nonce, tag and context)");
  }
  const [blob, nonceText, tagText] = split.fields;
  let context: string;
  try {
    context = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(split.context);
  } catch {
    throw invalid("the context is not UTF-8 text");
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) throw invalid("the wrapped key (CiphertextBlob) is not base64 text");
  // The sample always writes a 16-byte nonce; other lengths are GCM too, so they are read.
  let nonce: Uint8Array;
  try {
    nonce = decodeBase64(nonceText);
  } catch {
    throw invalid("the nonce is not base64");
  }
  if (nonce.length === 0) throw invalid("the nonce is empty");
  return { blob, nonce, tag: b64Field(tagText, "tag", TAG_BYTES), context };
}

/** Parses a whole file held in memory. */
export function parseAliyun(file: Uint8Array): AliyunScan & { ciphertext: Uint8Array } {
  const first = indexOfSep(file, 0);
  if (first < 0) throw invalid("no *---* separator was found");
  const ctText = file.subarray(0, first);
  if (!isBase64Text(ctText)) throw invalid("the ciphertext is not base64");
  let ciphertext: Uint8Array;
  try {
    ciphertext = decodeBase64(new TextDecoder().decode(ctText));
  } catch {
    throw invalid("the ciphertext is not base64");
  }
  return { ...parseTrailer(file.subarray(first + SEP.length)), ciphertextChars: first, ciphertext };
}

/**
 * Pass one: reads `source` to its end, checking that the ciphertext is base64
 * and finding where it ends, and parses the trailer. `onCiphertext` sees every
 * ciphertext byte (to spool a stream that cannot be read twice).
 */
export async function scanAliyun(
  source: ReadableStream<Uint8Array>,
  onCiphertext?: (bytes: Uint8Array) => Promise<void>,
): Promise<AliyunScan> {
  let ctChars = 0;
  let inCt = true;
  // Bytes that may be the start of a separator (in the ciphertext), or the whole trailer.
  let tail: Uint8Array = new Uint8Array(0);
  let sawPad = false;
  for await (const chunk of source) {
    let buf = chunk;
    if (tail.length > 0) {
      const joined = new Uint8Array(tail.length + chunk.length);
      joined.set(tail);
      joined.set(chunk, tail.length);
      buf = joined;
    }
    if (!inCt) {
      if (buf.length > ALIYUN_MAX_TRAILER) {
        throw invalid(`the fields after the ciphertext are over ${ALIYUN_MAX_TRAILER} bytes`);
      }
      tail = buf;
      continue;
    }
    const star = buf.indexOf(STAR);
    const end = star < 0 ? buf.length : star;
    const ct = buf.subarray(0, end);
    // Checked as text with regular expressions: much faster than a loop over the bytes in JavaScript.
    const text = asText.decode(ct);
    const bad = NOT_B64.exec(text);
    if (bad) throw invalid(`the ciphertext has a character that is not base64 at offset ${ctChars + bad.index}`);
    const pad = sawPad ? 0 : text.indexOf("=");
    if (sawPad || pad >= 0) {
      sawPad = true;
      const after = /[^=]/.exec(text.slice(Math.max(pad, 0)));
      if (after) {
        throw invalid(
          `the ciphertext has base64 after its padding at offset ${ctChars + Math.max(pad, 0) + after.index}`,
        );
      }
    }
    if (ct.length > 0 && onCiphertext) await onCiphertext(ct.slice());
    ctChars += ct.length;
    if (star < 0) {
      tail = new Uint8Array(0);
      continue;
    }
    const rest = buf.subarray(star);
    if (rest.length < SEP.length) {
      // Maybe a separator split across reads: keep it and read on.
      for (let j = 0; j < rest.length; j++) {
        if (rest[j] !== SEP[j]) throw invalid("the ciphertext is followed by something other than *---*");
      }
      tail = rest.slice();
      continue;
    }
    for (let j = 0; j < SEP.length; j++) {
      if (rest[j] !== SEP[j]) throw invalid("the ciphertext is followed by something other than *---*");
    }
    inCt = false;
    tail = rest.slice(SEP.length);
    if (tail.length > ALIYUN_MAX_TRAILER) {
      throw invalid(`the fields after the ciphertext are over ${ALIYUN_MAX_TRAILER} bytes`);
    }
  }
  if (inCt) {
    throw invalid("no *---* separator was found after the ciphertext (the file is truncated or not in this format)");
  }
  if (ctChars % 4 !== 0) throw invalid("the ciphertext's base64 is not a whole number of 4-character groups");
  return { ...parseTrailer(tail), ciphertextChars: ctChars };
}

type NativeFrom = { fromBase64?: (s: string, o: { lastChunkHandling: string }) => Uint8Array };
const nativeFrom = (Uint8Array as unknown as NativeFrom).fromBase64;

function decodeGroups(text: string): Uint8Array {
  if (nativeFrom !== undefined) {
    try {
      return nativeFrom(text, { lastChunkHandling: "strict" });
    } catch {
      throw invalid("the ciphertext is not base64");
    }
  }
  try {
    return decodeBase64(text);
  } catch {
    throw invalid("the ciphertext is not base64");
  }
}

/**
 * Pass two: a `TransformStream` from the file's bytes (from the start; it
 * reads the first `scan.ciphertextChars` and ignores the rest) to plaintext.
 *
 * **WARNING: this stream releases UNVERIFIED plaintext.** The format has a
 * single GCM tag for the whole file, checked only at the stream's end, so
 * every chunk this stream emits may be attacker-controlled until then. On a
 * tag mismatch the stream errors with `PAYLOAD_AUTH_FAILED` at its end. Never
 * pipe it to anything that acts on or releases the bytes (stdout, a socket,
 * a parser); write it to a temporary file committed only on a clean end (as
 * the CLI's atomic output does), or run a tag pass first and decrypt again
 * (as `openAliyunInput(..., verifyFirst)` does for stdout).
 * `gcm` is disposed when the stream ends or fails.
 */
export function openAliyunStream(gcm: AesGcm, scan: AliyunScan): TransformStream<Uint8Array, Uint8Array> {
  const opener = gcm.beginOpen(scan.nonce);
  const ascii = new TextDecoder();
  let seen = 0;
  let carry = "";
  const done = () => {
    opener.abort();
    gcm.dispose();
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      try {
        const take = Math.min(chunk.length, scan.ciphertextChars - seen);
        if (take <= 0) return;
        seen += take;
        const text = carry + ascii.decode(chunk.subarray(0, take));
        const whole = text.length - (text.length % 4);
        carry = text.slice(whole);
        if (whole > 0) {
          const out = opener.update(decodeGroups(text.slice(0, whole)));
          if (out.length > 0) controller.enqueue(out);
        }
      } catch (err) {
        done();
        throw err;
      }
    },
    flush() {
      try {
        if (seen !== scan.ciphertextChars || carry !== "") {
          throw invalid("the ciphertext ended early (the file changed while it was read)");
        }
        opener.finish(scan.tag);
      } finally {
        done();
      }
    },
    cancel() {
      done();
    },
  });
}

/**
 * What {@linkcode sealAliyunStream} needs besides the plaintext. The nonce
 * always comes from the CSPRNG; there is no option to fix it.
 */
export interface AliyunSealParams {
  readonly dataKey: Uint8Array;
  readonly blob: string;
  readonly context: string;
}

/**
 * A `TransformStream` from plaintext to the sample's text: base64 ciphertext
 * as it is made (in 3-byte groups), then the separators, the blob, the nonce,
 * the tag and the context.
 */
export async function sealAliyunStream(params: AliyunSealParams): Promise<TransformStream<Uint8Array, Uint8Array>> {
  if (params.context.includes("\0")) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Writing the Alibaba-sample file failed: the context has a NUL character",
    );
  }
  const nonce = fixedRandom(params, "nonce", "Writing the Alibaba-sample file") ??
    randomBytes(ALIYUN_NONCE_BYTES);
  const gcm = await AesGcm.create(params.dataKey);
  const sealer = gcm.beginSeal(nonce);
  let carry: Uint8Array = new Uint8Array(0);
  const enc = new TextEncoder();
  const ascii = (s: string) => enc.encode(s);
  const done = () => {
    sealer.abort();
    gcm.dispose();
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      try {
        const ct = sealer.update(chunk);
        let buf = ct;
        if (carry.length > 0) {
          buf = new Uint8Array(carry.length + ct.length);
          buf.set(carry);
          buf.set(ct, carry.length);
        }
        const whole = buf.length - (buf.length % 3);
        carry = buf.slice(whole);
        if (whole > 0) controller.enqueue(ascii(encodeBase64(buf.subarray(0, whole))));
      } catch (err) {
        done();
        throw err;
      }
    },
    flush(controller) {
      try {
        const tag = sealer.finish();
        const text = encodeBase64(carry) + ALIYUN_SEPARATOR + params.blob + ALIYUN_SEPARATOR + encodeBase64(nonce) +
          ALIYUN_SEPARATOR + encodeBase64(tag) + ALIYUN_SEPARATOR + params.context;
        controller.enqueue(enc.encode(text));
      } finally {
        done();
      }
    },
    cancel() {
      done();
    },
  });
}

/**
 * The context for the envelope format from the stored ContextJSON: the map
 * when it is a flat JSON object of strings, else the whole text under the
 * single name `aliyun-context` (`flat: false`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contextMap } from "./aliyun_gcm.ts";
 * assert.ok(contextMap('{"year": "1865"}').map.year === "1865");
 * assert.ok(contextMap('{"a": {"b": "c"}}').map["aliyun-context"] === '{"a": {"b": "c"}}');
 * ```
 */
export function contextMap(context: string): { map: Record<string, string>; flat: boolean } {
  let v: unknown;
  try {
    v = JSON.parse(context);
  } catch {
    v = undefined;
  }
  if (
    v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
  ) {
    return { map: { ...(v as Record<string, string>) }, flat: true };
  }
  return { map: context === "" ? {} : { "aliyun-context": context }, flat: false };
}
