/**
 * Strict base64 and base64url codecs.
 *
 * Decoding is strict: any character outside the alphabet (including `%`,
 * whitespace and the other alphabet's `+/` or `-_`) is an error, padding must
 * be correct where required, and non-zero trailing bits are refused, so one
 * text decodes to one byte string and nothing is silently skipped.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function table(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const STD_T = table(STD);
const URL_T = table(URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[v >>> 18] + alphabet[(v >>> 12) & 63] + alphabet[(v >>> 6) & 63] + alphabet[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += alphabet[v >>> 18] + alphabet[(v >>> 12) & 63] + (pad ? "==" : "");
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += alphabet[v >>> 18] + alphabet[(v >>> 12) & 63] + alphabet[(v >>> 6) & 63] + (pad ? "=" : "");
  }
  return out;
}

/** How padding is treated when decoding. */
export type Padding = "required" | "optional" | "forbidden";

function decode(text: string, t: Int16Array, padding: Padding, what: string): Uint8Array {
  let end = text.length;
  let pads = 0;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */ && pads < 2) {
    end--;
    pads++;
  }
  const rem = end % 4;
  const bad = (why: string) =>
    new EnvelopeError("INVALID_ARGUMENT", `Decoding ${what} failed: ${why}`, {
      hint: `check that the text is complete ${what} with no extra characters`,
    });
  if (rem === 1) throw bad("the length is impossible");
  if (pads > 0) {
    if (padding === "forbidden") throw bad("padding is not allowed here");
    if ((end + pads) % 4 !== 0) throw bad("the padding is wrong");
  } else if (padding === "required" && rem !== 0) {
    throw bad("padding is missing");
  }
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? t[c] : -1;
    if (v < 0) throw bad(`character ${i + 1} is outside the alphabet`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw bad("the final bits are not zero");
  return o === out.length ? out : out.subarray(0, o);
}

/** Standard base64 (`+/`) with `=` padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STD, true);
}

/** Strict standard base64 (`+/`); padding required unless `padding` says otherwise. */
export function decodeBase64(text: string, padding: Padding = "required"): Uint8Array {
  return decode(text, STD_T, padding, "base64");
}

/** base64url (`-_`), padded with `=` unless `pad` is false. */
export function encodeBase64Url(bytes: Uint8Array, pad = true): string {
  return encode(bytes, URL, pad);
}

/** Strict base64url (`-_`); padding optional unless `padding` says otherwise. */
export function decodeBase64Url(text: string, padding: Padding = "optional"): Uint8Array {
  return decode(text, URL_T, padding, "base64url");
}

/** Lowercase hex. */
export function encodeHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/** Strict hex (even length, `0-9a-fA-F` only). */
export function decodeHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new EnvelopeError("INVALID_ARGUMENT", "Decoding hex failed: expected an even number of hex digits");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}
