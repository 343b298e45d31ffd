/**
 * Extracting one zip entry to a new file: its stored or raw deflate data is
 * read in pieces and inflated through `node:zlib`, and every chunk that
 * comes out is counted against the entry's declared size and the total
 * bound before it is written; the CRC-32 and length are checked at the end.
 *
 * @module
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { createInflateRaw } from "node:zlib";
import { closeSync, constants as fsConstants, futimesSync, openSync, writeSync } from "node:fs";
import { EnvelopeError } from "../errors.ts";
import { errCode, invalid, ioError, tooLarge } from "./unzip_errors.ts";
import type { Entry, Reader } from "./zip_reader.ts";
import { crc32 } from "./zip_records.ts";
import type { WholeInflater } from "./zip_inflate_whole.ts";

export { crc32 };

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
/**
 * Entries of up to this many bytes (declared, both packed and unpacked) are
 * read and inflated in one call, with zlib's output capped at the declared
 * size, and written in one write.
 */
const WHOLE = 1024 * 1024;
/** A new file, never an existing one, never through a link. */
const CREATE_NEW = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0);

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

/** The bound on the bytes written by one extraction, and the count so far. */
export interface Budget {
  max: number;
  total: number;
  /** Told of every batch written, for progress and pacing. */
  readonly onBytes?: (bytes: number) => void;
}

/** Writes all of `data` to `fh` (`path` names it in errors). */
export async function writeAll(fh: FileHandle, data: Uint8Array, path: string): Promise<void> {
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

/**
 * Whether entry `e` is small enough to be read, inflated and checked whole in
 * memory (through the reader's window) before its file is made.
 */
export function readsWhole(e: Entry): boolean {
  return e.usize <= WHOLE && e.csize <= WHOLE;
}

/**
 * Extracts entry `e` (its local header read, so `e.dataStart` is set) to a
 * new file at `target`; a small one is inflated by `inflater`.
 */
export async function extractFile(
  r: Reader,
  e: Entry,
  target: string,
  budget: Budget,
  inflater: WholeInflater,
): Promise<void> {
  if (readsWhole(e)) {
    // Checked whole in memory before the file is made, then written with blocking calls: the four (open, write,
    // time, close) cost far less CPU than the same as promises, each of which is a hand-off to a thread pool
    // (measured on 8,000 20 KB files: 0.5-1.8 s of CPU against 3.8-3.9 s).
    const data = await readWhole(r, e, budget, inflater);
    writeSmall(e, target, data);
    budget.onBytes?.(data.length);
    return;
  }
  let out: FileHandle;
  try {
    out = await open(target, "wx", e.exec ? 0o755 : 0o644);
  } catch (err) {
    throw createError(e, target, err);
  }
  try {
    await extractPieces(r, e, out, target, budget);
    if (e.mtime !== undefined) {
      try {
        await out.utimes(e.mtime, e.mtime);
      } catch (err) {
        throw ioError(`Setting the time of ${target}`, err);
      }
    }
  } finally {
    await out.close().catch(() => {});
  }
}

function createError(e: Entry, target: string, err: unknown): EnvelopeError {
  const code = errCode(err);
  if (code === "EEXIST" || code === "EISDIR" || code === "ENOTDIR" || code === "ELOOP") {
    return invalid(`entry ${JSON.stringify(e.name)} appears twice or clashes with a folder`);
  }
  return ioError(`Creating ${target}`, err);
}

/** Creates `target` holding `data`, with the entry's mode and time. */
function writeSmall(e: Entry, target: string, data: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(target, CREATE_NEW, e.exec ? 0o755 : 0o644);
  } catch (err) {
    throw createError(e, target, err);
  }
  try {
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
    if (e.mtime !== undefined) futimesSync(fd, e.mtime, e.mtime);
  } catch (err) {
    throw ioError(`Writing ${target}`, err);
  } finally {
    closeSync(fd);
  }
}

function expandsPast(e: Entry): EnvelopeError {
  return tooLarge(
    `entry ${JSON.stringify(e.name)} expands past its declared size of ${e.usize} bytes`,
    "the archive is damaged or built to fill the disk; do not trust it",
  );
}

/**
 * The data of an entry of up to 1 MiB (its `dataStart` set), inflated by `inflater` and checked
 * (size, CRC-32, bounds) in memory; for link targets and small files. It is
 * a view of the reader's window (stored) or of the inflater's buffer
 * (deflated), so it holds only until the next read or inflate: the caller is
 * done with it first.
 */
export async function readWhole(
  r: Reader,
  e: Entry,
  budget: Budget,
  inflater: WholeInflater,
): Promise<Uint8Array> {
  if (!readsWhole(e)) throw invalid(`entry ${JSON.stringify(e.name)} is too large to read whole`);
  // Through the reader's 1 MiB window: neighbouring small entries (most of a many-file archive) share one read.
  const packed = await r.at(e.dataStart, e.csize);
  let data = packed;
  if (e.method === 8) {
    if (e.csize === 0) throw invalid(`entry ${JSON.stringify(e.name)} has no deflate data`);
    let out: Uint8Array | undefined;
    try {
      out = inflater.inflate(packed, e.usize);
    } catch (err) {
      throw invalid(`entry ${JSON.stringify(e.name)} has broken deflate data (${(err as Error)?.message ?? err})`);
    }
    if (out === undefined) throw expandsPast(e);
    data = out;
  }
  if (data.length > e.usize) throw expandsPast(e);
  if (budget.total + data.length > budget.max) throw tooLarge(`it expands past the limit of ${budget.max} bytes`);
  budget.total += data.length;
  if (data.length !== e.usize) throw invalid(`entry ${JSON.stringify(e.name)} is shorter than its declared size`);
  if (crc32(0, data) !== e.crc) throw invalid(`entry ${JSON.stringify(e.name)} fails its CRC-32 check`);
  return data;
}

/** A large entry: read and inflated in pieces, each checked against the bounds before it is written. */
async function extractPieces(
  r: Reader,
  e: Entry,
  out: FileHandle,
  target: string,
  budget: Budget,
): Promise<void> {
  {
    let written = 0;
    let crc = 0;
    let batch: Uint8Array[] = [];
    let batchLen = 0;
    // Bounds are checked as bytes come out of the inflater, before they are queued for writing.
    const accept = (chunk: Uint8Array) => {
      if (written + chunk.length > e.usize) throw expandsPast(e);
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
      const end = e.dataStart + e.csize;
      const readBuf = new Uint8Array(READ_PIECE);
      for (let pos = e.dataStart; pos < end;) {
        const n = Math.min(READ_PIECE, end - pos);
        // Each piece is fully inflated before the next read, so the read buffer is reused.
        const piece = await r.raw(pos, n, readBuf);
        pos += n;
        if (!inflater) {
          accept(piece);
          await writeAll(out, piece, target);
          budget.onBytes?.(n);
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
  }
}
