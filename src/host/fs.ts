/**
 * The file calls the CLI and the key files make, without Deno's Node layer.
 *
 * Under Deno these are `Deno.*` calls: importing `node:fs` would start the
 * Node compatibility layer, about 15 ms of every run of a CLI that scripts
 * call once per file (`scripts/bench_startup.ts`), and `node:fs` writes run on
 * the JavaScript thread, where `Deno.FsFile` writes run beside it. On Node
 * they are `node:fs/promises`, taken from the runtime. Either way the shapes
 * are Node's (`Stats`-like methods, `{ bytesRead }`), and errors keep their
 * `code` (`ENOENT`, `EEXIST`...), which `cli/io_errors.ts` maps to typed
 * errors.
 *
 * What only Node offers (a non-blocking open, `O_NOCTTY` for devices, `fstat`
 * of a descriptor) stays with `node:fs` in the rare paths that need it.
 *
 * @module
 */
import type * as NodeFsPromises from "node:fs/promises";
import type * as NodeFs from "node:fs";

/** What is known of a file (the subset of Node's `Stats` the CLI reads). */
export interface FileStats {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
  readonly size: number;
  readonly mode: number;
  readonly dev: number;
  readonly ino: number;
  readonly uid: number;
  readonly mtimeMs: number;
}

/** An open file (the subset of Node's `FileHandle` the CLI uses). */
export interface FileHandle {
  /** Reads into `buffer[offset, offset + length)` at `position`, or at the current offset for `null`. */
  read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  /** Writes `buffer[offset, offset + length)` at the current offset. */
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  stat(): Promise<FileStats>;
  sync(): Promise<void>;
  /** `fdatasync(2)`: the data and the size, not the other metadata. */
  datasync(): Promise<void>;
  close(): Promise<void>;
  /**
   * Deno only: {@linkcode FileHandle.write} on the JavaScript thread, for the
   * few calls on a regular file that cannot wait on anything but the page
   * cache (the one write of a small file). Undefined while another call on the
   * handle is in flight: then the caller uses `write`.
   */
  readonly writeSync?: (buffer: Uint8Array, offset: number, length: number) => number | undefined;
  /** Deno only: {@linkcode FileHandle.read} on the JavaScript thread, likewise (a small regular file, or its end). */
  readonly readSync?: (
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ) => number | undefined;
}

/** How a file is opened: to read, or to write a new file (fails if anything is there). */
export type OpenMode = "r" | "wx";

/** A folder entry (the subset of Node's `Dirent` the CLI reads). */
export interface DirEntry {
  readonly name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

interface DenoFileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  isFifo: boolean | null;
  isSocket: boolean | null;
  isBlockDevice: boolean | null;
  isCharDevice: boolean | null;
  size: number;
  mode: number | null;
  dev: number;
  ino: number | null;
  uid: number | null;
  mtime: Date | null;
}

interface DenoFsFile {
  read(p: Uint8Array): Promise<number | null>;
  readSync(p: Uint8Array): number | null;
  write(p: Uint8Array): Promise<number>;
  writeSync(p: Uint8Array): number;
  seek(offset: number, whence: number): Promise<number>;
  seekSync(offset: number, whence: number): number;
  statSync(): DenoFileInfo;
  sync(): Promise<void>;
  syncData(): Promise<void>;
  close(): void;
}

/** The part of Deno's namespace used here. */
interface DenoFs {
  open(
    path: string,
    options: {
      read?: boolean;
      write?: boolean;
      createNew?: boolean;
      mode?: number;
    },
  ): Promise<DenoFsFile>;
  stat(path: string): Promise<DenoFileInfo>;
  lstatSync(path: string): DenoFileInfo;
  statSync(path: string): DenoFileInfo;
  realPathSync(path: string): string;
  linkSync(from: string, to: string): void;
  renameSync(from: string, to: string): void;
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  removeSync(path: string, options?: { recursive?: boolean }): void;
  chmodSync(path: string, mode: number): void;
  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number }): void;
  readDir(path: string): AsyncIterable<{ name: string; isFile: boolean; isDirectory: boolean; isSymlink: boolean }>;
  readFile(path: string): Promise<Uint8Array>;
}

const deno = (globalThis as { Deno?: DenoFs }).Deno;

/**
 * Node's modules, imported only on Node (in Deno the branch never runs, so
 * the Node layer stays unloaded). An import rather than
 * `process.getBuiltinModule`, which Node has only from 20.16 and 22.3.
 */
