/**
 * Safe extraction of zip archives into a folder.
 *
 * The archive is read through its central directory (the listing every
 * mainstream reader trusts), so a stream is first spooled to a temporary
 * file on disk beside the output; nothing holds the archive or an entry in
 * memory. Every entry is inflated in small pieces with `node:zlib`'s raw
 * inflate stream (native, with a fixed 32 KiB window), and its CRC-32 and
 * length are checked by this module (a raw deflate stream carries neither).
 *
 * Safety rules, all enforced before or while writing:
 * - Entry names must be relative UTF-8 paths with `/` separators: absolute
 *   names (`/x`, `C:x`, `\\x`), any backslash, NUL, and empty, `.` or `..`
 *   segments are refused with `UNSAFE_PATH`, as are names that would resolve
 *   outside the target.
 * - Symbolic-link entries and special files (Unix type bits in the external
 *   attributes) are all refused with `UNSAFE_PATH`: no link is ever created.
 * - Sizes are counted as bytes come out of the inflater, never trusting the
 *   headers: more than `maxTotalBytes` in all, or more bytes in an entry than
 *   its header declares, stops at once with `ARCHIVE_TOO_LARGE`, before those
 *   bytes are written. More than `maxEntries` entries, or declared sizes over
 *   the bound, fail the same way before anything is written.
 * - Malformed archives (truncated, bad signatures, overlapping entries,
 *   CRC-32 or length mismatch, encrypted entries, methods other than stored
 *   and deflate, duplicate names) fail with `ARCHIVE_INVALID`.
 *
 * Staging and commit: entries are written into a fresh temporary folder on
 * the same file system (beside `outDir` when it does not exist, inside it when
 * it does); any failure removes that folder, so a failed extraction leaves
 * nothing behind. When `outDir` does not exist, the finished tree is renamed
 * into place in one step. When it exists (a folder), the tree is merged into
 * it: first every target is checked without changing anything — an existing
 * file at an entry's path fails with `OUTPUT_EXISTS` unless `force`, a file
 * where a folder is needed or a folder where a file is needed fails with
 * `OUTPUT_EXISTS` even with `force`, and a symbolic link where a folder is
 * needed fails with `UNSAFE_PATH` (extraction never writes through a link) —
 * then files are moved in one by one, replacing existing files when `force`
 * is set. Files already in `outDir` that the archive does not name are kept.
 * A merge can only be left half done by an I/O error during the moves. An
 * `outDir` that exists but is not a folder fails with `OUTPUT_EXISTS`.
 *
 * Extracted files get mode `0755` when the entry has a Unix execute bit, else
 * `0644` (less the umask); times are not restored.
 *
 * @module
 */
