/**
 * Reading a zip archive's central directory: positioned reads over the file,
 * the little-endian fields, the end-of-directory and ZIP64 records, and every
 * entry's central header, checked (names safe and UTF-8, no links or special
 * files, no encryption, only stored and deflate, sizes and offsets in range)
 * before anything is extracted.
 *
 * @module
 */
import type { FileHandle } from "node:fs/promises";
import { invalid, ioError, tooLarge, unsafe } from "./unzip_errors.ts";
import { decodeName, safeSegments } from "./zip_paths.ts";
import { extraMtime } from "./zip_records.ts";

/**
 * What extraction does with a symbolic-link entry: `"refuse"` fails with
 * `UNSAFE_PATH` before anything is written; `"skip"` leaves it out;
 * `"create"` makes the link, when its target is relative and stays inside
 * the output folder (others fail with `UNSAFE_PATH`).
 */
export type ExtractLinkPolicy = "refuse" | "skip" | "create";

/** The signature of a local file header. */
export const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** The longest link target accepted (Linux's PATH_MAX). */
const LINK_MAX = 4096;

/**
 * One entry of the central directory, checked. Its name's bytes are not kept:
 * names are strict UTF-8, so `name` encodes back to exactly them, and a
 * typed array per entry, kept for the whole extraction, cost about 220 bytes
 * of heap each (tests/archive_directory_test.ts: 384 with it, 164 without).
 */
export interface Entry {
  name: string;
  dir: boolean;
  /** A symbolic link: its data is the target. */
  link: boolean;
  exec: boolean;
  /** Modification time (Unix seconds) from an extended-timestamp field, if any. */
  mtime?: number;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  /** Where its data starts: 0 until extraction has read its local header (a field here, not an object per job). */
  dataStart: number;
}

// ---- little-endian fields ----

/** The little-endian 16-bit field at `o`. */
export const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
/** The little-endian 32-bit field at `o`. */
export const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
function u64(b: Uint8Array, o: number): number {
  const v = u32(b, o) + u32(b, o + 4) * 0x100000000;
  if (!Number.isSafeInteger(v)) throw invalid("a ZIP64 field is too large");
  return v;
}

/**
 * The default bound on the number of entries extracted; the zip writer
 * (zip.ts `MAX_ENTRIES`) writes no more, so what it writes can be read back.
 */
export const DEFAULT_MAX_ENTRIES = 100_000;

/** Bytes read into the window at a time. */
const WINDOW = 1 << 20;

/**
 * Positioned reads over a file, with a 1 MiB window for the small reads of
 * headers and small entries.
 *
 * The window is one buffer, read into again on every miss, so a view that
 * {@linkcode Reader.at} returns holds only until the next call of `at`:
 * callers take what they need from it (or copy it) first, and make their
 * calls one at a time (a second read while one is in flight throws). A
 * fresh buffer per miss, as before, left a dead MiB behind per MiB read, for
 * V8 to collect when it saw fit, and extraction reads the archive twice (the
 * local headers, then the data): `decrypt -d` of 10,000 files (a 117 MB zip)
 * peaked at 136-141 MiB with it, 110-113 MiB with one buffer (by hand,
 * interleaved runs, 2026-12-07).
 */
export class Reader {
  #buf: Uint8Array = new Uint8Array(0);
  #win: Uint8Array = this.#buf;
  #winPos = 0;
  #reading = false;
  constructor(readonly fh: FileHandle, readonly size: number) {}

  /** `len` bytes at `pos`: a view of the window, valid until the next call. */
  async at(pos: number, len: number): Promise<Uint8Array> {
    if (pos < 0 || len < 0 || pos + len > this.size) throw invalid("it is truncated or a header points past its end");
    const w = this.#winPos;
    if (pos >= w && pos + len <= w + this.#win.length) return this.#win.subarray(pos - w, pos - w + len);
    if (this.#reading) throw new Error("the zip reader's window is being read into: calls of at() must not overlap");
    const n = Math.min(Math.max(len, WINDOW), this.size - pos);
    if (this.#buf.length < n) this.#buf = new Uint8Array(n);
    // Until the read completes, the window holds nothing: a failed read leaves no half-overwritten bytes in it.
    this.#win = this.#buf.subarray(0, 0);
    this.#reading = true;
    try {
      this.#win = await this.raw(pos, n, this.#buf);
    } finally {
      this.#reading = false;
    }
    this.#winPos = pos;
    return this.#win.subarray(0, len);
  }

  /** Exactly `len` bytes at `pos`, in `into` when given (it must hold them), else in a fresh buffer. */
  async raw(pos: number, len: number, into?: Uint8Array): Promise<Uint8Array> {
    const buf = into ? into.subarray(0, len) : new Uint8Array(len);
    let got = 0;
    while (got < len) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.fh.read(buf, got, len - got, pos + got));
      } catch (err) {
        throw ioError("Reading the zip archive", err);
      }
      if (n === 0) throw invalid("it is truncated");
      got += n;
    }
    return buf;
  }
}

// ---- central directory ----

/** The checked central directory. */
export interface Directory {
  entries: Entry[];
  /** Where the central directory starts: every entry's data must end before it. */
  cdOffset: number;
}

/** Reads and checks the central directory (at most `maxEntries` entries). */
export async function readDirectory(
  r: Reader,
  maxEntries: number,
  links: ExtractLinkPolicy = "refuse",
): Promise<Directory> {
  if (r.size < 22) throw invalid("it is too short to be a zip archive");
  const tailLen = Math.min(r.size, 22 + 0xffff);
  const tailPos = r.size - tailLen;
  const tail = await r.at(tailPos, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (u32(tail, i) === SIG_END && i + 22 + u16(tail, i + 20) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw invalid("its end-of-directory record is missing (truncated or not a zip)");
  const eocdPos = tailPos + eocd;
  let disk = u16(tail, eocd + 4);
  let cdDisk = u16(tail, eocd + 6);
  let onDisk = u16(tail, eocd + 8);
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  let cdLimit = eocdPos;
  // Saturated fields mean ZIP64, but an archive of exactly 65,535 entries has none: like
  // Python's zipfile, use the ZIP64 record only when its locator is there.
  const saturated = count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  const loc = saturated && eocdPos >= 20 ? await r.at(eocdPos - 20, 20) : undefined;
  if (loc && u32(loc, 0) === SIG_LOCATOR64) {
    const recPos = u64(loc, 8);
    if (recPos + 56 > eocdPos - 20) throw invalid("its ZIP64 end record is out of place");
    const rec = await r.at(recPos, 56);
    if (u32(rec, 0) !== SIG_END64) throw invalid("its ZIP64 end record is missing");
    disk = u32(rec, 16);
    cdDisk = u32(rec, 20);
    onDisk = u64(rec, 24);
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
    cdLimit = recPos;
  }
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw invalid("multi-disk archives are not supported");
  if (count > maxEntries) throw tooLarge(`it has ${count} entries, over the limit of ${maxEntries}`);
  if (cdOffset + cdSize > cdLimit) throw invalid("its central directory points past its end");

  // Every view of the reader's window below is done with before the next read (see Reader).
  const entries: Entry[] = [];
  let pos = cdOffset;
  const end = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > end) throw invalid("its central directory is shorter than its entry count");
    const h = await r.at(pos, 46);
    if (u32(h, 0) !== SIG_CENTRAL) throw invalid("a central directory header has a bad signature");
    const madeBy = u16(h, 4);
    const flags = u16(h, 8);
    const method = u16(h, 10);
    const crc = u32(h, 16);
    let csize = u32(h, 20);
    let usize = u32(h, 24);
    const nameLen = u16(h, 28);
    const extraLen = u16(h, 30);
    const commentLen = u16(h, 32);
    let startDisk = u16(h, 34);
    const attrs = u32(h, 38);
    let offset = u32(h, 42);
    if (pos + 46 + nameLen + extraLen + commentLen > end) throw invalid("a central directory header runs past its end");
    const name = decodeName(await r.at(pos + 46, nameLen));
    const extra = await r.at(pos + 46 + nameLen, extraLen);
    // ZIP64 extended information: only the fields whose 32-bit value is saturated, in this order.
    if (usize === 0xffffffff || csize === 0xffffffff || offset === 0xffffffff || startDisk === 0xffff) {
      let found = false;
      for (let x = 0; x + 4 <= extra.length;) {
        const id = u16(extra, x);
        const len = u16(extra, x + 2);
        if (x + 4 + len > extra.length) break;
        if (id === 0x0001) {
          let f = x + 4;
          const take = () => {
            if (f + 8 > x + 4 + len) throw invalid("a ZIP64 extra field is too short");
            const v = u64(extra, f);
            f += 8;
            return v;
          };
          if (usize === 0xffffffff) usize = take();
          if (csize === 0xffffffff) csize = take();
          if (offset === 0xffffffff) offset = take();
          if (startDisk === 0xffff) {
            if (f + 4 > x + 4 + len) throw invalid("a ZIP64 extra field is too short");
            startDisk = u32(extra, f);
          }
          found = true;
          break;
        }
        x += 4 + len;
      }
      if (!found) throw invalid("an entry needs a ZIP64 extra field that is missing");
    }
    if (startDisk !== 0) throw invalid("multi-disk archives are not supported");
    if (flags & 1) throw invalid(`entry ${JSON.stringify(name)} is encrypted, which is not supported`);
    safeSegments(name);
    const type = (attrs >>> 16) & S_IFMT;
    if (type === S_IFLNK && (links === "refuse" || name.endsWith("/"))) {
      throw unsafe(
        name,
        "it is a symbolic link, and links are not extracted unless asked for",
        "if you trust the archive, ask for its links to be created (inside the folder only) or skipped (the CLI: --symlinks create or skip); nothing was extracted",
      );
    }
    if (type === S_IFLNK && usize > LINK_MAX) throw unsafe(name, `it is a link with a target over ${LINK_MAX} bytes`);
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR && type !== S_IFLNK) {
      throw unsafe(name, "it is a special file, not a file or folder");
    }
    const host = madeBy >> 8;
    const link = type === S_IFLNK;
    const dir = !link && (name.endsWith("/") || type === S_IFDIR);
    if (!dir && method !== 0 && method !== 8) {
      throw invalid(
        `entry ${JSON.stringify(name)} uses compression method ${method}; only stored and deflate are supported`,
      );
    }
    if (!dir && method === 0 && csize !== usize) {
      throw invalid(`stored entry ${JSON.stringify(name)} has different packed and unpacked sizes`);
    }
    entries.push({
      name,
      dir,
      link,
      mtime: extraMtime(extra),
      exec: host === 3 && ((attrs >>> 16) & 0o100) !== 0,
      method,
      crc,
      csize,
      usize,
      offset,
      dataStart: 0,
    });
    pos += 46 + nameLen + extraLen + commentLen;
  }
  if (pos !== end) throw invalid("its central directory size does not match its entries");
  return { entries, cdOffset };
}