const nodeModules = deno
  ? undefined
  : { promises: await import("node:fs/promises"), sync: await import("node:fs") } as {
    promises: typeof NodeFsPromises;
    sync: typeof NodeFs;
  };
const nodeFs = () => nodeModules!.promises;
const nodeFsSync = () => nodeModules!.sync;

function denoStats(i: DenoFileInfo): FileStats {
  return {
    isFile: () => i.isFile,
    isDirectory: () => i.isDirectory,
    isSymbolicLink: () => i.isSymlink,
    isFIFO: () => i.isFifo === true,
    isSocket: () => i.isSocket === true,
    isBlockDevice: () => i.isBlockDevice === true,
    isCharacterDevice: () => i.isCharDevice === true,
    size: i.size,
    mode: i.mode ?? 0,
    dev: i.dev,
    ino: i.ino ?? 0,
    uid: i.uid ?? 0,
    mtimeMs: i.mtime?.getTime() ?? 0,
  };
}

/**
 * A Deno file with Node's handle shape. Deno has no positioned read, so a
 * read at a position seeks first (only when the file is not already there);
 * reads and writes run one at a time, in call order, so that two calls in
 * flight together cannot move each other's position, as `pread` would
 * promise.
 */
function denoHandle(file: DenoFsFile): FileHandle {
  let at = 0;
  let queue: Promise<unknown> = Promise.resolve();
  // Calls queued or running: the synchronous calls run only when there are none, so they never move the
  // position under one of them.
  let busy = 0;
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    busy++;
    const run = queue.then(op, op).finally(() => busy--);
    queue = run.catch(() => {});
    return run;
  };
  return {
    writeSync(buffer, offset, length) {
      if (busy > 0) return undefined;
      const n = file.writeSync(buffer.subarray(offset, offset + length));
      at += n;
      return n;
    },
    readSync(buffer, offset, length, position) {
      if (busy > 0) return undefined;
      if (position !== null && position !== at) at = file.seekSync(position, 0);
      const n = file.readSync(buffer.subarray(offset, offset + length)) ?? 0;
      at += n;
      return n;
    },
    read: (buffer, offset, length, position) =>
      serial(async () => {
        if (position !== null && position !== at) at = await file.seek(position, 0);
        const n = (await file.read(buffer.subarray(offset, offset + length))) ?? 0;
        at += n;
        return { bytesRead: n };
      }),
    write: (buffer, offset, length) =>
      serial(async () => {
        const n = await file.write(buffer.subarray(offset, offset + length));
        at += n;
        return { bytesWritten: n };
      }),
    stat() {
      // fstat of an open file never waits: synchronous, as the metadata calls below.
      return Promise.resolve(denoStats(file.statSync()));
    },
    sync: () => serial(() => file.sync()),
    datasync: () => serial(() => file.syncData()),
    close: () => serial(() => Promise.resolve(file.close())),
  };
}

const DENO_OPEN = {
  r: { read: true },
  wx: { write: true, createNew: true },
} as const;

/**
 * Opens `path` (`mode` is the permission bits of a file it creates, before
 * the umask). Asynchronous under Deno, unlike the metadata calls below: an
 * open for reading may wait for a FIFO's writer (and the process must still
 * answer Ctrl-C meanwhile), and creating a file in a large folder took about
 * 0.5 ms on the machine of docs/benchmarks.md, time better spent beside the
 * JavaScript thread than on it.
 */
export async function open(path: string, how: OpenMode, mode = 0o666): Promise<FileHandle> {
  if (deno) return denoHandle(await deno.open(path, how === "r" ? DENO_OPEN.r : { ...DENO_OPEN[how], mode }));
  return await nodeFs().open(path, how, mode) as unknown as FileHandle;
}

/**
 * What is at `path`, not following a final link.
 *
 * Under Deno this and the other metadata calls here (stat, realpath, link,
 * rename, unlink, chmod, mkdir) are synchronous: each costs 3 to 4 µs of the
 * JavaScript thread, where an asynchronous one hands off to a thread and back
 * for 15 to 20 (a throwaway loop on the 2-core machine of docs/benchmarks.md), and
 * the CLI makes about ten of them per file. None of them waits on anything
 * but the file system; the calls that move data, and the opens for reading,
 * stay asynchronous.
 */
