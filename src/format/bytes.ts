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

/** Appends big-endian integers and byte strings. */
export class ByteWriter {
  #parts: Uint8Array[] = [];
  u8(v: number): this {
    this.#parts.push(new Uint8Array([v]));
    return this;
  }
  u16(v: number): this {
    this.#parts.push(new Uint8Array([v >>> 8, v & 0xff]));
    return this;
  }
  u32(v: number): this {
    this.#parts.push(
      new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]),
    );
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }
  finish(): Uint8Array {
    return concat(this.#parts);
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
  /** A view of the next `n` bytes (copy it if it must outlive the buffer). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}
