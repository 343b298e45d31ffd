/**
 * Safe extraction of zip archives into a folder.
 *
 * The archive is read through its central directory (the listing every
 * mainstream reader trusts), so a stream is first spooled to a temporary
 * file on disk beside the output; nothing holds the archive, or an entry
 * over 1 MiB, in memory. Entries are inflated by `node:zlib` (native, with a
 * fixed 32 KiB window): one over 1 MiB in small pieces through a raw inflate
 * stream, a smaller one whole through one zlib handle reused from entry to
 * entry (zip_inflate_whole.ts). The extractor checks each one's CRC-32 and
 * length (a raw deflate stream carries neither).
 *
 * Safety rules, all enforced before or while writing:
 * - Entry names must be relative UTF-8 paths with `/` separators: absolute
 *   names (`/x`, `C:x`, `\\x`), any backslash, NUL, and empty, `.` or `..`
 *   segments are refused with `UNSAFE_PATH`, as are names that would resolve
 *   outside the target.
 * - Special files (Unix type bits in the external attributes) are refused
 *   with `UNSAFE_PATH`. Symbolic-link entries are refused the same way
 *   unless `links` says otherwise ({@linkcode ExtractLinkPolicy}): `"skip"`
 *   leaves them out (through `onWarning`); `"create"` makes each link after
 *   every file is written (so nothing is ever written through one), and only
 *   when its target is relative, with `..` only at its start, and stays
 *   inside the output folder; any other target fails with `UNSAFE_PATH`.
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
 * `0644` (less the umask). Modification times are restored from
 * extended-timestamp fields (0x5455; archives without them, such as
 * Python's, leave the time of extraction), for files and for the folders the
 * archive lists (a merge keeps the existing folders' times).
 *
 * An entry of up to 1 MiB is read, inflated and checked (size, CRC-32) in
 * memory before its file is created, then written with blocking calls (as
 * promises, the open, write, time and close each hand off to a thread pool,
 * which costs more CPU than the calls themselves); these entries go one at a
 * time, in archive order, through the reader's reused window and the reused
 * inflater. A larger one streams; {@linkcode EXTRACT_CONCURRENCY} of them at
 * once, beside the small ones.
 *
 * @module
 */
import { mkdir, mkdtemp, open, realpath, rename, rm, stat, symlink, utimes } from "node:fs/promises";
import process from "node:process";
import { setImmediate } from "node:timers";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { EnvelopeError } from "../errors.ts";
import { errCode, invalid, ioError, tooLarge, unsafe } from "./unzip_errors.ts";
import { type Budget, extractFile, readsWhole, readWhole, writeAll } from "./zip_inflate.ts";
import { WholeInflater } from "./zip_inflate_whole.ts";
import {
  applyMerge,
  checkMergeFolder,
  countFolders,
  decodeName,
  isNameOf,
  planMerge,
  safeSegments,
} from "./zip_paths.ts";
import {
  DEFAULT_MAX_ENTRIES,
  type Entry,
  type ExtractLinkPolicy,
  readDirectory,
  Reader,
  SIG_LOCAL,
  u16,
  u32,
} from "./zip_reader.ts";
import { linkStaysInside } from "./zip_walk.ts";

export type { ExtractLinkPolicy } from "./zip_reader.ts";

/** Entries over 1 MiB extracted at once (beside the one lane of the smaller ones). */
export const EXTRACT_CONCURRENCY = 4;

export { crc32 } from "./zip_inflate.ts";
export { safeSegments } from "./zip_paths.ts";

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
  /** What to do with symbolic-link entries (default `"refuse"`). */
  links?: ExtractLinkPolicy;
  /** Restore modification times from extended-timestamp fields (default true). */
  times?: boolean;
  /** Called with a message for each entry left out (links, with `links: "skip"`). */
  onWarning?: (message: string) => void;
  /**
   * Called with the staging folder as soon as it exists, and with
   * `undefined` once it is gone: it holds extracted plaintext until the
   * extraction is put in place, so a caller that can be interrupted (the
   * CLI on SIGINT) removes it then.
   */
  onStaging?: (path: string | undefined) => void;
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
export { DEFAULT_MAX_ENTRIES } from "./zip_reader.ts";
const SPOOL_SLACK = 256 * 1024 ** 2;

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