export async function lstat(path: string): Promise<FileStats> {
  if (!deno) return await nodeFs().lstat(path);
  // Nothing there (ENOENT) is the usual answer for a new output, once per file of a batch; its error is only ever
  // read for its code, so it is made without capturing a stack trace.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return denoStats(deno.lstatSync(path));
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** What is at `path`, following links. */
export async function stat(path: string): Promise<FileStats> {
  return deno ? denoStats(deno.statSync(path)) : await nodeFs().stat(path);
}

/** {@linkcode stat} without waiting (a file's size, to weigh a batch job). */
export function statSync(path: string): FileStats {
  return deno ? denoStats(deno.statSync(path)) : nodeFsSync().statSync(path);
}

/** True when `path` names something (following links), without waiting. */
export function existsSync(path: string): boolean {
  if (!deno) return nodeFsSync().existsSync(path);
  try {
    deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The path with every link and `.`/`..` resolved. */
export async function realpath(path: string): Promise<string> {
  return deno ? deno.realPathSync(path) : await nodeFs().realpath(path);
}

/** Makes the hard link `to` of `from`; fails with `EEXIST` if anything is at `to`. */
export async function link(from: string, to: string): Promise<void> {
  return deno ? deno.linkSync(from, to) : await nodeFs().link(from, to);
}

export async function rename(from: string, to: string): Promise<void> {
  return deno ? deno.renameSync(from, to) : await nodeFs().rename(from, to);
}

/**
 * Removes a file. (Under Deno an empty folder would go too, where Node
 * refuses; the CLI passes only the names of its own temporary files.)
 */
export async function unlink(path: string): Promise<void> {
  return deno ? deno.removeSync(path) : await nodeFs().unlink(path);
}

/** Removes `path`, a whole folder with `recursive`; with `force`, nothing there is no error. */
export async function rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
  if (!deno) return await nodeFs().rm(path, options);
  try {
    await deno.remove(path, { recursive: options.recursive });
  } catch (e) {
    if (!(options.force && (e as { code?: string }).code === "ENOENT")) throw e;
  }
}

/** {@linkcode rm} without waiting (for the way out of a signal). */
export function rmSync(path: string, options: { recursive?: boolean; force?: boolean } = {}): void {
  if (!deno) return nodeFsSync().rmSync(path, options);
  try {
    deno.removeSync(path, { recursive: options.recursive });
  } catch (e) {
    if (!(options.force && (e as { code?: string }).code === "ENOENT")) throw e;
  }
}

export async function chmod(path: string, mode: number): Promise<void> {
  return deno ? deno.chmodSync(path, mode) : await nodeFs().chmod(path, mode);
}

/** Makes a folder (and its parents with `recursive`, where one already there is no error). */
export async function mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Promise<void> {
  if (deno) return deno.mkdirSync(path, options);
  await nodeFs().mkdir(path, options);
}

/**
 * The entries of a folder, with their types (not following links), read as
 * they are asked for: stopping early (a `break`) reads no more of a large
 * folder (Deno's `readDir`, Node's `opendir`) and closes it.
 */
export async function* readdirEach(path: string): AsyncGenerator<DirEntry> {
  if (!deno) {
    for await (const e of await nodeFs().opendir(path)) yield e;
    return;
  }
  for await (const e of deno.readDir(path)) {
    yield { name: e.name, isFile: () => e.isFile, isDirectory: () => e.isDirectory, isSymbolicLink: () => e.isSymlink };
  }
}

/** The entries of a folder, with their types (not following links). */
export async function readdir(path: string): Promise<DirEntry[]> {
  if (!deno) return await nodeFs().readdir(path, { withFileTypes: true });
  const out: DirEntry[] = [];
  for await (const e of deno.readDir(path)) {
    out.push({
      name: e.name,
      isFile: () => e.isFile,
      isDirectory: () => e.isDirectory,
      isSymbolicLink: () => e.isSymlink,
    });
  }
  return out;
}

/** The whole of a (small) file. */
export async function readFile(path: string): Promise<Uint8Array> {
  return deno ? await deno.readFile(path) : new Uint8Array(await nodeFs().readFile(path));
}

const NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Makes a new folder, mode 0700, named `prefix` plus six random letters and
 * digits, as `mkdtemp(3)` does; returns its path.
 */
export async function mkdtemp(prefix: string): Promise<string> {
  if (!deno) return await nodeFs().mkdtemp(prefix);
  for (let attempt = 0;; attempt++) {
    const random = crypto.getRandomValues(new Uint8Array(6));
    const path = prefix + Array.from(random, (b) => NAME_CHARS[b % NAME_CHARS.length]).join("");
    try {
      deno.mkdirSync(path, { mode: 0o700 });
      return path;
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST" || attempt >= 100) throw e;
    }
  }
}

/** How long {@linkcode openFileNoWait} lets an open wait before it refuses the path. */
const OPEN_WAIT_LIMIT_MS = 2000;

/**
 * Opens `path` for reading without ever waiting for a FIFO's writer, for a
 * path that was a regular file when last looked at but may have been swapped
 * since: the caller checks `stat()` of the handle, which says FIFO. On Node
 * that is `O_NONBLOCK`. Deno has no such flag, so while the open has not
 * finished the path is looked at again (`stat`, following links as the open
 * does; an operation of its own, so the first rounds need no timer, whose
 * first use costs Deno about 6 ms); if a FIFO is there now, its other end is
 * opened (write only: no create, no truncate; never awaited, so a FIFO
 * swapped again cannot make this wait) and closed, which lets the open
 * finish, and the handle is returned for the caller to refuse. An open still
 * waiting after {@linkcode OPEN_WAIT_LIMIT_MS} (a FIFO whose other end may
 * not be opened, one replaced again) is refused with an error saying it is
 * not a regular file; that open stays pending in Deno's thread pool until a
 * writer comes, which the CLI's exit ends.
 */
export async function openFileNoWait(path: string): Promise<FileHandle> {
  if (!deno) {
    const { constants } = nodeFsSync();
    return await nodeFs().open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)) as unknown as FileHandle;
  }
  let settled = false;
  const opening = deno.open(path, DENO_OPEN.r).finally(() => (settled = true));
  opening.catch(() => {}); // awaited below; this only keeps an early failure from being reported as unhandled
  const started = performance.now();
  let releases = 0;
  for (let round = 0; !settled; round++) {
    const now = await deno.stat(path).catch(() => null);
    if (settled) break;
    if (now?.isFifo && releases < 3) {
      releases++;
      deno.open(path, { write: true }).then((f) => f.close(), () => {});
    }
    if (performance.now() - started > OPEN_WAIT_LIMIT_MS) {
      throw Object.assign(new Error("it is not a regular file (opening it waited for a writer)"), { code: "EWAITED" });
    }
    // A regular file opens within a round or two; past those, wait a little between looks instead of spinning.
    if (round >= 16) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return denoHandle(await opening);
}

/** Flushes a file that is being written, beside its writes (see {@linkcode dataSyncer}). */
export interface DataSyncer {
  /** `fdatasync(2)` of the file, without waiting for the writes in flight or queued. */
  datasync(): Promise<void>;
  /** Lets go of what the syncer opened (never the writer's handle). */
  close(): Promise<void>;
}

/**
 * Something that flushes the file `fh` (open for writing at `path`, a regular
 * file this process created) while writes to `fh` go on, so that a large
 * output reaches the disk as it is made rather than all at the final fsync.
 *
 * On Node that is `fh` itself: its `datasync()` runs on libuv's pool beside
 * the writes. Deno runs one operation at a time per open file (and so does
 * {@linkcode denoHandle}), so a sync on `fh` would hold up the writes queued
 * behind it; here the syncer is a second descriptor of the same file, opened
 * read only (Linux syncs through any descriptor of the inode), with
 * {@linkcode openFileNoWait} so that a FIFO swapped in at the path cannot
 * make it wait, and refused (`ESTALE`) unless `fstat` shows the very file
 * `fh` writes.
 */
export async function dataSyncer(fh: FileHandle, path: string): Promise<DataSyncer> {
  if (!deno) return { datasync: () => fh.datasync(), close: () => Promise.resolve() };
  const stale = () => Object.assign(new Error("the file at the path is not the one being written"), { code: "ESTALE" });
  // Deno's open cannot refuse a link (no O_NOFOLLOW): look first, so that a link or anything else put in the
  // temporary file's place is not even opened (a device, a FIFO's write end); the fstat below closes the race.
  const a = await fh.stat();
  const there = deno.lstatSync(path);
  if (!there.isFile || there.dev !== a.dev || there.ino !== a.ino) throw stale();
  const other = await openFileNoWait(path);
  try {
    const b = await other.stat();
    if (!b.isFile() || a.dev !== b.dev || a.ino !== b.ino) throw stale();
  } catch (e) {
    await other.close().catch(() => {});
    throw e;
  }
  return { datasync: () => other.datasync(), close: () => other.close() };
}