import { lstat, mkdir, mkdtemp, open, rename, rm, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { createInflateRaw } from "node:zlib";
import { EnvelopeError } from "../errors.ts";

/** Options for {@linkcode extractZip}. */
export interface ExtractZipOptions {
  /** Bound on the bytes written, counted while inflating (default 4 GiB). */
  maxTotalBytes?: number;
  /** Bound on the number of entries (default 100,000). */
  maxEntries?: number;
  /**
   * Bound on the archive bytes spooled from a stream source
   * (default `maxTotalBytes` + 256 MiB). Ignored for a path source.
   */
  maxArchiveBytes?: number;
  /** Replace existing files in `outDir` (default false: `OUTPUT_EXISTS`). */
  force?: boolean;
  /** Called with each entry's name before it is extracted. */
  onEntry?: (name: string) => void;
  /** Called with the size of every batch of bytes written (progress, pacing). */
  onBytes?: (bytes: number) => void;
}

/** What {@linkcode extractZip} extracted. */
export interface ExtractSummary {
  /** Entries in the archive (files and folders). */
  entries: number;
  /** Bytes written (the total size of the extracted files). */
  bytes: number;
}

/** The default bound on the bytes written. */
export const DEFAULT_MAX_TOTAL_BYTES = 4 * 1024 ** 3;
/** The default bound on the number of entries. */
export const DEFAULT_MAX_ENTRIES = 100_000;
const SPOOL_SLACK = 256 * 1024 ** 2;
/** Compressed bytes read per file read. */
const READ_PIECE = 64 * 1024;
/**
 * Compressed bytes handed to the inflater at a time: its output is checked
 * against the bounds as it comes out, and deflate expands at most ~1032x, so
 * at most ~4 MiB of one piece's output is held before it is written.
 */
const INFLATE_PIECE = 4096;
/** Bytes per chunk of inflater output (each one is checked before the next is made). */
const INFLATE_CHUNK = 64 * 1024;
/** Inflated bytes gathered before a write. */
const WRITE_BATCH = 256 * 1024;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

interface Entry {
  name: string;
  nameBytes: Uint8Array;
  dir: boolean;
  exec: boolean;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
}

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

/** Continues a CRC-32: start with `crc32(0, data)`. */
export function crc32(crc: number, data: Uint8Array): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- errors ----

function invalid(detail: string): EnvelopeError {
  return new EnvelopeError("ARCHIVE_INVALID", `Reading the zip archive failed: ${detail}`, {
    hint: "the archive is damaged or not a zip file; create it again",
  });
}

function unsafe(name: string, why: string): EnvelopeError {
  return new EnvelopeError("UNSAFE_PATH", `Extracting entry ${JSON.stringify(name)} failed: ${why}`, {
    hint: "the archive may be malicious; nothing was extracted",
  });
}

function tooLarge(detail: string, hint = "raise the limit only if you trust the archive"): EnvelopeError {
  return new EnvelopeError("ARCHIVE_TOO_LARGE", `Extracting the zip archive failed: ${detail}`, { hint });
}

function ioError(action: string, cause: unknown): EnvelopeError {
  if (cause instanceof EnvelopeError) return cause;
  const detail = (cause as { code?: string })?.code ?? String(cause);
  return new EnvelopeError("IO_FAILED", `${action} failed: ${detail}`, {
    hint: "check the path, its permissions and the free space",
    cause,
  });
}

function errCode(err: unknown): string | undefined {
  return (err as { code?: string })?.code;
}

// ---- little-endian fields ----

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
function u64(b: Uint8Array, o: number): number {
  const v = u32(b, o) + u32(b, o + 4) * 0x100000000;
  if (!Number.isSafeInteger(v)) throw invalid("a ZIP64 field is too large");
  return v;
}

/** Positioned reads over a file, with a 1 MiB window for the small reads of headers. */
class Reader {
  #win: Uint8Array = new Uint8Array(0);
  #winPos = 0;
  constructor(readonly fh: FileHandle, readonly size: number) {}

  async at(pos: number, len: number): Promise<Uint8Array> {
    if (pos < 0 || len < 0 || pos + len > this.size) throw invalid("it is truncated or a header points past its end");
    const w = this.#winPos;
    if (pos >= w && pos + len <= w + this.#win.length) return this.#win.subarray(pos - w, pos - w + len);
    const n = Math.min(Math.max(len, 1 << 20), this.size - pos);
    this.#win = await this.raw(pos, n);
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

// ---- names ----

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeName(bytes: Uint8Array): string {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    throw invalid("an entry name is not UTF-8");
  }
}

/** The `/`-separated segments of a safe name, or a thrown `UNSAFE_PATH`. */
export function safeSegments(name: string): string[] {
  if (name.length === 0) throw unsafe(name, "the name is empty");
  if (name.includes("\0")) throw unsafe(name, "the name contains a NUL character");
  if (name.includes("\\")) throw unsafe(name, "the name contains a backslash");
  if (name.startsWith("/")) throw unsafe(name, "the path is absolute");
  if (/^[A-Za-z]:/.test(name)) throw unsafe(name, "the path starts with a drive letter");
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  for (const s of segments) {
    if (s === "..") throw unsafe(name, "the path contains a .. segment");
    if (s === "" || s === ".") throw unsafe(name, "the path has an empty or . segment");
  }
  return segments;
}

// ---- central directory ----

interface Directory {
  entries: Entry[];
  /** Where the central directory starts: every entry's data must end before it. */
  cdOffset: number;
}

async function readDirectory(r: Reader, maxEntries: number): Promise<Directory> {
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
    const nameBytes = (await r.at(pos + 46, nameLen)).slice();
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
    const name = decodeName(nameBytes);
    if (flags & 1) throw invalid(`entry ${JSON.stringify(name)} is encrypted, which is not supported`);
    safeSegments(name);
    const type = (attrs >>> 16) & S_IFMT;
    if (type === S_IFLNK) throw unsafe(name, "it is a symbolic link, and links are never extracted");
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      throw unsafe(name, "it is a special file, not a file or folder");
    }
    const host = madeBy >> 8;
    const dir = name.endsWith("/") || type === S_IFDIR;
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
      nameBytes,
      dir,
      exec: host === 3 && ((attrs >>> 16) & 0o100) !== 0,
      method,
      crc,
      csize,
      usize,
      offset,
    });
    pos += 46 + nameLen + extraLen + commentLen;
  }
  if (pos !== end) throw invalid("its central directory size does not match its entries");
  return { entries, cdOffset };
}

