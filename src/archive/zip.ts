/**
 * Deterministic, streaming zip archives of a directory tree.
 *
 * {@linkcode zipDirectory} returns a web `ReadableStream` of the archive
 * bytes. Walking, reading and deflating run as one pipeline, driven by the
 * consumer's reads: up to {@linkcode AHEAD} entries, holding at most
 * {@linkcode AHEAD_BYTES} of file data, are read and deflated ahead of the
 * one being written, so file reads (off the main thread) overlap with
 * compression. Memory is bounded by that window, whatever the number of
 * files: a file of up to 1 MiB is read and deflated whole, a larger one in
 * 1 MiB pieces as they are written (zip_entry_data.ts).
 *
 * With the `workers` option, small files are read and deflated, and large
 * files' pieces deflated, on worker threads (zip_workers.ts): this thread
 * then only walks the tree and writes the records, and the bytes are the
 * same (tests/archive_zip_workers_test.ts).
 *
 * Deflate is native zlib (`node:zlib`). A file that deflate does not make
 * smaller is stored (method 0) instead: for a file up to 1 MiB the two
 * sizes are compared; for a larger file, its first 1 MiB decides (random,
 * encrypted and already compressed data never shrink).
 *
 * Determinism: the same tree (names, contents, executable bits, and times
 * when `times` is set) always gives the same bytes with the same zlib. The
 * container is written here (zip_records.ts): a local header with the CRC
 * and sizes for a file read whole, a data descriptor after a file read in
 * pieces, then the central directory. Without `times`, every entry carries
 * the DOS epoch, 1980-01-01 00:00:00; with `times`, each entry carries its
 * modification time as a DOS time (local time, at 2-second resolution) and
 * in an extended-timestamp extra field (0x5455, Unix seconds, which
 * extractors such as Info-ZIP's and ours restore). Unix mode `0644` for
 * files, `0755` for files with any execute bit, `0755` for directories;
 * made-by "Unix". Entry names are UTF-8 paths relative to the directory,
 * `/`-separated, with no `./` and no top folder.
 *
 * What is stored: regular files and directories, and symbolic links as the
 * `links` option says ({@linkcode LinkPolicy}): by default a link to a
 * regular file inside the tree is stored as a regular file with the
 * target's contents (as Python's `shutil.make_archive` does) and any other
 * link is skipped. Special files (FIFOs, sockets, devices) are skipped. Names
 * that contain a backslash are skipped too, since no safe extractor,
 * including ours, would accept them, and so are names that are not valid
 * UTF-8 (the file system's listing cannot be read back under them). Every
 * skip is reported through `onWarning`.
 *
 * Size: ZIP64 fields and end records are written where a size, an offset or
 * the number of entries needs them, as Python's zipfile decides (over 2 GiB
 * - 1, or over 65,535 entries; a file streamed takes ZIP64 in its local
 * header and data descriptor when its size x 1.05 is over 2 GiB - 1). So a
 * folder of any size can be zipped, up to {@linkcode MAX_ENTRIES} entries,
 * the number `decrypt -d` (zip_reader.ts `DEFAULT_MAX_ENTRIES`) accepts.
 *
 * @module
 */
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { EnvelopeError } from "../errors.ts";
import { type Entry, ioError, type LinkPolicy, walkEnvelope, walkMakeArchive } from "./zip_walk.ts";
import {
  ATTR_DIR,
  ATTR_EXEC,
  ATTR_FILE,
  ATTR_LINK,
  checkLevel,
  type Deflate,
  deflateHere,
  type Level,
  PIECE,
  type Prepared,
  preparedBytes,
  prepareFile,
} from "./zip_entry_data.ts";
import { DEFAULT_MAX_ENTRIES } from "./zip_reader.ts";
import { ZipWorkers } from "./zip_workers.ts";
import { CentralDirectory, dataDescriptor, endRecord, localHeader } from "./zip_records.ts";

export type { LinkPolicy } from "./zip_walk.ts";
export type { Deflate } from "./zip_entry_data.ts";

