/**
 * Where the CLI's output goes, and how it gets there without losing,
 * leaking or replacing anything.
 *
 * - A new or regular file is written to a temporary file beside it (mode
 *   0600, named by temp_files.ts) and put in place only after the whole job
 *   succeeded. Without `--force` that is `link(2)` then `unlink(2)`, which
 *   fails if anything appeared at the path meanwhile (`OUTPUT_EXISTS`), so no
 *   race can replace a file; with `--force` it is `rename(2)`, and only over
 *   a regular file. The final mode is the requested one less the umask.
 * - A link to a file is followed: the temporary file goes beside the target,
 *   which is replaced; the link stays a link. A dangling link is refused
 *   (`OUTPUT_UNSAFE`).
 * - A character device or FIFO (`/dev/null`, `/dev/stdout`, `/dev/fd/N`, a
 *   named pipe) is opened and written directly, with no `--force` needed; a
 *   block device only with `--force`; a socket never.
 *
 * @module
 */
import type * as NodeFs from "node:fs";
import type * as NodeFsPromises from "node:fs/promises";
import type NodeProcess from "node:process";
import {
  chmod,
  type DataSyncer,
  dataSyncer,
  type FileHandle,
  type FileStats,
  link,
  lstat,
  open,
  realpath,
  rename,
  stat,
  unlink,
} from "../host/fs.ts";
import { dirname } from "../host/path.ts";
import { umask } from "../host/process.ts";
import { EnvelopeError } from "../errors.ts";
import { isObjectUrl } from "../s3/url.ts";
import { errnoCode, ioError } from "./io_errors.ts";
import type { UploadFlags } from "./object_flags.ts";
import { claimStdout, exitOnClosedPipe, exitQuietlyOnClosedStdout, note } from "./output.ts";
import { removeOnSignal, sweepStale, tempPathFor } from "./temp_files.ts";
import { importLater } from "../import_later.ts";

/** What is at an output path, after following a final link. */
export type OutputTarget =
  | { readonly kind: "new"; readonly path: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "special"; readonly path: string };

/** Options for writing an output. */
export interface OutputOptions {
  /** Replace an existing regular file (or write a block device). */
  readonly force: boolean;
  /**
   * Refuse a symbolic link at the path instead of writing through it, even
   * with `force`: for outputs whose names come from a walked tree (`-r`),
   * where a link planted among them could point anywhere.
   */
  readonly noFollow?: boolean;
  /** The mode asked for a new file (default 0644); the umask is taken off it. */
  readonly mode?: number;
  /** The exact mode of the result, umask or not (rewrap in place keeps the file's mode). */
  readonly exactMode?: number;
  /** For an `s3://` or `oss://` output: part size, parts in flight, content type, metadata, SSE. */
  readonly upload?: UploadFlags;
  /** For an object output: the expected size (an upper bound), to choose the part size. */
  readonly expectedSize?: number;
  /** Internal (tests): bytes between the data syncs of a large file instead of {@linkcode SYNC_EVERY_BYTES}. */
  readonly syncEvery?: number;
  /**
   * A file nobody keeps (the archive `decrypt -d` goes through, in its own
   * temporary folder, removed after): written without data syncs or the
   * final fsync, which would only push bytes to the disk that are deleted
   * a moment later. It still appears only complete.
   */
  readonly scratch?: boolean;
  /**
   * The file this output may replace, and no other (rewrap in place): the
   * path must lead to that same file (device, inode, size, modification
   * time) when the output opens and again just before it is renamed over
   * it; else `INPUT_CHANGED` and nothing is replaced.
   */
  readonly replaces?: FileIdentity;
}