// ---- raw deflate ----

/**
 * One entry's raw deflate data, inflated piece by piece through `node:zlib`.
 *
 * Not fflate's streaming `Inflate`: each of its `push` calls allocates
 * afresh. It joins the input it has not used yet to the new piece (a stored
 * block, up to 64 KiB, is only used once it is whole, so with 4 KiB pieces
 * its bytes are copied again on every push), copies that unused input again
 * after inflating, grows a new output buffer from its 32 KiB window, and
 * copies the output and the window out of it. Nothing is retained, but V8
 * collects ArrayBuffers only as external-memory pressure builds, so dead
 * buffers piled up between collections: extracting a 64 or 192 MiB random
 * entry raised RSS by 78-213 MB (131-265 MB peaks), against 16-21 MB
 * (71-74 MB peaks) through zlib, which was also 1.7-3x faster (measured with
 * tests/support/archive_extract_peak.ts).
 * zlib inflates natively in its own fixed window and hands out
 * chunks of at most INFLATE_CHUNK bytes, each passed to `onChunk` as it is
 * made; when `onChunk` throws, the stream is destroyed at once, so nothing
 * more is inflated, and the next `push` or `end` rejects with that error.
 */
class RawInflater {
  readonly #z = createInflateRaw({ chunkSize: INFLATE_CHUNK });
  #failure: unknown;
  #ended = false;

  constructor(onChunk: (chunk: Uint8Array) => void) {
    this.#z.on("data", (chunk: Uint8Array) => {
      if (this.#failure !== undefined) return;
      try {
        onChunk(chunk);
      } catch (err) {
        this.#failure = err;
        this.#z.destroy();
      }
    });
    // A zlib error also reaches the pending write or end through #settle; this keeps it from being unhandled.
    this.#z.on("error", (err: unknown) => void (this.#failure ??= err));
    // zlib ends the output at the final block; input after it is ignored, as fflate and Python's zipfile do.
    this.#z.on("end", () => void (this.#ended = true));
  }

  /** Inflates `piece`; resolves once all its output has gone to `onChunk` (so `piece` may then be reused). */
  push(piece: Uint8Array): Promise<void> {
    return this.#settle((done) => void this.#z.write(piece, done));
  }

  /** Ends the input; rejects when the deflate data stops before its final block. */
  end(): Promise<void> {
    return this.#settle((done) => {
      this.#z.once("end", done);
      this.#z.end();
    });
  }

  /** Frees zlib's state (safe to call at any time, and again). */
  destroy(): void {
    this.#z.destroy();
  }

  #settle(start: (done: (err?: unknown) => void) => void): Promise<void> {
    const z = this.#z;
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve();
    if (z.destroyed) return Promise.reject(new Error("the inflater is closed"));
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err?: unknown) => {
        if (settled) return;
        settled = true;
        z.off("error", done);
        z.off("close", closed);
        z.off("end", done);
        const failure = this.#failure ?? err ?? undefined;
        if (failure === undefined || failure === null) resolve();
        else reject(failure);
      };
      const closed = () => done(this.#failure ?? (this.#ended ? undefined : new Error("the inflater closed early")));
      z.once("error", done);
      z.once("close", closed);
      start(done);
    });
  }
}