/** How the entries of a directory archive are laid out. */
export type ZipLayout = "envelope" | "make_archive";

/** Options for {@linkcode zipDirectory}. */
export interface ZipDirectoryOptions {
  /**
   * `"envelope"` (default): entries in byte order of their UTF-8 path,
   * directory entries only for empty directories. `"make_archive"`: the
   * layout of Python's `shutil.make_archive(base, "zip", dir)`: a walk from
   * the top where each folder lists an entry `name/` for each subfolder
   * (sorted), then its files (sorted), then descends into the subfolders in
   * sorted order; every folder has its own stored, empty `name/` entry.
   */
  layout?: ZipLayout;
  /** Deflate level 0-9 (default 6). */
  level?: number;
  /** Keep each entry's modification time (default false: every entry is dated 1980-01-01). */
  times?: boolean;
  /** What to do with symbolic links (default `"follow"`). */
  links?: LinkPolicy;
  /** Called with a message for each link or special file that is skipped. */
  onWarning?: (message: string) => void;
  /**
   * Paths to leave out silently (files or folders, which need not exist yet).
   * The tree is walked while the stream is read, so an output written inside
   * the folder being zipped must be excluded here or it would be archived.
   */
  exclude?: string[];
  /**
   * Deflate to use instead of zlib on this thread (a pool of workers, say); same output bytes. It must keep
   * nothing of its input once it settles: the input buffer is read into again.
   */
  deflate?: Deflate;
  /**
   * Deflate on this many worker threads (zip_workers.ts) instead of this
   * one: the same bytes, several files compressed at once. Default 0: on
   * this thread. Where workers cannot start, on this thread. Ignored when
   * `deflate` is given.
   */
  workers?: number;
}

/** Options for {@linkcode zipSingleFile}. */
export interface ZipSingleFileOptions {
  /** Deflate level 0-9 (default 6). */
  level?: number;
  /** Keep the file's modification time (default false). */
  times?: boolean;
}

/** Entries whose data is at most this long are sent on joined to their local header. */
const JOIN_BELOW = 16 * 1024;

/**
 * Entries read and deflated ahead of the one being written. 8 left the zip
 * worker and the main thread both waiting on small files: `encrypt -d` of
 * the 10,000-file bench tree on a tmpfs took 2.33-2.76 s (median 2.61) with
 * 8, 2.26-2.39 with 16, 2.12-2.34 (2.20) with 32 and 2.14-2.20 with 64 (four
 * interleaved runs each, by hand, 2026-12-07).
 */
export const AHEAD = 32;
/**
 * The file data the window may hold, by the sizes the walk saw (a file over
 * 1 MiB counts as the 1 MiB piece it is read in): a window of large files
 * holds what 8 entries did, however many entries the window allows.
 */
export const AHEAD_BYTES = 8 * 1024 * 1024;
/** The most entries an archive gets: what extraction accepts by default, so what is written can be read back. */
export const MAX_ENTRIES = DEFAULT_MAX_ENTRIES;

