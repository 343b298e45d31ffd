/**
 * The data of one zip entry: read in 64 KiB pieces and deflated natively by
 * `node:zlib`, or stored when its first piece does not compress; fed to
 * fflate's `Zip` container writer as a `ZipInputFile`.
 *
 * @module
 */
import type { FileHandle } from "node:fs/promises";
import { createDeflateRaw, type DeflateRaw, deflateRawSync } from "node:zlib";
import type { FlateError, ZipInputFile } from "fflate";
import { EnvelopeError } from "../errors.ts";
import { crc32 } from "./unzip.ts";

export const PIECE = 64 * 1024;
/** The DOS epoch; fflate reads its local-time fields, so every time zone writes 0x0021/0x0000. */
export const DOS_EPOCH = new Date(1980, 0, 1, 0, 0, 0);
/** Made-by "Unix", so readers honour the mode in the high 16 bits of the attributes. */
export const OS_UNIX = 3;

export type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** Bits 1-2 of the general-purpose flag for a deflate level (APPNOTE 4.4.4), as fflate's `ZipDeflate` sets them. */
export function levelFlag(level: Level): number {
  return level === 1 ? 3 : level < 6 ? 2 : level === 9 ? 1 : 0;
}

/**
 * Whether to store a file rather than deflate it: only from level 1 (level 0
 * asks for deflate's stored blocks and gets them, as Python's zipfile does),
 * only for files of at least one full piece (smaller files are deflated like
 * Python's), and only when deflating that first piece does not shrink it.
 * The check costs one extra deflate of 64 KiB per such file; for random or
 * already compressed data it saves deflate's whole pass, the slowest step of
 * zipping. zlib gives the same bytes for the same piece and level, so the
 * choice is as deterministic as the deflated data.
 */
export function shouldStore(first: Uint8Array, level: Level): boolean {
  return level > 0 && first.length === PIECE && deflateRawSync(first, { level }).length >= first.length;
}

/**
 * The data of one file entry for fflate's `Zip`: deflated by native zlib
 * (method 8) or stored as is (method 0). `Zip` sets `ondata` when the entry
 * is added and counts the compressed size itself; this keeps the CRC-32 and
 * size that it writes in the data descriptor and central directory.
 * {@linkcode push} resolves only once the piece has been taken (by zlib, or
 * copied), so the caller may reuse its buffer and reads no further ahead than
 * the consumer pulls.
 */
export class ZipFileData implements ZipInputFile {
  readonly filename: string;
  size = 0;
  crc = 0;
  readonly compression: 0 | 8;
  readonly flag: number;
  readonly mtime = DOS_EPOCH;
  readonly os = OS_UNIX;
  readonly attrs: number;
  ondata: (err: FlateError | null, data: Uint8Array, final: boolean) => void = () => {};
  #zlib: DeflateRaw | undefined;
  #failure: Error | undefined;
  #onFailure: ((err: Error) => void) | undefined;

  constructor(filename: string, attrs: number, level: Level, store: boolean) {
    this.filename = filename;
    this.attrs = attrs;
    this.compression = store ? 0 : 8;
    this.flag = store ? 0 : levelFlag(level);
    if (store) return;
    // A fixed output size keeps the chunks the same run to run (the deflate stream does not depend on it).
    const zlib = createDeflateRaw({ level, chunkSize: PIECE });
    zlib.on("data", (chunk: Uint8Array) => {
      this.ondata(null, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), false);
    });
    zlib.on("error", (err: Error) => {
      this.#failure ??= err;
      this.#onFailure?.(err);
    });
    this.#zlib = zlib;
  }

  /** Adds one piece; with `last`, also flushes zlib and ends the entry. */
  push(piece: Uint8Array, last: boolean): Promise<void> {
    this.crc = crc32(this.crc, piece);
    this.size += piece.length;
    const zlib = this.#zlib;
    if (!zlib) {
      // Zip queues what it is given until it is read, and the caller reuses its buffer: copy.
      this.ondata(null, piece.slice(), last);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#onFailure = reject;
      if (last) {
        // "end" comes after the last "data", so the entry is complete when it resolves.
        zlib.once("end", () => {
          this.ondata(null, new Uint8Array(0), true);
          resolve();
        });
        zlib.end(piece);
      } else {
        zlib.write(piece, (err) => (err ? reject(err) : resolve()));
      }
    });
  }

  /** Stops zlib; called by `Zip.terminate` and when the stream fails or is cancelled. */
  terminate(): void {
    this.#zlib?.destroy();
  }
}

export function checkLevel(level: number | undefined): Level {
  if (level === undefined) return 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Creating the zip archive failed: level ${level} is not an integer from 0 to 9`,
    );
  }
  return level as Level;
}

/** Reads until `buf` is full or the file ends. */
export async function readFull(fh: FileHandle, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
