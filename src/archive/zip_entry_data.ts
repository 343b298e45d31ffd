/**
 * Preparing one zip entry's data: a file of up to {@linkcode WHOLE} bytes
 * is read and deflated in one call, and stored instead when deflate does not
 * make it smaller; a larger file is read and deflated in pieces of
 * {@linkcode PIECE} bytes, each deflated on its own and ended with a sync
 * flush (so the pieces join into one deflate stream, as pigz's do), and
 * stored instead when its first piece does not shrink. Deflate is native
 * zlib (`node:zlib`), called through a {@linkcode Deflate} so that it can
 * run off the main thread.
 *
 * @module
 */
import { type FileHandle, open } from "node:fs/promises";
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from "node:fs";
import { constants as zlibConstants, deflateRawSync } from "node:zlib";
import { EnvelopeError } from "../errors.ts";
import { crc32, type EntryRecord, FLAG_DESCRIPTOR, ZIP64_LIMIT } from "./zip_records.ts";
import { ioError } from "./zip_walk.ts";

/** Files up to this size are read, checked and deflated whole. */
export const WHOLE = 1024 * 1024;
/** Larger files are read and deflated in pieces of this size. */
export const PIECE = 1024 * 1024;
/** The most a plain (32-bit) data descriptor can say; a file that grows past it after a plain header fails. */
const ZIP32_LIMIT = 0xffffffff;

export type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * Raw deflate of `data` at `level`: with `final`, the stream's last block;
 * without, blocks ended by a sync flush, so that the next piece's output
 * can follow them. It must keep nothing of `data` once its promise settles
 * (copy it to hand it on, never transfer it): a large file's pieces are read
 * into one buffer, again and again.
 */
export type Deflate = (data: Uint8Array, level: Level, final: boolean) => Promise<Uint8Array>;

/**
 * Reads a file of up to {@linkcode WHOLE} bytes and deflates it, off the
 * main thread (a zip worker calls it; zip_workers.ts): the same choices, and
 * so the same bytes, as {@linkcode prepareFile} on a small file. A larger
 * file, or one that grew while it was read, is left for `prepareFile` to
 * read in pieces.
 */
export type ReadWhole = (path: string, level: Level) => Promise<WholeRead>;

/** What {@linkcode readWholeSync} found. */
export type WholeRead =
  /** The entry's data (`out`: deflated when `method` is 8, else the file), its CRC and size. */
  | {
    readonly kind: "whole";
    readonly crc: number;
    readonly method: 0 | 8;
    readonly out: Uint8Array;
    readonly usize: number;
  }
  /** More than WHOLE bytes, or grown while read: to be read in pieces. */
  | { readonly kind: "large" }
  /** Not a regular file when opened (swapped since the listing). */
  | { readonly kind: "not-file" }
  /** The open (`stage` "open") or a stat or read failed, with the error's code and message. */
  | { readonly kind: "failed"; readonly stage: "open" | "read"; readonly code?: string; readonly message: string };

/**
 * No following: a file swapped for a link after the listing is not read through it. Non-blocking: one swapped for
 * a FIFO does not hang the open waiting for a writer (it is refused after the open's stat); reads of a regular file
 * are not affected by the flag.
 */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

function readFailed(stage: "open" | "read", err: unknown): WholeRead {
  const e = err as { code?: unknown; message?: unknown };
  return {
    kind: "failed",
    stage,
    code: typeof e?.code === "string" ? e.code : undefined,
    message: typeof e?.message === "string" ? e.message : String(err),
  };
}

/**
 * The blocking body of a {@linkcode ReadWhole}, for a worker thread: one
 * open (same flags as {@linkcode prepareFile}), one fstat, reads into a
 * buffer of the file's size plus one byte (`scratch` when it is large
 * enough: a worker reuses one for every file, so its reads leave no garbage),
 * the CRC, then deflate or store.
 */
export function readWholeSync(path: string, level: Level, scratch?: Uint8Array): WholeRead {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return readFailed("open", err);
  }
  let data: Uint8Array;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: "not-file" };
    if (st.size > WHOLE) return { kind: "large" };
    // One byte more than expected tells a file that grew since it was listed.
    const buf = scratch !== undefined && scratch.length > st.size
      ? scratch.subarray(0, st.size + 1)
      : new Uint8Array(st.size + 1);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got > st.size) return { kind: "large" };
    data = buf.subarray(0, got);
  } catch (err) {
    return readFailed("read", err);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // a close of a file only read cannot lose data
    }
  }
  const crc = crc32(0, data);
  if (tryDeflate(data, level)) {
    const z = deflateSync(data, level, true);
    if (keepDeflated(z, data, level)) return { kind: "whole", crc, method: 8, out: z, usize: data.length };
  }
  // Stored: the bytes leave the scratch buffer, which the next file reuses.
  return {
    kind: "whole",
    crc,
    method: 0,
    out: data.buffer === scratch?.buffer ? data.slice() : data,
    usize: data.length,
  };
}

/** Whether a file read whole is worth deflating: not when it looks incompressible; always at level 0. */
function tryDeflate(data: Uint8Array, level: Level): boolean {
  return (data.length > 0 && !looksIncompressible(data)) || level === 0;
}

