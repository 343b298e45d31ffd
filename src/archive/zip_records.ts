/**
 * The records a zip writer emits (APPNOTE 6.3.10): local file header, data
 * descriptor, central directory header, end of central directory, and their
 * ZIP64 forms (APPNOTE 4.3.14-4.3.15, 4.5.3) where a size, an offset or the
 * number of entries needs them, decided as Python's zipfile decides; the
 * MS-DOS date and time; the extended-timestamp extra field (0x5455, "UT",
 * Info-ZIP), which carries the modification time in Unix seconds; and
 * CRC-32, native where the runtime has `zlib.crc32`.
 *
 * @module
 */
import * as zlib from "node:zlib";

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
/** Version 2.0: deflate, folders, data descriptors. */
const VERSION = 20;
/** Version 4.5: ZIP64, needed by an entry or an end record that has ZIP64 fields. */
const VERSION_ZIP64 = 45;
/** Made-by "Unix", so readers honour the mode in the high 16 bits of the attributes. */
const UNIX = 3 << 8;
/** The ZIP64 extended-information extra field's id. */
const EXTRA_ZIP64 = 0x0001;
/**
 * Sizes and offsets above this take ZIP64 fields: Python's zipfile's
 * `ZIP64_LIMIT` (2 GiB - 1, for readers that take the 32-bit fields as
 * signed), so that our archives take ZIP64 exactly where its archives do.
 */
export const ZIP64_LIMIT = 2 ** 31 - 1;
/** More entries than this take the ZIP64 end records (zipfile's `ZIP_FILECOUNT_LIMIT`). */
export const ZIP_FILECOUNT_LIMIT = 0xffff;
/** Bit 3: sizes and CRC follow the data in a descriptor. */
export const FLAG_DESCRIPTOR = 0x0008;
/** Bit 11: the name is UTF-8 (set, as Python's zipfile does, when it is not ASCII). */
const FLAG_UTF8 = 0x0800;
/** The extended-timestamp extra field's id. */
export const EXTRA_TIME = 0x5455;
/** 1980-01-01 00:00:00 as MS-DOS date (high 16 bits) and time (low 16 bits). */
const DOS_EPOCH = (((1980 - 1980) << 9 | 1 << 5 | 1) << 16) >>> 0;

// ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) ----

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The table-driven CRC-32, for runtimes without `zlib.crc32` (Node before 20.15). */
export function crc32Js(crc: number, data: Uint8Array): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Continues a CRC-32 (start with `crc32(0, data)`); `node:zlib`'s native one where there is one. */
export function crc32(crc: number, data: Uint8Array): number {
  return native !== undefined ? native(data, crc) : crc32Js(crc, data);
}

/** What the records of one entry say. */
export interface EntryRecord {
  readonly nameBytes: Uint8Array;
  /** 0 stored, 8 deflate. */
  readonly method: 0 | 8;
  /** General-purpose flag bits besides UTF-8 (the deflate level bits, {@linkcode FLAG_DESCRIPTOR}). */
  readonly flag: number;
  crc: number;
  csize: number;
  usize: number;
  /** External attributes (Unix mode in the high 16 bits). */
  readonly attrs: number;
  /** Modification time in Unix seconds, or `undefined` for the fixed 1980-01-01 and no extra field. */
  readonly mtime?: number;
  /** Where the local header starts. */
  offset: number;
  /**
   * The local header and data descriptor take their ZIP64 forms: set before
   * the local header is written, for a file streamed whose size may pass
   * {@linkcode ZIP64_LIMIT} (its size x 1.05 is over it, as zipfile decides).
   */
  readonly zip64?: boolean;
}

/** MS-DOS date (high 16 bits) and time (low 16 bits) of `seconds` in local time, clamped to 1980-2107. */
export function dosDateTime(seconds: number | undefined): number {
  if (seconds === undefined) return DOS_EPOCH;
  const d = new Date(seconds * 1000);
  const year = d.getFullYear();
  if (!(year >= 1980)) return DOS_EPOCH;
  if (year > 2107) return ((127 << 9 | 12 << 5 | 31) << 16 | 23 << 11 | 59 << 5 | 29) >>> 0;
  const date = (year - 1980) << 9 | (d.getMonth() + 1) << 5 | d.getDate();
  const time = d.getHours() << 11 | d.getMinutes() << 5 | d.getSeconds() >> 1;
  return ((date << 16) | time) >>> 0;
}

/** Whether `seconds` fits the extended timestamp's unsigned 32-bit field. */
function timeFits(seconds: number | undefined): seconds is number {
  return seconds !== undefined && Number.isInteger(seconds) && seconds >= 0 && seconds <= 0xffffffff;
}