// ---- extraction of one entry ----

interface Budget {
  max: number;
  total: number;
  /** Told of every batch written, for progress and pacing. */
  readonly onBytes?: (bytes: number) => void;
}

async function writeAll(fh: FileHandle, data: Uint8Array, path: string): Promise<void> {
  let off = 0;
  while (off < data.length) {
    try {
      const { bytesWritten } = await fh.write(data, off, data.length - off);
      off += bytesWritten;
    } catch (err) {
      throw ioError(`Writing ${path}`, err);
    }
  }
}

async function extractFile(r: Reader, e: Entry, dataStart: number, target: string, budget: Budget): Promise<void> {
  let out: FileHandle;
  try {
    out = await open(target, "wx", e.exec ? 0o755 : 0o644);
  } catch (err) {
    const code = errCode(err);
    if (code === "EEXIST" || code === "EISDIR" || code === "ENOTDIR") {
      throw invalid(`entry ${JSON.stringify(e.name)} appears twice or clashes with a folder`);
    }
    throw ioError(`Creating ${target}`, err);
  }
  try {
    let written = 0;
    let crc = 0;
    let batch: Uint8Array[] = [];
    let batchLen = 0;
    // Bounds are checked as bytes come out of the inflater, before they are queued for writing.
    const accept = (chunk: Uint8Array) => {
      if (written + chunk.length > e.usize) {
        throw tooLarge(
          `entry ${JSON.stringify(e.name)} expands past its declared size of ${e.usize} bytes`,
          "the archive is damaged or built to fill the disk; do not trust it",
        );
      }
      if (budget.total + chunk.length > budget.max) {
        throw tooLarge(`it expands past the limit of ${budget.max} bytes`);
      }
      written += chunk.length;
      budget.total += chunk.length;
      crc = crc32(crc, chunk);
    };
    const flush = async () => {
      if (batchLen === 0) return;
      let buf = batch[0];
      if (batch.length > 1) {
        buf = new Uint8Array(batchLen);
        let o = 0;
        for (const c of batch) buf.set(c, o), o += c.length;
      }
      batch = [];
      const n = batchLen;
      batchLen = 0;
      await writeAll(out, buf, target);
      budget.onBytes?.(n);
    };
    if (e.method === 8 && e.csize === 0) throw invalid(`entry ${JSON.stringify(e.name)} has no deflate data`);
    const inflater = e.method === 8
      ? new RawInflater((chunk) => {
        if (chunk.length === 0) return;
        accept(chunk);
        batch.push(chunk);
        batchLen += chunk.length;
      })
      : undefined;
    const inflate = async (step: Promise<void>) => {
      try {
        await step;
      } catch (err) {
        if (err instanceof EnvelopeError) throw err;
        throw invalid(`entry ${JSON.stringify(e.name)} has broken deflate data (${(err as Error)?.message ?? err})`);
      }
    };
    try {
      const end = dataStart + e.csize;
      const readBuf = new Uint8Array(READ_PIECE);
      for (let pos = dataStart; pos < end;) {
        const n = Math.min(READ_PIECE, end - pos);
        // Each piece is fully inflated before the next read, so the read buffer is reused.
        const piece = await r.raw(pos, n, readBuf);
        pos += n;
        if (!inflater) {
          accept(piece);
          await writeAll(out, piece, target);
          continue;
        }
        for (let i = 0; i < n; i += INFLATE_PIECE) {
          await inflate(inflater.push(piece.subarray(i, Math.min(n, i + INFLATE_PIECE))));
          if (batchLen >= WRITE_BATCH) await flush();
        }
      }
      if (inflater) await inflate(inflater.end());
      await flush();
    } finally {
      inflater?.destroy();
    }
    if (written !== e.usize) throw invalid(`entry ${JSON.stringify(e.name)} is shorter than its declared size`);
    if (crc !== e.crc) throw invalid(`entry ${JSON.stringify(e.name)} fails its CRC-32 check`);
  } finally {
    await out.close().catch(() => {});
  }
}