/** Turns a lazy sequence of entries into a pull-driven stream of zip bytes. */
function zipEntries(
  entries: () => AsyncIterator<Entry>,
  level: Level,
  times: boolean,
  deflateGiven: Deflate | undefined,
  workers = 0,
): ReadableStream<Uint8Array> {
  // Started with the stream, so that they load while the caller sets up; they end when idle if it is never read.
  const starting = deflateGiven === undefined && workers > 0 ? ZipWorkers.start(workers) : undefined;
  let pool: ZipWorkers | null = null;
  let deflate: Deflate = deflateGiven ?? deflateHere;
  let iterator: AsyncIterator<Entry> | undefined;
  let walked = false;
  let count = 0;
  let offset = 0;
  /** Entries being prepared, in order, each with what it counts against {@linkcode AHEAD_BYTES}; and their sum. */
  const ahead: { readonly prepared: Promise<Prepared>; readonly size: number }[] = [];
  let aheadBytes = 0;
  const central = new CentralDirectory();
  /** The entry whose pieces are being written. */
  let current: Prepared | undefined;
  let done = false;

  const prepare = (e: Entry): Promise<Prepared> => {
    if (++count > MAX_ENTRIES) {
      return Promise.reject(
        new EnvelopeError("LIMIT_EXCEEDED", `Creating the zip archive failed: more than ${MAX_ENTRIES} entries`, {
          hint: "split the folder into several archives, or encrypt its files one by one (encrypt -r)",
        }),
      );
    }
    const mtime = times ? e.mtime : undefined;
    if (e.kind === "dir") return Promise.resolve(preparedBytes(e.name, new Uint8Array(0), ATTR_DIR, mtime));
    if (e.kind === "link") {
      return Promise.resolve(preparedBytes(e.name, new TextEncoder().encode(e.target), ATTR_LINK, mtime));
    }
    return prepareFile(e.name, e.path, e.exec ? ATTR_EXEC : ATTR_FILE, mtime, level, deflate, pool?.readWhole);
  };

  /** Starts preparing entries until the window is full or the walk ended. */
  const fill = async () => {
    if (iterator === undefined && starting !== undefined) {
      pool = await starting;
      if (pool) deflate = pool.deflate;
    }
    iterator ??= entries();
    while (!walked && ahead.length < AHEAD && (ahead.length === 0 || aheadBytes < AHEAD_BYTES)) {
      const next = await iterator.next();
      if (next.done) {
        walked = true;
        break;
      }
      const e = next.value;
      const p = prepare(e);
      // Awaited in order later; this keeps an early failure from being reported as unhandled meanwhile.
      p.catch(() => {});
      const size = e.kind === "file" ? Math.min(e.size ?? PIECE, PIECE) : 0;
      ahead.push({ prepared: p, size });
      aheadBytes += size;
    }
  };

  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    offset += bytes.length;
    if (bytes.length > 0) controller.enqueue(bytes);
  };

  const abandon = async () => {
    const c = current;
    current = undefined;
    await c?.close();
    await c?.pieces?.return(undefined).catch(() => {});
    aheadBytes = 0;
    for (const a of ahead.splice(0)) await (await a.prepared.catch(() => undefined))?.close();
    await iterator?.return?.(undefined);
    (pool ?? await starting)?.close();
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (current) {
          const c = current;
          const next = await c.pieces!.next();
          if (!next.done) return emit(controller, next.value);
          current = undefined;
          central.add(c.record);
          return emit(controller, dataDescriptor(c.record));
        }
        await fill();
        const next = ahead.shift();
        if (next === undefined) {
          if (done) return;
          done = true;
          const start = offset;
          for (const part of central.parts()) emit(controller, part);
          emit(controller, endRecord(central.count, central.size, start));
          controller.close();
          pool?.close();
          return;
        }
        aheadBytes -= next.size;
        const e = await next.prepared;
        e.record.offset = offset;
        if (e.pieces) current = e;
        else central.add(e.record);
        const head = localHeader(e.record);
        if (e.data === undefined) return emit(controller, head);
        // A small entry goes on with its header in one array (one read downstream instead of two); a larger one
        // follows its header as it is, rather than copied through a new array.
        if (e.data.length > JOIN_BELOW) {
          emit(controller, head);
          return emit(controller, e.data);
        }
        const both = new Uint8Array(head.length + e.data.length);
        both.set(head);
        both.set(e.data, head.length);
        emit(controller, both);
      } catch (err) {
        await abandon();
        throw err;
      }
    },
    async cancel() {
      await abandon();
    },
  }, { highWaterMark: 0 });
}