/** Which file a path led to, and its size and modification time then (see {@linkcode OutputOptions.replaces}). */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** The identity of a file from its stats. */
export function identityOf(st: FileStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

/** True when `st` is the file `id` names, unchanged. */
function sameFile(st: FileStats | null, id: FileIdentity): boolean {
  return st !== null && st.isFile() && st.dev === id.dev && st.ino === id.ino && st.size === id.size &&
    st.mtimeMs === id.mtimeMs;
}

function changedError(path: string): EnvelopeError {
  return new EnvelopeError(
    "INPUT_CHANGED",
    `Writing ${path} failed: it is no longer the file that was read (it was replaced, moved or written meanwhile); nothing was replaced`,
    { hint: "run the command again on the file as it is now" },
  );
}

function unsafe(path: string, why: string, hint: string): EnvelopeError {
  return new EnvelopeError("OUTPUT_UNSAFE", `Writing ${path} failed: ${why}`, { hint });
}

function existsError(path: string): EnvelopeError {
  return new EnvelopeError("OUTPUT_EXISTS", `Writing ${path} failed: it already exists`, {
    hint: "choose another output with -o, or pass --force to replace it",
  });
}

/**
 * Says what is at `path` and refuses what may not be written: an existing
 * regular file without `force` (`OUTPUT_EXISTS`), a dangling link, a socket,
 * a block device without `force` (`OUTPUT_UNSAFE`), a folder (`IO_FAILED`).
 */
export async function resolveTarget(path: string, force: boolean, noFollow = false): Promise<OutputTarget> {
  let st: FileStats;
  try {
    st = await lstat(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { kind: "new", path };
    throw ioError("Writing", path, e);
  }
  let real = path;
  if (st.isSymbolicLink() && noFollow) {
    throw unsafe(
      path,
      "it is a symbolic link, and outputs named after a walked folder are never written through links",
      "remove the link, or write the outputs elsewhere with -o DIR",
    );
  }
  if (st.isSymbolicLink()) {
    try {
      st = await stat(path);
      real = st.isFile() ? await realpath(path) : path;
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT" || code === "ELOOP") {
        throw unsafe(
          path,
          code === "ENOENT" ? "it is a link to something that does not exist" : "it is a loop of links",
          "remove the link or point it at a file, or choose another output with -o",
        );
      }
      throw ioError("Writing", path, e);
    }
  }
  if (noFollow && !st.isFile() && !st.isDirectory()) {
    throw unsafe(path, "it is not a regular file", "remove what is there, or write the outputs elsewhere with -o DIR");
  }
  if (st.isFile()) {
    if (!force) throw existsError(path);
    return { kind: "file", path: real };
  }
  if (st.isDirectory()) {
    throw new EnvelopeError("IO_FAILED", `Writing ${path} failed: it is a directory`, {
      hint: "give -o a file name (decrypt -d DIR extracts a folder)",
    });
  }
  if (st.isSocket()) throw unsafe(path, "it is a socket", "choose a file, a FIFO or a device with -o");
  if (st.isBlockDevice() && !force) {
    throw unsafe(path, "it is a block device", "pass --force to write over the device's contents");
  }
  return { kind: "special", path };
}

/** Refuses an output that may not be written (see {@linkcode resolveTarget}). */
export async function checkWritable(path: string, force: boolean): Promise<void> {
  if (isObjectUrl(path)) {
    return await (await importLater<typeof import("./object_io.ts")>(import.meta.url, "./object_io.ts"))
      .checkObjectWritable(path, force);
  }
  await resolveTarget(path, force);
}

/** An output being written; `commit` makes it final, `abort` undoes what can be undone. */
export interface AtomicOutput {
  readonly path: string;
  /** The temporary file ("" when writing a device or FIFO directly). */
  readonly tempPath: string;
  /** The output as a stream; made when first asked for. */
  readonly stream: WritableStream<Uint8Array>;
  /**
   * Writes `bytes` as the whole output and closes it, as writing them to
   * {@linkcode AtomicOutput.stream} and closing it would, without making the
   * stream (see `files.ts` `OpenInputOptions.whole`). Then `commit`.
   */
  writeAll(bytes: Uint8Array): Promise<void>;
  /** How many data syncs ran while the file was written (before the final fsync). */
  readonly syncs: number;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Bytes gathered before one write to a regular file. A message arrives in
 * chunks of 64 KiB and a little: one write each was about an eighth of the
 * JavaScript thread's time on a 1 GiB encrypt (`bench_cli --profile`: the
 * synchronous entry of each write op). 256 KiB: 1 MiB writes cut the ops
 * further but made 1 GiB decrypts slower in the kernel (by hand, 2026-12-07,
 * not a repository script: strace gave 393 us per write; 1 GiB decrypt under
 * /usr/bin/time 3.39-3.45 s against 2.90-3.10 s at 256 KiB and
 * 3.31-4.15 s with no gathering, three runs each, 2026-12-07). Only regular
 * files are written this way: a FIFO, a device or stdout gets each chunk as
 * it is made, so a reader downstream sees the plaintext as soon as it is
 * verified.
 */
export const GATHER_BYTES = 256 * 1024;

/**
 * Bytes written to a temporary file between the starts of two data syncs.
 * Without them a large output sits dirty in the page cache until the final
 * fsync, which then waits for all of it (about 1.1 s of a 1 GiB encrypt's
 * 3.5 s, by hand); started as the file grows, on a descriptor of their own
 * and at most one at a time, they let the disk work while encryption goes
 * on, and the final fsync finds little left to do. Small files never reach
 * the first one.
 */
export const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

/** What a writer does besides writing. */
interface WriterOptions {
  /** fsync before the stream closes (a temporary file). */
  readonly sync?: boolean;
  /** Gather small chunks into GATHER_BYTES writes (regular files). */
  readonly gather?: boolean;
  /** Called once the stream closed with everything written (and synced). */
  readonly onWritten?: () => void;
  /** Start a data sync each time this many bytes were written, through a {@linkcode dataSyncer} of `tempPath`. */
  readonly syncEvery?: { readonly bytes: number; readonly tempPath: string };
}

/**
 * A web stream writing to `fh`, every error mapped to a typed one naming
 * `path`: `sink` is its underlying sink, which a caller with all the bytes
 * at once may call directly, and `stream` is made only when asked for.
 */
function handleWriter(
  fh: FileHandle,
  path: string,
  onClose: () => Promise<void>,
  options: WriterOptions = {},
) {
  const { sync = false, gather = false, onWritten, syncEvery } = options;
  // Data syncs while the file grows: at most one in flight, never awaited by a write. A failed one fails the
  // output (at the next write or at close): the final fsync on another descriptor might not see the error again.
  let unsynced = 0;
  let syncer: Promise<DataSyncer | undefined> | undefined;
  let syncing: Promise<void> | undefined;
  let syncError: unknown;
  const counts = { syncs: 0 };
  const grew = (n: number) => {
    if (!syncEvery) return;
    unsynced += n;
    if (unsynced < syncEvery.bytes || syncing) return;
    unsynced = 0;
    // No second descriptor (the path no longer names this file): the final fsync alone, as for a small file.
    syncer ??= dataSyncer(fh, syncEvery.tempPath).catch(() => undefined);
    syncing = (async () => {
      const s = await syncer;
      if (!s) return;
      await s.datasync();
      counts.syncs++;
    })().catch((e) => void (syncError ??= e)).finally(() => (syncing = undefined));
  };
  const settleSyncs = async () => {
    await syncing;
    const s = await syncer;
    syncer = Promise.resolve(undefined);
    await s?.close().catch(() => {});
  };
  /** Set by the first asynchronous write. */
  let wrote = false;
  const writeAll = async (bytes: Uint8Array) => {
    wrote = true;
    try {
      if (syncError) throw syncError;
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
    } catch (e) {
      if (errnoCode(e) === "EPIPE") exitOnClosedPipe();
      throw ioError("Writing", path, e);
    }
    grew(bytes.length);
  };
  // The gathering buffer grows with what it holds (16 KiB, then doubling up to GATHER_BYTES), so a small file costs
  // a small buffer: a zeroed 1 MiB one was about 0.1 ms, as much as the rest of a 4 KiB file's encryption. Chunks are
  // copied in at once, since a writer may reuse its buffer as soon as a write resolved.
  let gathered: Uint8Array | undefined;
  let fill = 0;
  const flush = async () => {
    if (fill > 0) {
      const n = fill;
      fill = 0;
      await writeAll(gathered!.subarray(0, n));
    }
  };
  const sink = {
    async write(chunk: Uint8Array) {
      if (!gather || chunk.length >= GATHER_BYTES) {
        await flush();
        return await writeAll(chunk);
      }
      if (fill + chunk.length > GATHER_BYTES) await flush();
      if (!gathered || fill + chunk.length > gathered.length) {
        let size = Math.max(16 * 1024, gathered?.length ?? 0);
        while (size < fill + chunk.length) size *= 2;
        const grown = new Uint8Array(Math.min(size, GATHER_BYTES));
        if (fill > 0) grown.set(gathered!.subarray(0, fill));
        gathered = grown;
      }
      gathered.set(chunk, fill);
      fill += chunk.length;
    },
    async close() {
      if (fill > 0 && !wrote && fh.writeSync) {
        // A small file: all of it is in the gathering buffer, and this is its only write. Written here on the
        // JavaScript thread, as the metadata calls around it are (host/fs.ts): a write of a regular file this
        // process created waits for nothing but the page cache, and each asynchronous call costs a hand-off to
        // a thread and back.
        let off = 0;
        try {
          // undefined: the handle is busy; 0: nothing taken (never for a regular file, but never a loop either).
          for (let n; off < fill && (n = fh.writeSync(gathered!, off, fill - off)) !== undefined && n > 0;) off += n;
        } catch (e) {
          throw ioError("Writing", path, e);
        }
        // What is left (nothing, unless the handle was busy) goes the usual way.
        gathered!.copyWithin(0, off, fill);
        fill -= off;
      }
      await flush();
      await settleSyncs();
      try {
        if (syncError) throw syncError;
        if (sync) await fh.sync();
        await onClose();
      } catch (e) {
        throw ioError("Writing", path, e);
      }
      onWritten?.();
    },
    async abort() {
      await settleSyncs();
      await onClose().catch(() => {});
    },
  };
  let stream: WritableStream<Uint8Array> | undefined;
  return {
    get stream() {
      return stream ??= new WritableStream<Uint8Array>(sink);
    },
    sink,
    counts,
    settleSyncs,
  };
}

/** Writes `bytes` through `sink` as one write and a close, as a stream of them would. */
async function writeAllTo(sink: { write(b: Uint8Array): Promise<void>; close(): Promise<void> }, bytes: Uint8Array) {
  if (bytes.length > 0) await sink.write(bytes);
  await sink.close();
}

function closer(fh: FileHandle): () => Promise<void> {
  let closed = false;
  return async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
}

/** Puts `temp` at `target` unless something is there: link then unlink; EEXIST is OUTPUT_EXISTS. */
async function placeNoReplace(temp: string, target: string, shown: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "EEXIST") throw existsError(shown);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS" && code !== "EMLINK") {
      throw e;
    }
    // No hard links here (FAT, some network and FUSE file systems): claim the
    // name with an exclusive create, then rename over our own empty file.
    try {
      await (await open(target, "wx", 0o600)).close();
    } catch (e2) {
      if (errnoCode(e2) === "EEXIST") throw existsError(shown);
      throw e2;
    }
    await rename(temp, target);
    return;
  }
  await unlink(temp);
}