/** Items for {@linkcode inLanes}, and how many of them may be in progress at once. */
interface Queue<T> {
  items: T[];
  lanes: number;
}

/**
 * Runs `job` over the items of every queue, at most `lanes` of each queue's at a time, the queues side by side;
 * after a failure no new job starts, every running one is awaited, and the first error is thrown.
 */
async function inLanes<T>(queues: Queue<T>[], job: (item: T) => Promise<void>): Promise<void> {
  let failure: { err: unknown } | undefined;
  const lane = async (q: Queue<T>, taken: { next: number }) => {
    while (failure === undefined && taken.next < q.items.length) {
      const item = q.items[taken.next++];
      try {
        await job(item);
      } catch (err) {
        failure ??= { err };
      }
      // Small entries complete without a turn of the event loop (blocking writes, reads from the window), which
      // would hold up the large entries' lanes and the runtime's own tasks. A turn every 64 entries keeps them going.
      // Not a timer: a chain of zero timeouts is clamped to 4 ms each from the sixth on (the HTML rule Deno keeps),
      // which left extraction idle a third of its time.
      if (taken.next % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(queues.flatMap((q) => {
    const taken = { next: 0 };
    return Array.from({ length: Math.min(q.lanes, q.items.length) }, () => lane(q, taken));
  }));
  if (failure !== undefined) throw failure.err;
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
  const links = options.links ?? "refuse";
  if (links !== "refuse" && links !== "skip" && links !== "create") {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Extracting the zip archive failed: unknown link policy ${String(links)}`,
      {
        hint: 'use "refuse", "skip" or "create"',
      },
    );
  }
  const times = options.times !== false;
  let outAbs = resolve(outDir);

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
  // An existing folder named through the user's own link is the folder it leads to, resolved once, here; a folder
  // someone else can change is not merged into (zip_paths.ts checkMergeFolder), before anything is read.
  const owners = { uid: process.getuid?.(), outDirOwner: undefined as number | undefined };
  if (merge) {
    outAbs = await realpath(outAbs).catch((err) => {
      throw ioError(`Checking ${outDir}`, err);
    });
    owners.outDirOwner = (await stat(outAbs)).uid;
    await checkMergeFolder(outAbs, outDir, owners);
  }

  let madeParent: string | undefined;
  let staging: string | undefined;
  let fh: FileHandle | undefined;
  const inflater = new WholeInflater();
  let committed = false;
  try {
    const parent = merge ? outAbs : dirname(outAbs);
    try {
      if (!merge) madeParent = await mkdir(parent, { recursive: true });
      // `.NAME.envelope-<pid>-XXXXXX`: the CLI's sweep (cli/temp_files.ts) removes it once its owner is gone.
      staging = await mkdtemp(join(parent, `.${basename(outAbs).slice(0, 60)}.envelope-${process.pid}-`));
      options.onStaging?.(staging);
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
    const directory = await readDirectory(r, maxEntries, links);
    const cdOffset = directory.cdOffset;
    for (const e of directory.entries) {
      if (e.link && links === "skip") options.onWarning?.(`Skipped link ${e.name}: links are skipped`);
      if (!times) e.mtime = undefined;
    }
    // What ends up in the output: skipped links are not.
    const entries = directory.entries.filter((e) => !(e.link && links === "skip"));

    // Folders count as entries, the ones the paths imply included: 200 entries 1,900 folders deep once made folders
    // for minutes. (The depth bound, zip_paths.ts, limits what one entry can imply.)
    const fileCount = entries.filter((e) => !e.dir).length;
    const made = fileCount + countFolders(entries, maxEntries - fileCount);
    if (made > maxEntries) {
      throw tooLarge(`its paths make over ${maxEntries} files and folders (the limit of entries)`);
    }
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
    const madeDirs = new Set<string>();
    // The output path is joined again when each job runs, rather than kept for every entry until then.
    const files: Entry[] = [];
    const linkEntries: Entry[] = [];
    const targetOf = (e: Entry) => join(tree, ...safeSegments(e.name));
    for (const e of directory.entries) {
      options.onEntry?.(e.name);
      const target = targetOf(e);
      if (!(target + sep).startsWith(tree + sep)) throw unsafe(e.name, "it resolves outside the output folder");
      // The header's fields are taken before the name is read: that read may replace the window (zip_reader.ts).
      const h = await r.at(e.offset, 30);
      if (u32(h, 0) !== SIG_LOCAL) throw invalid(`the local header of ${JSON.stringify(e.name)} is missing`);
      if (u16(h, 6) & 1) throw invalid(`entry ${JSON.stringify(e.name)} is encrypted, which is not supported`);
      const localMethod = u16(h, 8);
      const nameLen = u16(h, 26);
      const extraLen = u16(h, 28);
      const localName = await r.at(e.offset + 30, nameLen);
      if (!isNameOf(localName, e.name)) {
        throw invalid(`the local and central names of ${JSON.stringify(e.name)} differ`);
      }
      const dataStart = e.offset + 30 + nameLen + extraLen;
      if (dataStart + e.csize > nextStart(e.offset)) {
        throw invalid(`the data of ${JSON.stringify(e.name)} overlaps another entry or the directory`);
      }
      if (e.link && links === "skip") continue;
      if (e.dir) {
        try {
          await mkdir(target, { recursive: true });
          madeDirs.add(target);
        } catch (err) {
          if (errCode(err) === "EEXIST" || errCode(err) === "ENOTDIR") {
            throw invalid(`folder entry ${JSON.stringify(e.name)} clashes with a file`);
          }
          throw ioError(`Creating ${target}`, err);
        }
        continue;
      }
      if (localMethod !== e.method) {
        throw invalid(`the local and central headers of ${JSON.stringify(e.name)} disagree`);
      }
      if (!madeDirs.has(dirname(target))) {
        try {
          await mkdir(dirname(target), { recursive: true });
          madeDirs.add(dirname(target));
        } catch (err) {
          if (errCode(err) === "EEXIST" || errCode(err) === "ENOTDIR") {
            throw invalid(`entry ${JSON.stringify(e.name)} needs a folder where the archive has a file`);
          }
          throw ioError(`Creating ${dirname(target)}`, err);
        }
      }
      e.dataStart = dataStart;
      (e.link ? linkEntries : files).push(e);
    }
    // Small entries take one lane, in archive order: each is read through the reader's window and inflated into
    // the inflater's buffer, whose views hold only until the next read or inflate, and is written with blocking
    // calls, so more lanes would only take turns. Large entries stream through buffers of their own, on lanes
    // beside it.
    const small = files.filter(readsWhole);
    const large = files.filter((e) => !readsWhole(e));
    await inLanes(
      [{ items: small, lanes: 1 }, { items: large, lanes: EXTRACT_CONCURRENCY }],
      (e) => extractFile(r, e, targetOf(e), budget, inflater),
    );
    // Links last: no file is written after them, so none is written through one.
    for (const e of linkEntries) {
      const target = targetOf(e);
      const text = decodeName(await readWhole(r, e, budget, inflater));
      if (!linkStaysInside(e.name, text)) {
        throw unsafe(e.name, `it is a link to ${JSON.stringify(text)}, which is not a relative path inside the folder`);
      }
      try {
        await symlink(text, target);
      } catch (err) {
        if (errCode(err) === "EEXIST") {
          throw invalid(`entry ${JSON.stringify(e.name)} appears twice or clashes with a folder`);
        }
        throw ioError(`Creating link ${target}`, err);
      }
    }
    // Folder times last, deepest first, since writing into a folder changes its time.
    if (!merge) {
      const dated = entries.filter((e) => e.dir && e.mtime !== undefined).sort((a, b) => b.name.length - a.name.length);
      for (const e of dated) {
        const target = targetOf(e);
        await utimes(target, e.mtime!, e.mtime!).catch((err) => {
          throw ioError(`Setting the time of ${target}`, err);
        });
      }
    }
    await fh.close();
    fh = undefined;

    if (merge) {
      await planMerge(outAbs, entries, force);
      await applyMerge(tree, outAbs, entries, owners);
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
    inflater.close();
    await fh?.close().catch(() => {});
    if (staging) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      options.onStaging?.(undefined);
    }
    if (!committed && madeParent) await rm(madeParent, { recursive: true, force: true }).catch(() => {});
  }
}