/** Whether a file read whole keeps its deflated bytes: when smaller; always at level 0 (stored blocks). */
function keepDeflated(z: Uint8Array, data: Uint8Array, level: Level): boolean {
  return z.length < data.length || level === 0;
}

/** Native zlib's raw deflate of `data` on this thread, as {@linkcode Deflate} describes it. */
export function deflateSync(data: Uint8Array, level: Level, final: boolean): Uint8Array {
  return deflateRawSync(data, { level, finishFlush: final ? zlibConstants.Z_FINISH : zlibConstants.Z_SYNC_FLUSH });
}

/** {@linkcode Deflate} on this thread, with native zlib. */
export const deflateHere: Deflate = (data, level, final) => Promise.resolve(deflateSync(data, level, final));

/** Bits 1-2 of the general-purpose flag for a deflate level (APPNOTE 4.4.4). */
export function levelFlag(level: Level): number {
  return (level === 1 ? 3 : level < 6 ? 2 : level === 9 ? 1 : 0) << 1;
}

export const ATTR_FILE = 0o100644 * 0x10000;
export const ATTR_EXEC = 0o100755 * 0x10000;
/** Unix directory mode plus the MS-DOS directory bit, as Python's zipfile writes. */
export const ATTR_DIR = 0o040755 * 0x10000 + 0x10;
export const ATTR_LINK = 0o120777 * 0x10000;

/** Bytes looked at to tell data that cannot compress. */
const SAMPLE = 64 * 1024;
/** Below this many bytes, deflate is simply tried. */
const MIN_SAMPLE = 1024;

/**
 * Whether `data` looks like it cannot compress: the order-0 entropy of its
 * first 64 KiB is within the small-sample bias (about 184/n bits for n bytes
 * of random data) of 8 bits a byte, as random, encrypted and already
 * compressed data are; text and most binaries are far below. Deflate is then
 * not even tried, which saves its slowest case (zlib runs about 5x slower on
 * random bytes than on text). Data that is random byte by byte but repeats
 * (the same block twice) is stored though deflate could shrink it: larger,
 * never wrong.
 */
export function looksIncompressible(data: Uint8Array): boolean {
  const n = Math.min(data.length, SAMPLE);
  if (n < MIN_SAMPLE) return false;
  const counts = new Uint32Array(256);
  for (let i = 0; i < n; i++) counts[data[i]]++;
  let h = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b];
    if (c > 0) h -= c * Math.log2(c / n);
  }
  return h / n > 7.9 - 184 / n;
}

/** An entry ready to write: its record, and its data whole or as pieces still to make. */
export interface Prepared {
  readonly record: EntryRecord;
  /** The whole data after the local header (the record is complete). */
  readonly data?: Uint8Array;
  /**
   * The data in pieces, made as they are asked for; the record's CRC and
   * sizes are complete once it ends, and a data descriptor follows.
   */
  readonly pieces?: AsyncGenerator<Uint8Array>;
  /** Closes the file (a no-op once the pieces ended). */
  close(): Promise<void>;
}

const utf8 = new TextEncoder();

/** A stored entry whose data is known: a folder, a link's target, an empty file. */
export function preparedBytes(name: string, data: Uint8Array, attrs: number, mtime: number | undefined): Prepared {
  const record: EntryRecord = {
    nameBytes: utf8.encode(name),
    method: 0,
    flag: 0,
    crc: crc32(0, data),
    csize: data.length,
    usize: data.length,
    attrs,
    mtime,
    offset: 0,
  };
  return { record, data, close: () => Promise.resolve() };
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

function notRegular(path: string): EnvelopeError {
  return new EnvelopeError(
    "IO_FAILED",
    `Reading ${path} failed: it stopped being a regular file after the folder was listed`,
    { hint: "the folder changed while it was encrypted; run again when nothing else is writing to it" },
  );
}

function grewPastLimit(name: string): EnvelopeError {
  return new EnvelopeError(
    "LIMIT_EXCEEDED",
    `Creating the zip archive failed: ${name} grew past 4 GiB while it was read, after its header said it would not`,
    { hint: "the folder changed while it was encrypted; run again when nothing else is writing to it" },
  );
}

/**
 * Opens and starts a file entry: a small file is read and deflated (or
 * stored) whole; a large one gets its first piece read and the choice made,
 * and the rest is read as the pieces are asked for.
 *
 * At level 0 every file is deflated with stored blocks (method 8), as
 * Python's zipfile does at that level.
 */
export async function prepareFile(
  name: string,
  path: string,
  attrs: number,
  mtime: number | undefined,
  level: Level,
  deflate: Deflate,
  readWhole?: ReadWhole,
): Promise<Prepared> {
  if (readWhole !== undefined) {
    const r = await readWhole(path, level);
    if (r.kind === "whole") return wholeEntry(name, r.crc, r.method, r.out, r.usize, attrs, mtime, level);
    if (r.kind === "not-file") throw notRegular(path);
    if (r.kind === "failed") {
      const cause = Object.assign(new Error(r.message), r.code === undefined ? {} : { code: r.code });
      throw ioError(r.stage === "open" ? `Reading ${path}` : `Reading ${name}`, cause);
    }
    // "large": read here, in pieces
  }
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (err) {
    throw ioError(`Reading ${path}`, err);
  }
  let first: Uint8Array;
  let n: number;
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(path);
    size = st.size;
    // One byte more than expected tells a file that grew since it was listed.
    first = new Uint8Array(size <= WHOLE ? size + 1 : PIECE);
    n = await readFull(fh, first);
    if (size <= WHOLE && n <= size) {
      await fh.close();
      return await whole(name, first.subarray(0, n), attrs, mtime, level, deflate);
    }
  } catch (err) {
    await fh.close().catch(() => {});
    throw ioError(`Reading ${name}`, err);
  }
  // A grown file filled its buffer too, so only a short read ends the file.
  // Python's zipfile takes ZIP64 for a file whose size x 1.05 is over its limit (deflate may grow it a little).
  const zip64 = size * 1.05 > ZIP64_LIMIT;
  return await streamed(name, fh, first.subarray(0, n), n < first.length, attrs, mtime, level, deflate, zip64);
}