/**
 * Starts writing a new or regular file at `path` through a temporary file
 * beside it (beside a link's target); stale temporaries of killed runs in
 * that folder are removed first, with a `note:`. Refuses a device or FIFO:
 * {@linkcode openOutput} writes those.
 */
export async function atomicOutput(
  path: string,
  options: OutputOptions,
  resolved?: OutputTarget,
): Promise<AtomicOutput> {
  const target = resolved ?? await resolveTarget(path, options.force, options.noFollow);
  if (target.kind === "special") {
    throw unsafe(path, "it is not a regular file", "write devices and FIFOs with writeOutput");
  }
  if (
    options.replaces &&
    (target.kind !== "file" || !sameFile(await stat(target.path).catch(() => null), options.replaces))
  ) {
    throw changedError(path);
  }
  const folder = dirname(target.path);
  const stale = await sweepStale(folder);
  if (stale.length > 0) {
    note(`removed ${stale.length} temporary file(s) left in ${folder} by killed envelope runs: ${stale.join(", ")}`);
  }
  const tempPath = tempPathFor(target.path, folder);
  let fh: FileHandle;
  try {
    // 0600 while it holds a partial result; the final mode is set just before it is put in place.
    fh = await open(tempPath, "wx", 0o600);
  } catch (e) {
    throw ioError("Writing", path, e);
  }
  const forget = removeOnSignal(tempPath);
  const close = closer(fh);
  // Set once the stream's close has written out what it gathered and synced: only then may the file be committed.
  let written = false;
  const writer = handleWriter(fh, path, close, {
    sync: !options.scratch,
    gather: true,
    onWritten: () => (written = true),
    syncEvery: options.scratch ? undefined : { bytes: options.syncEvery ?? SYNC_EVERY_BYTES, tempPath },
  });
  const { counts, settleSyncs } = writer;
  return {
    path,
    tempPath,
    get stream() {
      return writer.stream;
    },
    writeAll: (bytes) => writeAllTo(writer.sink, bytes),
    get syncs() {
      return counts.syncs;
    },
    async commit() {
      try {
        if (!written) {
          throw new EnvelopeError(
            "IO_FAILED",
            `Writing ${path} failed: it was committed before its stream was closed`,
            {
              hint: "close the output's stream (or pipe into it) before committing; nothing was written",
            },
          );
        }
        await close();
        await chmod(tempPath, options.exactMode ?? ((options.mode ?? 0o644) & ~umask() & 0o7777));
        if (target.kind === "new") {
          try {
            await placeNoReplace(tempPath, target.path, path);
            return;
          } catch (e) {
            // With --force, something that appeared meanwhile is replaced, if it is a regular file.
            if (!(options.force && e instanceof EnvelopeError && e.code === "OUTPUT_EXISTS")) throw e;
          }
        }
        const now = await lstat(target.path).catch(() => null);
        // Only the file that was read, unchanged, may be replaced (the last look, just before the rename).
        if (options.replaces && !sameFile(now, options.replaces)) throw changedError(path);
        if (now && !now.isFile()) {
          throw unsafe(path, "it stopped being a regular file while it was written", "check what is at the path");
        }
        await rename(tempPath, target.path);
      } catch (e) {
        await unlink(tempPath).catch(() => {});
        throw ioError("Writing", path, e);
      } finally {
        forget();
      }
    },
    async abort() {
      await settleSyncs().catch(() => {});
      await close().catch(() => {});
      await unlink(tempPath).catch(() => {});
      forget();
    },
  };
}