// ---- spooling a stream ----

async function spool(source: ReadableStream<Uint8Array>, path: string, max: number): Promise<void> {
  const reader = source.getReader();
  let fh: FileHandle | undefined;
  let done = false;
  try {
    fh = await open(path, "wx", 0o600);
    let total = 0;
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      total += next.value.length;
      if (total > max) throw tooLarge(`the archive stream is over the limit of ${max} bytes`);
      await writeAll(fh, next.value, path);
    }
    done = true;
  } catch (err) {
    throw ioError("Reading the archive stream", err);
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
    await fh?.close().catch(() => {});
  }
}

// ---- committing the staged tree ----

type Kind = "missing" | "dir" | "file" | "link" | "other";

async function kindOf(path: string, cache: Map<string, Kind>): Promise<Kind> {
  let k = cache.get(path);
  if (k) return k;
  try {
    const st = await lstat(path);
    k = st.isSymbolicLink() ? "link" : st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
  } catch (err) {
    if (errCode(err) !== "ENOENT" && errCode(err) !== "ENOTDIR") throw ioError(`Checking ${path}`, err);
    k = "missing";
  }
  cache.set(path, k);
  return k;
}

/** Checks, without changing anything, that every entry can be placed in `outDir`. */
async function planMerge(outDir: string, entries: Entry[], force: boolean): Promise<void> {
  const cache = new Map<string, Kind>();
  for (const e of entries) {
    const segments = safeSegments(e.name);
    let path = outDir;
    for (let i = 0; i < segments.length; i++) {
      path = join(path, segments[i]);
      const k = await kindOf(path, cache);
      if (k === "missing") break;
      const last = i === segments.length - 1;
      const rel = segments.slice(0, i + 1).join("/");
      if (k === "link" && (!last || e.dir)) {
        throw unsafe(
          e.name,
          `${rel} in the output folder is a symbolic link, and extraction never writes through links`,
        );
      }
      if (!last || e.dir) {
        if (k !== "dir") {
          throw new EnvelopeError(
            "OUTPUT_EXISTS",
            `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} in the output folder is not a folder`,
            {
              hint: "remove it or extract into another folder",
            },
          );
        }
        continue;
      }
      if (k === "dir" || k === "other") {
        throw new EnvelopeError(
          "OUTPUT_EXISTS",
          `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} in the output folder is not a regular file`,
          {
            hint: "remove it or extract into another folder",
          },
        );
      }
      if (!force) {
        throw new EnvelopeError(
          "OUTPUT_EXISTS",
          `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} already exists in the output folder`,
          {
            hint: "pass --force to replace existing files, or extract into another folder",
          },
        );
      }
    }
  }
}

