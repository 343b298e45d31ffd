/**
 * Deterministic, streaming zip archives of a directory tree.
 *
 * {@linkcode zipDirectory} returns a web `ReadableStream` of the archive
 * bytes. The tree is walked and files are read in 64 KiB pieces only when the
 * consumer pulls, so neither the archive nor any whole file is held in memory.
 *
 * fflate's `Zip` writes the container (headers, data descriptors, central
 * directory); file data is deflated by `node:zlib` (native zlib on Deno and
 * Node), several times faster than fflate's JavaScript deflate. A file of
 * 64 KiB or more whose first 64 KiB do not shrink under deflate (random,
 * encrypted or already compressed data) is stored instead (method 0), since
 * deflating it is the slowest step and gains nothing; see `shouldStore`.
 * Smaller files, and every file at level 0, are deflated, as Python's
 * `make_archive` does.
 *
 * Determinism: the same tree (names, contents, executable bits) always gives
 * the same bytes with the same zlib (pieces are always 64 KiB but the last,
 * so zlib sees the same input split the same way). Every entry carries the DOS epoch, 1980-01-01 00:00:00, as
 * its time; Unix mode `0644` for files, `0755` for files with any execute
 * bit, `0755` for directories; made-by "Unix"; a data descriptor (fflate
 * streams every entry). Entry names are UTF-8 paths relative to the
 * directory, `/`-separated, with no `./` and no top folder.
 *
 * What is stored: regular files and directories. A symbolic link to a
 * regular file inside the tree is stored as a regular file with the target's
 * contents (as Python's `shutil.make_archive` does); any other link (to a
 * directory, out of the tree, or dangling), and special files (FIFOs,
 * sockets, devices), are skipped and reported through `onWarning`. Names
 * that contain a backslash are skipped too, since no safe extractor,
 * including ours, would accept them, and so are names that are not valid
 * UTF-8 (the file system's listing cannot be read back under them).
 *
 * Limits: fflate writes no ZIP64 records, so a file or an archive of 4 GiB or
 * more, or more than 65,535 entries, fails with `LIMIT_EXCEEDED` instead of
 * producing a corrupt archive.
 *
 * @module
 */
import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { constants as fsConstants } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Zip, ZipPassThrough } from "fflate";
import { EnvelopeError } from "../errors.ts";

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
  /** Called with a message for each link or special file that is skipped. */
  onWarning?: (message: string) => void;
  /**
   * Paths to leave out silently (files or folders, which need not exist yet).
   * The tree is walked while the stream is read, so an output written inside
   * the folder being zipped must be excluded here or it would be archived.
   */
  exclude?: string[];
}

/** Options for {@linkcode zipSingleFile}. */
export interface ZipSingleFileOptions {
  /** Deflate level 0-9 (default 6). */
  level?: number;
}

/** The size of each read from a file. */
import { type Entry, ioError, walkEnvelope, walkMakeArchive } from "./zip_walk.ts";
import {
  checkLevel,
  DOS_EPOCH,
  type Level,
  OS_UNIX,
  PIECE,
  readFull,
  shouldStore,
  ZipFileData,
} from "./zip_entry_data.ts";

const ATTR_FILE = 0o100644 * 0x10000;
const ATTR_EXEC = 0o100755 * 0x10000;
/** Unix directory mode plus the MS-DOS directory bit, as Python's zipfile writes. */
const ATTR_DIR = 0o040755 * 0x10000 + 0x10;
/** Offsets and sizes must stay below this without ZIP64. */
const ZIP32_LIMIT = 0xffffffff;
const MAX_ENTRIES = 0xffff;