/**
 * Zips the tree under `dir` into a stream of archive bytes.
 *
 * Errors surface when the stream is read: `IO_FAILED` when a file or folder
 * cannot be read, `LIMIT_EXCEEDED` past {@linkcode MAX_ENTRIES} entries or
 * for a file that grows past 4 GiB after its header said it would not,
 * `INVALID_ARGUMENT` for a bad level (thrown at once).
 *
 * @example Zipping a folder into a file, as Python's make_archive lays it out
 * ```ts
 * import { createWriteStream } from "node:fs";
 * import { mkdir, rm, writeFile } from "node:fs/promises";
 * import { join } from "node:path";
 * import { Writable } from "node:stream";
 * import { zipDirectory } from "./zip.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * await mkdir(join(tmp, "app", "lib"), { recursive: true });
 * await writeFile(join(tmp, "app", "lib", "main.py"), "print('hi')\n");
 * await zipDirectory(join(tmp, "app"), { layout: "make_archive" })
 *   .pipeTo(Writable.toWeb(createWriteStream(join(tmp, "app.zip"))));
 * await rm(tmp, { recursive: true });
 * ```
 */
export function zipDirectory(dir: string, options: ZipDirectoryOptions = {}): ReadableStream<Uint8Array> {
  const level = checkLevel(options.level);
  const layout = options.layout ?? "envelope";
  if (layout !== "envelope" && layout !== "make_archive") {
    throw new EnvelopeError("INVALID_ARGUMENT", `Creating the zip archive failed: unknown layout ${String(layout)}`, {
      hint: 'use "envelope" or "make_archive"',
    });
  }
  const warn = options.onWarning ?? (() => {});
  const links = options.links ?? "follow";
  if (links !== "follow" && links !== "skip" && links !== "store") {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Creating the zip archive failed: unknown link policy ${String(links)}`,
      {
        hint: 'use "follow", "skip" or "store"',
      },
    );
  }
  return zipEntries(
    async function* () {
      let root: string;
      try {
        root = await realpath(dir);
        if (!(await stat(root)).isDirectory()) {
          throw new EnvelopeError("IO_FAILED", `Zipping ${dir} failed: it is not a folder`, {
            hint: "pass a folder, or encrypt a single file directly",
          });
        }
      } catch (err) {
        throw ioError(`Zipping ${dir}`, err);
      }
      const walk = layout === "envelope" ? walkEnvelope : walkMakeArchive;
      const exclude = new Set<string>();
      for (const p of options.exclude ?? []) {
        // The parent's real path, so links in the given path do not hide a match; the file need not exist yet.
        const parent = await realpath(dirname(resolve(p))).catch(() => dirname(resolve(p)));
        exclude.add(join(parent, basename(resolve(p))));
      }
      yield* walk({ root, warn, exclude, links }, root, "");
    },
    level,
    options.times === true,
    options.deflate,
    options.workers,
  );
}

/**
 * A one-entry archive holding the file at `path` under the entry name
 * `name` (a relative `/`-separated path). Same stream contract as
 * {@linkcode zipDirectory}.
 */
export function zipSingleFile(
  path: string,
  name: string,
  options: ZipSingleFileOptions = {},
): ReadableStream<Uint8Array> {
  const level = checkLevel(options.level);
  const segments = name.split("/");
  if (
    name.length === 0 || name.includes("\\") || name.includes("\0") || /^[A-Za-z]:/.test(name) ||
    segments.some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Creating the zip archive failed: entry name ${JSON.stringify(name)} is not a safe relative path`,
      {
        hint: "use a relative name with / separators and no . or .. segments",
      },
    );
  }
  return zipEntries(
    async function* () {
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        throw ioError(`Reading ${path}`, err);
      }
      if (!st.isFile()) {
        throw new EnvelopeError("IO_FAILED", `Reading ${path} failed: it is not a regular file`, {
          hint: "pass a regular file",
        });
      }
      // The caller named this file, so a link given here is followed.
      const real = await realpath(path).catch((err) => {
        throw ioError(`Reading ${path}`, err);
      });
      yield {
        kind: "file",
        name,
        path: real,
        exec: (Number(st.mode) & 0o111) !== 0,
        mtime: Math.floor(Number(st.mtimeMs) / 1000),
      };
    },
    level,
    options.times === true,
    deflateHere,
  );
}