async function applyMerge(tree: string, outDir: string, entries: Entry[]): Promise<void> {
  for (const e of entries) {
    const rel = safeSegments(e.name);
    const target = join(outDir, ...rel);
    try {
      if (e.dir) {
        await mkdir(target, { recursive: true });
      } else {
        await mkdir(dirname(target), { recursive: true });
        await rename(join(tree, ...rel), target);
      }
    } catch (err) {
      throw ioError(`Moving ${e.name} into ${outDir}`, err);
    }
  }
}

// ---- the entry point ----

function checkLimit(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Extracting the zip archive failed: ${name} must be a non-negative integer`,
    );
  }
  return v;
}

/**
 * Extracts a zip archive (a stream of its bytes, or the path of a zip file)
 * into `outDir`, safely: see the module documentation for the rules, the
 * limits and what happens when `outDir` exists.
 *
 * @example Extracting a stream of zip bytes into a new folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
 * import { join } from "node:path";
 * import { extractZip } from "./unzip.ts";
 * import { zipDirectory } from "./zip.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * await mkdir(join(tmp, "src"));
 * await writeFile(join(tmp, "src", "notes.txt"), "hello");
 * const summary = await extractZip(zipDirectory(join(tmp, "src")), join(tmp, "copy"), { maxTotalBytes: 1 << 20 });
 * assert.deepEqual(summary, { entries: 1, bytes: 5 });
 * assert.equal(await readFile(join(tmp, "copy", "notes.txt"), "utf8"), "hello");
 * await rm(tmp, { recursive: true });
 * ```
 */
export async function extractZip(
  source: ReadableStream<Uint8Array> | string,
  outDir: string,
  options: ExtractZipOptions = {},
): Promise<ExtractSummary> {
  try {
    return await extract(source, outDir, options);
  } finally {
    // A stream that was never read (an early failure) is cancelled so its producer stops.
    if (typeof source !== "string" && !source.locked) await source.cancel().catch(() => {});
  }
}

async function extract(
  source: ReadableStream<Uint8Array> | string,
  outDir: string,
  options: ExtractZipOptions,
): Promise<ExtractSummary> {
  const maxTotalBytes = checkLimit("maxTotalBytes", options.maxTotalBytes, DEFAULT_MAX_TOTAL_BYTES);
  const maxEntries = checkLimit("maxEntries", options.maxEntries, DEFAULT_MAX_ENTRIES);
  const maxArchiveBytes = checkLimit("maxArchiveBytes", options.maxArchiveBytes, maxTotalBytes + SPOOL_SLACK);
  const force = options.force === true;
  const outAbs = resolve(outDir);

  // Decide between creating outDir and merging into it, before reading anything.
  let merge = false;
  try {
    const st = await stat(outAbs);
    if (!st.isDirectory()) {
      throw new EnvelopeError("OUTPUT_EXISTS", `Extracting into ${outDir} failed: it exists and is not a folder`, {
        hint: "remove it or choose another output folder",
      });
    }
    merge = true;
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    if (errCode(err) !== "ENOENT") throw ioError(`Checking ${outDir}`, err);
  }

  let madeParent: string | undefined;
  let staging: string | undefined;
  let fh: FileHandle | undefined;
  let committed = false;
  try {
    const parent = merge ? outAbs : dirname(outAbs);
    try {
      if (!merge) madeParent = await mkdir(parent, { recursive: true });
      staging = await mkdtemp(join(parent, `.${basename(outAbs)}.extract-`));
    } catch (err) {
      throw ioError(`Creating a staging folder beside ${outDir}`, err);
    }
    const tree = join(staging, "tree");
    await mkdir(tree);

    let zipPath: string;
    if (typeof source === "string") {
      zipPath = source;
    } else {
      zipPath = join(staging, "archive.zip");
      await spool(source, zipPath, maxArchiveBytes);
    }
    try {
      fh = await open(zipPath, "r");
    } catch (err) {
      throw ioError(`Opening ${zipPath}`, err);
    }
    const size = (await fh.stat()).size;
    const r = new Reader(fh, size);
    const { entries, cdOffset } = await readDirectory(r, maxEntries);

    let declared = 0;
    for (const e of entries) if (!e.dir) declared += e.usize;
    if (declared > maxTotalBytes) {
      throw tooLarge(`its entries declare ${declared} bytes, over the limit of ${maxTotalBytes}`);
    }
    if (merge) await planMerge(outAbs, entries, force);

    // Each entry's data must end before the next local header and before the central directory.
    const starts = [...new Set(entries.map((e) => e.offset))].sort((a, b) => a - b);
    const nextStart = (offset: number) => {
      let lo = 0, hi = starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid] <= offset) lo = mid + 1;
        else hi = mid;
      }
      return lo < starts.length ? starts[lo] : cdOffset;
    };

    const budget: Budget = { max: maxTotalBytes, total: 0, onBytes: options.onBytes };
    for (const e of entries) {
      options.onEntry?.(e.name);
      const target = join(tree, ...safeSegments(e.name));
      if (!(target + sep).startsWith(tree + sep)) throw unsafe(e.name, "it resolves outside the output folder");
      const h = await r.at(e.offset, 30);
      if (u32(h, 0) !== SIG_LOCAL) throw invalid(`the local header of ${JSON.stringify(e.name)} is missing`);
      if (u16(h, 6) & 1) throw invalid(`entry ${JSON.stringify(e.name)} is encrypted, which is not supported`);
      const nameLen = u16(h, 26);
      const extraLen = u16(h, 28);
      const localName = await r.at(e.offset + 30, nameLen);
      if (nameLen !== e.nameBytes.length || localName.some((b, i) => b !== e.nameBytes[i])) {
        throw invalid(`the local and central names of ${JSON.stringify(e.name)} differ`);
      }
      const dataStart = e.offset + 30 + nameLen + extraLen;
      if (dataStart + e.csize > nextStart(e.offset)) {
        throw invalid(`the data of ${JSON.stringify(e.name)} overlaps another entry or the directory`);
      }
      if (e.dir) {
        try {
          await mkdir(target, { recursive: true });
        } catch (err) {
          if (errCode(err) === "EEXIST" || errCode(err) === "ENOTDIR") {
            throw invalid(`folder entry ${JSON.stringify(e.name)} clashes with a file`);
          }
          throw ioError(`Creating ${target}`, err);
        }
        continue;
      }
      if (u16(h, 8) !== e.method) throw invalid(`the local and central headers of ${JSON.stringify(e.name)} disagree`);
      try {
        await mkdir(dirname(target), { recursive: true });
      } catch (err) {
        if (errCode(err) === "EEXIST" || errCode(err) === "ENOTDIR") {
          throw invalid(`entry ${JSON.stringify(e.name)} needs a folder where the archive has a file`);
        }
        throw ioError(`Creating ${dirname(target)}`, err);
      }
      await extractFile(r, e, dataStart, target, budget);
    }
    await fh.close();
    fh = undefined;

    if (merge) {
      await planMerge(outAbs, entries, force);
      await applyMerge(tree, outAbs, entries);
    } else {
      try {
        await rename(tree, outAbs);
      } catch (err) {
        const code = errCode(err);
        if (code === "EEXIST" || code === "ENOTEMPTY" || code === "ENOTDIR") {
          throw new EnvelopeError(
            "OUTPUT_EXISTS",
            `Extracting into ${outDir} failed: it was created while extracting`,
            {
              hint: "extract again, with --force to merge into it",
            },
          );
        }
        throw ioError(`Moving the extracted files to ${outDir}`, err);
      }
    }
    committed = true;
    return { entries: entries.length, bytes: budget.total };
  } finally {
    await fh?.close().catch(() => {});
    if (staging) await rm(staging, { recursive: true, force: true }).catch(() => {});
    if (!committed && madeParent) await rm(madeParent, { recursive: true, force: true }).catch(() => {});
  }
}
