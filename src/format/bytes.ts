/**
 * Byte helpers for the format: a bounded writer and a reader that reports
 * where the input ended.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of `s`; refuses lone surrogates so every string has one encoding. */
export function utf8Encode(s: string, what: string): Uint8Array {
  // Short ASCII (provider names, key ids) is its own UTF-8, and well formed: skip the encoder's round trip.
  if (s.length <= 64) {
    const out = new Uint8Array(s.length);
    let i = 0;
    for (let c = 0; i < s.length && (c = s.charCodeAt(i)) < 0x80; i++) out[i] = c;
    if (i === s.length) return out;
  }
  if (!s.isWellFormed()) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Encoding ${what} failed: the text has a lone surrogate`,
      {
        hint: "pass well-formed Unicode text",
      },
    );
  }
  return utf8.encode(s);
}

/** Strict UTF-8 decoding; `null` when the bytes are not valid UTF-8. */
export function utf8DecodeStrict(b: Uint8Array): string | null {
  // Short ASCII (provider names, key ids) is its own UTF-8: skip the decoder's round trip.
  if (b.length <= 64) {
    let s = "";
    let i = 0;
    for (; i < b.length && b[i] < 0x80; i++) s += String.fromCharCode(b[i]);
    if (i === b.length) return s;
  }
  try {
    return utf8Strict.decode(b);
  } catch {
    return null;
  }
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Appends big-endian integers and byte strings into one buffer that grows by
 * doubling. Given the exact final size, it allocates once and `finish`
 * returns that buffer without a copy.
 */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;
  /** `capacity`: the bytes to allocate at first (the expected final size, if known). */
  constructor(capacity = 64) {
    this.#buf = new Uint8Array(Math.max(1, capacity));
  }
  #room(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < at + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
    }
    this.#len = at + n;
    return at;
  }
  u8(v: number): this {
    const o = this.#room(1);
    this.#buf[o] = v;
    return this;
  }
  u16(v: number): this {
    const o = this.#room(2);
    this.#buf[o] = v >>> 8;
    this.#buf[o + 1] = v;
    return this;
  }
  u32(v: number): this {
    const o = this.#room(4);
    const b = this.#buf;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
    return this;
  }
  bytes(x: Uint8Array): this {
    const o = this.#room(x.length);
    this.#buf.set(x, o);
    return this;
  }
  /** Appends `s`, which the caller checked is ASCII (so its UTF-8 is one byte per character). */
  ascii(s: string): this {
    const o = this.#room(s.length);
    const b = this.#buf;
    for (let i = 0; i < s.length; i++) b[o + i] = s.charCodeAt(i);
    return this;
  }
  /** Leaves `n` zero bytes for the caller to fill in later; returns their offset. */
  skip(n: number): number {
    return this.#room(n);
  }
  /**
   * The bytes written followed by `room` zero bytes (default none), as an
   * array that later writes do not change. When the capacity was exactly
   * that, the buffer itself is returned without a copy.
   */
  finish(room = 0): Uint8Array {
    const n = this.#len + room;
    // A full buffer is handed out as is: any later write must grow, so it moves to a new one.
    if (n === this.#buf.length) {
      this.#len = n;
      return this.#buf;
    }
    const out = new Uint8Array(n);
    out.set(this.#buf.subarray(0, this.#len));
    return out;
  }
}

/** Signals that the input ended before the structure did. */
export class NeedMore extends Error {
  /** The total input length needed before the structure can be read further. */
  constructor(readonly need: number) {
    super("more input is needed");
    this.name = "NeedMore";
  }
}

/** Reads big-endian integers and byte strings; throws {@linkcode NeedMore} at the end of input. */
export class ByteReader {
  offset = 0;
  constructor(readonly buf: Uint8Array) {}
  #need(n: number): void {
    if (this.offset + n > this.buf.length) throw new NeedMore(this.offset + n);
  }
  u8(): number {
    this.#need(1);
    return this.buf[this.offset++];
  }
  u16(): number {
    this.#need(2);
    const v = (this.buf[this.offset] << 8) | this.buf[this.offset + 1];
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const b = this.buf;
    const o = this.offset;
    this.offset += 4;
    return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
  }
  /** Steps over the next `n` bytes; returns their offset. */
  skip(n: number): number {
    this.#need(n);
    const at = this.offset;
    this.offset += n;
    return at;
  }
  /** A view of the next `n` bytes (copy it if it must outlive the buffer). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}