/**
 * Writes a device or FIFO directly (no temporary file, nothing to undo).
 * Through `node:fs` on every runtime: only it opens with `O_NOCTTY` (a
 * terminal named with -o never becomes the controlling one) and gives the
 * `fstat` of stdout that tells whether the output is stdout after all.
 */
async function directOutput(path: string): Promise<AtomicOutput> {
  const [{ constants, fstatSync }, { open: openNode }] = await Promise.all([
    import("node:fs") as Promise<typeof NodeFs>,
    import("node:fs/promises") as Promise<typeof NodeFsPromises>,
  ]);
  let fh: FileHandle;
  try {
    // No O_CREAT, no O_TRUNC: a device or FIFO is written, never made or truncated.
    fh = await openNode(path, constants.O_WRONLY | (constants.O_NOCTTY ?? 0)) as unknown as FileHandle;
  } catch (e) {
    if (errnoCode(e) === "ENXIO") throw unsafe(path, "nothing is listening on it", "choose a file with -o");
    throw ioError("Writing", path, e);
  }
  const close = closer(fh);
  try {
    const st = await fh.stat();
    if (st.isFile() || st.isDirectory()) {
      throw unsafe(path, "it changed while it was opened", "check what is at the path and run again");
    }
    try {
      const out = fstatSync(1);
      if (out.dev === st.dev && out.ino === st.ino) claimStdout();
    } catch { /* no stdout: nothing to share */ }
  } catch (e) {
    await close().catch(() => {});
    throw ioError("Writing", path, e);
  }
  const writer = handleWriter(fh, path, close);
  return {
    path,
    tempPath: "",
    get stream() {
      return writer.stream;
    },
    writeAll: (bytes) => writeAllTo(writer.sink, bytes),
    syncs: 0,
    async commit() {
      try {
        await close();
      } catch (e) {
        throw ioError("Writing", path, e);
      }
    },
    abort: () => close().catch(() => {}),
  };
}