function put16(b: DataView, o: number, v: number): void {
  b.setUint16(o, v, true);
}
function put32(b: DataView, o: number, v: number): void {
  b.setUint32(o, v >>> 0, true);
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

/** The extended-timestamp field: flags bit 0 (modification time), then the time; the same in both headers. */
function timeExtra(e: EntryRecord): Uint8Array {
  if (!timeFits(e.mtime)) return new Uint8Array(0);
  const out = new Uint8Array(9);
  const v = new DataView(out.buffer);
  put16(v, 0, EXTRA_TIME);
  put16(v, 2, 5);
  out[4] = 1;
  put32(v, 5, e.mtime);
  return out;
}

function flagOf(e: EntryRecord): number {
  return e.flag | (isAscii(e.nameBytes) ? 0 : FLAG_UTF8);
}

function put64(b: DataView, o: number, v: number): void {
  b.setBigUint64(o, BigInt(v), true);
}

/**
 * The local file header; with {@linkcode FLAG_DESCRIPTOR} its CRC and sizes
 * are zero (the descriptor has them). With `zip64`, both sizes read
 * 0xFFFFFFFF and a ZIP64 field after the time field holds them (zero with a
 * descriptor), as zipfile writes it.
 */
export function localHeader(e: EntryRecord): Uint8Array {
  const time = timeExtra(e);
  const extraLength = time.length + (e.zip64 ? 20 : 0);
  const out = new Uint8Array(30 + e.nameBytes.length + extraLength);
  const v = new DataView(out.buffer);
  const later = (e.flag & FLAG_DESCRIPTOR) !== 0;
  const dos = dosDateTime(e.mtime);
  put32(v, 0, SIG_LOCAL);
  put16(v, 4, e.zip64 ? VERSION_ZIP64 : VERSION);
  put16(v, 6, flagOf(e));
  put16(v, 8, e.method);
  put16(v, 10, dos & 0xffff);
  put16(v, 12, dos >>> 16);
  put32(v, 14, later ? 0 : e.crc);
  put32(v, 18, e.zip64 ? 0xffffffff : later ? 0 : e.csize);
  put32(v, 22, e.zip64 ? 0xffffffff : later ? 0 : e.usize);
  put16(v, 26, e.nameBytes.length);
  put16(v, 28, extraLength);
  out.set(e.nameBytes, 30);
  out.set(time, 30 + e.nameBytes.length);
  if (e.zip64) {
    const at = 30 + e.nameBytes.length + time.length;
    put16(v, at, EXTRA_ZIP64);
    put16(v, at + 2, 16);
    put64(v, at + 4, later ? 0 : e.usize);
    put64(v, at + 12, later ? 0 : e.csize);
  }
  return out;
}

/**
 * The data descriptor (with its optional signature, as every mainstream
 * writer puts it); with `zip64`, its sizes are 8 bytes each.
 */
export function dataDescriptor(e: EntryRecord): Uint8Array {
  const out = new Uint8Array(e.zip64 ? 24 : 16);
  const v = new DataView(out.buffer);
  put32(v, 0, SIG_DESCRIPTOR);
  put32(v, 4, e.crc);
  if (e.zip64) {
    put64(v, 8, e.csize);
    put64(v, 16, e.usize);
  } else {
    put32(v, 8, e.csize);
    put32(v, 12, e.usize);
  }
  return out;
}

/**
 * The central directory header of an entry. Sizes (both, when either is)
 * and the offset over {@linkcode ZIP64_LIMIT} read 0xFFFFFFFF, and a ZIP64
 * field before the time field holds them in that order, as zipfile writes it.
 */
export function centralHeader(e: EntryRecord): Uint8Array {
  const time = timeExtra(e);
  const bigSizes = e.usize > ZIP64_LIMIT || e.csize > ZIP64_LIMIT;
  const bigOffset = e.offset > ZIP64_LIMIT;
  const wide = (bigSizes ? 2 : 0) + (bigOffset ? 1 : 0);
  const zip64Length = wide > 0 ? 4 + 8 * wide : 0;
  const out = new Uint8Array(46 + e.nameBytes.length + zip64Length + time.length);
  const v = new DataView(out.buffer);
  const dos = dosDateTime(e.mtime);
  const version = wide > 0 || e.zip64 ? VERSION_ZIP64 : VERSION;
  put32(v, 0, SIG_CENTRAL);
  put16(v, 4, UNIX | version);
  put16(v, 6, version);
  put16(v, 8, flagOf(e));
  put16(v, 10, e.method);
  put16(v, 12, dos & 0xffff);
  put16(v, 14, dos >>> 16);
  put32(v, 16, e.crc);
  put32(v, 20, bigSizes ? 0xffffffff : e.csize);
  put32(v, 24, bigSizes ? 0xffffffff : e.usize);
  put16(v, 28, e.nameBytes.length);
  put16(v, 30, zip64Length + time.length);
  // comment length, disk number start, internal attributes: zero
  put32(v, 38, e.attrs);
  put32(v, 42, bigOffset ? 0xffffffff : e.offset);
  out.set(e.nameBytes, 46);
  let at = 46 + e.nameBytes.length;
  if (wide > 0) {
    put16(v, at, EXTRA_ZIP64);
    put16(v, at + 2, 8 * wide);
    at += 4;
    if (bigSizes) {
      put64(v, at, e.usize);
      put64(v, at + 8, e.csize);
      at += 16;
    }
    if (bigOffset) put64(v, at, e.offset), at += 8;
  }
  out.set(time, at);
  return out;
}

/** The size of the blocks a {@linkcode CentralDirectory} writes its headers into. */
const CENTRAL_BLOCK = 64 * 1024;

/**
 * The central directory of an archive being written, as bytes: each entry's
 * header is written as soon as its record is final, into 64 KiB blocks.
 *
 * Why not keep the records and write the headers at the end: a record is an
 * object with a typed array of its own (the name), 347 bytes of heap each
 * (tests/archive_directory_test.ts), so 60,000 files kept some 20 MB alive
 * until the archive ended; the header itself is 46 bytes plus the name and 9
 * bytes of time, 82 bytes a record as kept here.
 */
export class CentralDirectory {
  /** Blocks already filled, each cut to what it holds. */
  #full: Uint8Array[] = [];
  #block = new Uint8Array(0);
  #used = 0;
  #count = 0;
  #size = 0;

  /** Appends the header of `e`, whose CRC, sizes and offset are final. */
  add(e: EntryRecord): void {
    const header = centralHeader(e);
    if (this.#used + header.length > this.#block.length) {
      if (this.#used > 0) this.#full.push(this.#block.subarray(0, this.#used));
      this.#block = new Uint8Array(Math.max(CENTRAL_BLOCK, header.length));
      this.#used = 0;
    }
    this.#block.set(header, this.#used);
    this.#used += header.length;
    this.#count++;
    this.#size += header.length;
  }

  /** The number of headers added. */
  get count(): number {
    return this.#count;
  }

  /** The directory's length in bytes. */
  get size(): number {
    return this.#size;
  }

  /** The bytes added, in order (views of the blocks); the end record goes after them. */
  parts(): Uint8Array[] {
    return this.#used > 0 ? [...this.#full, this.#block.subarray(0, this.#used)] : [...this.#full];
  }
}

/**
 * The records after the central directory: the end of central directory,
 * preceded by the ZIP64 end record and its locator when there are more than
 * {@linkcode ZIP_FILECOUNT_LIMIT} entries or the directory's size or offset
 * is over {@linkcode ZIP64_LIMIT}; the plain record's fields then saturate.
 */
export function endRecord(count: number, cdSize: number, cdOffset: number): Uint8Array {
  const zip64 = count > ZIP_FILECOUNT_LIMIT || cdSize > ZIP64_LIMIT || cdOffset > ZIP64_LIMIT;
  const out = new Uint8Array(zip64 ? 56 + 20 + 22 : 22);
  const v = new DataView(out.buffer);
  let at = 0;
  if (zip64) {
    put32(v, 0, SIG_END64);
    put64(v, 4, 44); // the size of the rest of this record
    put16(v, 12, VERSION_ZIP64);
    put16(v, 14, VERSION_ZIP64);
    // this disk, the directory's disk: zero
    put64(v, 24, count);
    put64(v, 32, count);
    put64(v, 40, cdSize);
    put64(v, 48, cdOffset);
    put32(v, 56, SIG_LOCATOR64);
    // the ZIP64 end record's disk: zero
    put64(v, 64, cdOffset + cdSize);
    put32(v, 72, 1); // disks in all
    at = 76;
  }
  put32(v, at, SIG_END);
  put16(v, at + 8, Math.min(count, 0xffff));
  put16(v, at + 10, Math.min(count, 0xffff));
  put32(v, at + 12, Math.min(cdSize, 0xffffffff));
  put32(v, at + 16, Math.min(cdOffset, 0xffffffff));
  return out;
}

/**
 * The modification time an extended-timestamp field in `extra` (a central
 * or local extra block) carries, or `undefined` when there is none.
 */
export function extraMtime(extra: Uint8Array): number | undefined {
  for (let x = 0; x + 4 <= extra.length;) {
    const id = extra[x] | (extra[x + 1] << 8);
    const len = extra[x + 2] | (extra[x + 3] << 8);
    if (x + 4 + len > extra.length) return undefined;
    if (id === EXTRA_TIME && len >= 5 && (extra[x + 4] & 1) !== 0) {
      return new DataView(extra.buffer, extra.byteOffset + x + 5, 4).getUint32(0, true);
    }
    x += 4 + len;
  }
  return undefined;
}