/** Turns a lazy sequence of entries into a pull-driven stream of zip bytes. */
function zipEntries(
  entries: () => AsyncIterator<Entry>,
  level: Level,
): ReadableStream<Uint8Array> {
  const queue: Uint8Array[] = [];
  let failure: unknown = undefined;
  let finished = false;
  let emitted = 0;
  let count = 0;
  const zip = new Zip((err, chunk, final) => {
    if (err) {
      failure ??= err;
      return;
    }
    emitted += chunk.length;
    queue.push(chunk);
    if (final) finished = true;
  });
  let iterator: AsyncIterator<Entry> | undefined;
  /** The file being added; `pending` is the length of a first piece already in the read buffer. */
  let current: { fh: FileHandle; file: ZipFileData; name: string; size: number; pending?: number } | undefined;
  let ended = false;
  const readBuf = new Uint8Array(PIECE);

  const closeCurrent = async () => {
    const c = current;
    current = undefined;
    if (c) {
      c.file.terminate();
      await c.fh.close().catch(() => {});
    }
  };

  const addEntry = async (entry: Entry) => {
    if (++count > MAX_ENTRIES) {
      throw new EnvelopeError("LIMIT_EXCEEDED", `Creating the zip archive failed: more than ${MAX_ENTRIES} entries`, {
        hint: "split the folder into several archives",
      });
    }
    if (entry.kind === "dir") {
      const d = new ZipPassThrough(entry.name);
      d.mtime = DOS_EPOCH;
      d.os = OS_UNIX;
      d.attrs = ATTR_DIR;
      zip.add(d);
      d.push(new Uint8Array(0), true);
      return;
    }
    let fh: FileHandle;
    try {
      // No following: a file swapped for a link after the listing is not read through it.
      fh = await open(entry.path, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
    } catch (err) {
      throw ioError(`Reading ${entry.path}`, err);
    }
    // The first piece is read before the entry is added: its local header names the method.
    let first: number;
    try {
      first = await readFull(fh, readBuf);
    } catch (err) {
      await fh.close().catch(() => {});
      throw ioError(`Reading ${entry.name}`, err);
    }
    const store = shouldStore(readBuf.subarray(0, first), level);
    const file = new ZipFileData(entry.name, entry.exec ? ATTR_EXEC : ATTR_FILE, level, store);
    zip.add(file);
    current = { fh, file, name: entry.name, size: 0, pending: first };
  };

  /** Does one unit of work: one file piece, one new entry, or the end. */
  const step = async () => {
    if (current) {
      const c = current;
      // push resolves once zlib has consumed the piece, so one read buffer serves every piece.
      const buf = readBuf;
      let n = c.pending;
      c.pending = undefined;
      try {
        n ??= await readFull(c.fh, buf);
      } catch (err) {
        throw ioError(`Reading ${c.name}`, err);
      }
      c.size += n;
      if (c.size >= ZIP32_LIMIT || emitted + n >= ZIP32_LIMIT) {
        throw new EnvelopeError(
          "LIMIT_EXCEEDED",
          `Creating the zip archive failed: ${c.name} makes it 4 GiB or more, which needs ZIP64`,
          {
            hint: "archive large files separately or encrypt them as single files",
          },
        );
      }
      const last = n < PIECE;
      if (last) {
        current = undefined;
        await c.fh.close().catch(() => {});
      }
      try {
        await c.file.push(buf.subarray(0, n), last);
      } catch (err) {
        c.file.terminate();
        throw new EnvelopeError("IO_FAILED", `Creating the zip archive failed: compressing ${c.name} failed`, {
          hint: "try again; if it persists, report it with the file",
          cause: err,
        });
      }
      return;
    }
    iterator ??= entries();
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      zip.end();
    } else {
      await addEntry(next.value);
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (queue.length === 0 && !finished && !ended && failure === undefined) await step();
        if (failure !== undefined) {
          throw new EnvelopeError("IO_FAILED", "Creating the zip archive failed: the compressor reported an error", {
            cause: failure,
          });
        }
        if (emitted >= ZIP32_LIMIT) {
          throw new EnvelopeError(
            "LIMIT_EXCEEDED",
            "Creating the zip archive failed: it reached 4 GiB, which needs ZIP64",
            {
              hint: "archive large files separately or encrypt them as single files",
            },
          );
        }
        while (queue.length > 0) controller.enqueue(queue.shift()!);
        if (finished) controller.close();
      } catch (err) {
        await closeCurrent();
        await iterator?.return?.(undefined);
        throw err;
      }
    },
    async cancel() {
      await closeCurrent();
      await iterator?.return?.(undefined);
    },
  }, { highWaterMark: 0 });
}

/**
 * Zips the tree under `dir` into a stream of archive bytes.
 *
 * Errors surface when the stream is read: `IO_FAILED` when a file or folder
 * cannot be read, `LIMIT_EXCEEDED` past 4 GiB or 65,535 entries,
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
  return zipEntries(async function* () {
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
    yield* walk({ root, warn, exclude }, root, "");
  }, level);
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
  return zipEntries(async function* () {
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
    yield { kind: "file", name, path: real, exec: (Number(st.mode) & 0o111) !== 0 };
  }, level);
}