/** Opens `path` for output: through a temporary file for a new or regular file, directly for a device or FIFO. */
export async function openOutput(path: string, options: OutputOptions): Promise<AtomicOutput> {
  const target = await resolveTarget(path, options.force, options.noFollow);
  if (target.kind === "special" && options.replaces) throw changedError(path);
  return target.kind === "special" ? await directOutput(path) : await atomicOutput(path, options, target);
}

/** Deno's stdout, where the CLI runs in Deno. */
const denoStdout = (globalThis as { Deno?: { stdout: { write(p: Uint8Array): Promise<number> } } }).Deno?.stdout;

/** stdout as a web stream (its end does not close the process's stdout); a closed pipe ends the run with 141. */
export function stdoutStream(): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({ write: stdoutWriter() });
}

/** What writes one chunk to stdout, for {@linkcode stdoutStream} and {@linkcode writeBytes}. */
function stdoutWriter(): (chunk: Uint8Array) => Promise<void> {
  if (denoStdout) {
    return async (chunk) => {
      try {
        for (let off = 0; off < chunk.length;) off += await denoStdout.write(chunk.subarray(off));
      } catch (e) {
        if (errnoCode(e) === "EPIPE") exitOnClosedPipe();
        throw ioError("Writing", "stdout", e);
      }
    };
  }
  exitQuietlyOnClosedStdout(true);
  const process = (globalThis as unknown as { process: typeof NodeProcess }).process;
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(chunk, (err) => {
        if (err && errnoCode(err) === "EPIPE") exitOnClosedPipe();
        if (err) reject(ioError("Writing", "stdout", err));
        else resolve();
      });
    });
}