async function whole(
  name: string,
  data: Uint8Array,
  attrs: number,
  mtime: number | undefined,
  level: Level,
  deflate: Deflate,
): Promise<Prepared> {
  const crc = crc32(0, data);
  if (tryDeflate(data, level)) {
    const z = await deflate(data, level, true);
    if (keepDeflated(z, data, level)) return wholeEntry(name, crc, 8, z, data.length, attrs, mtime, level);
  }
  return wholeEntry(name, crc, 0, data, data.length, attrs, mtime, level);
}

/** An entry whose data is complete: a local header with the CRC and sizes, then `out`. */
function wholeEntry(
  name: string,
  crc: number,
  method: 0 | 8,
  out: Uint8Array,
  usize: number,
  attrs: number,
  mtime: number | undefined,
  level: Level,
): Prepared {
  const record: EntryRecord = {
    nameBytes: utf8.encode(name),
    method,
    flag: method === 8 ? levelFlag(level) : 0,
    crc,
    csize: out.length,
    usize,
    attrs,
    mtime,
    offset: 0,
  };
  return { record, data: out, close: () => Promise.resolve() };
}

async function streamed(
  name: string,
  fh: FileHandle,
  first: Uint8Array,
  firstLast: boolean,
  attrs: number,
  mtime: number | undefined,
  level: Level,
  deflate: Deflate,
  zip64: boolean,
): Promise<Prepared> {
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => {});
  };
  let firstOut: Uint8Array;
  let store: boolean;
  try {
    store = level > 0 && looksIncompressible(first);
    firstOut = store ? first : await deflate(first, level, firstLast);
    store ||= level > 0 && firstOut.length >= first.length;
  } catch (err) {
    await close();
    throw compressError(name, err);
  }
  const record: EntryRecord = {
    nameBytes: utf8.encode(name),
    method: store ? 0 : 8,
    flag: FLAG_DESCRIPTOR | (store ? 0 : levelFlag(level)),
    crc: 0,
    csize: 0,
    usize: 0,
    attrs,
    mtime,
    offset: 0,
    zip64,
  };
  const take = (raw: Uint8Array, out: Uint8Array) => {
    record.crc = crc32(record.crc, raw);
    record.usize += raw.length;
    record.csize += out.length;
    // Only a file that grew after it was measured gets here: its 32-bit data descriptor could not hold the sizes.
    if (!zip64 && (record.usize > ZIP32_LIMIT || record.csize > ZIP32_LIMIT)) throw grewPastLimit(name);
    return out;
  };
  async function* pieces(): AsyncGenerator<Uint8Array> {
    try {
      yield take(first, store ? first : firstOut);
      let last = firstLast;
      // Deflated pieces are read into one buffer: `deflate` keeps nothing of its input (a worker gets a copy), and
      // a fresh MiB per piece was garbage that outran V8's collections on a large file that compresses well (a
      // 3.9 GB file of zeros peaked at 162 MiB). Stored pieces go on as they are, so each needs its own.
      let reused: Uint8Array | undefined;
      while (!last) {
        const buf = store ? new Uint8Array(PIECE) : reused ??= new Uint8Array(PIECE);
        let n: number;
        try {
          n = await readFull(fh, buf);
        } catch (err) {
          throw ioError(`Reading ${name}`, err);
        }
        last = n < PIECE;
        const raw = buf.subarray(0, n);
        if (store) {
          if (n > 0) yield take(raw, raw);
          continue;
        }
        let out: Uint8Array;
        try {
          out = await deflate(raw, level, last);
        } catch (err) {
          throw compressError(name, err);
        }
        yield take(raw, out);
      }
    } finally {
      await close();
    }
  }
  return { record, pieces: pieces(), close };
}

function compressError(name: string, err: unknown): EnvelopeError {
  if (err instanceof EnvelopeError) return err;
  return new EnvelopeError("IO_FAILED", `Creating the zip archive failed: compressing ${name} failed`, {
    hint: "try again; if it persists, report it with the file",
    cause: err,
  });
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