/**
 * Writes `bytes` to the regular-file output `path` (not an object URL) as
 * {@linkcode writeOutput} would, through a temporary file put in place only
 * when complete, or to stdout for `-`, without a stream pipeline around it.
 */
export async function writeBytes(bytes: Uint8Array, path: string, options: OutputOptions): Promise<void> {
  if (path === "-") {
    claimStdout();
    if (bytes.length > 0) await stdoutWriter()(bytes);
    return;
  }
  if (isObjectUrl(path)) {
    // An object is uploaded as writeOutput uploads a stream (object_io.ts).
    const one = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    return await writeOutput(one, path, options);
  }
  const out = await openOutput(path, options);
  try {
    await out.writeAll(bytes);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/**
 * Pipes `source` into `path` (stdout for `-`): a regular file appears only
 * complete; on any error the temporary file is removed and the error rethrown.
 */
export async function writeOutput(
  source: ReadableStream<Uint8Array>,
  path: string,
  options: OutputOptions,
): Promise<void> {
  if (path === "-") {
    // Stdout carries the data now: result lines and --json go to stderr from here on.
    claimStdout();
    await source.pipeTo(stdoutStream());
    return;
  }
  // s3:// and oss:// outputs are multipart uploads (object_io.ts), loaded only when named.
  if (isObjectUrl(path)) {
    return await (await importLater<typeof import("./object_io.ts")>(import.meta.url, "./object_io.ts"))
      .writeObjectOutput(source, path, options);
  }
  let out: AtomicOutput;
  try {
    out = await openOutput(path, options);
  } catch (e) {
    await source.cancel().catch(() => {});
    throw e;
  }
  try {
    await source.pipeTo(out.stream);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}
