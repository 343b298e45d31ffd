/**
 * Files for the CLI: inputs as web streams (a file, a FIFO or device,
 * stdin, or an `s3://` / `oss://` object, see object_io.ts), or read whole
 * when small (`OpenInputOptions.whole`, `Input.readWhole`). Outputs live in output_file.ts (written through a temporary file
 * and put in place only after the whole job succeeded, devices and FIFOs
 * written directly) and temporaries in temp_files.ts; both are re-exported
 * here so commands import one module.
 *
 * @module
 */
import type NodeProcess from "node:process";
import { type FileHandle, lstat, open, openFileNoWait, stat } from "../host/fs.ts";
import { denoStdin, denoStdinRead } from "../host/process.ts";
import { EnvelopeError } from "../errors.ts";
import { isObjectUrl } from "../s3/url.ts";
import { ioError } from "./io_errors.ts";
import { rejoin } from "../io/header_peek.ts";
import type { Input } from "../io/input.ts";

export { ioError } from "./io_errors.ts";
export {
  type AtomicOutput,
  atomicOutput,
  checkWritable,
  openOutput,
  type OutputOptions,
  type OutputTarget,
  resolveTarget,
  stdoutStream,
  writeBytes,
  writeOutput,
} from "./output_file.ts";
import { importLater } from "../import_later.ts";
export { removeOnSignal, sweepStale, tempDirPrefix } from "./temp_files.ts";
export type { Input };

/** Bytes per read from a file or stdin. */
const READ_SIZE = 256 * 1024;
/** Bytes asked for by the read that expects the end of a file of known size. */
const END_PROBE = 4096;
/**
 * A regular file of at most this many bytes is read on the JavaScript thread
 * where the host allows (Deno): one read of the page cache, where an
 * asynchronous read is a hand-off to a thread and back, a good part of the
 * cost of each file in a batch of small ones. Larger files are read beside
 * the thread, so that reading overlaps encryption.
 */
const SMALL_FILE = 64 * 1024;

/**
 * A pull-based stream over an open file (host/fs.ts, or a `node:fs` FileHandle): one
 * read per pull, so memory follows the consumer, and cancelling closes the
 * handle. (Readable.toWeb could enqueue into a cancelled stream from an event
 * handler, an uncaught error.) `start` is the offset for positioned reads;
 * `null` reads sequentially, as a FIFO, a pipe or a device needs (positioned
 * reads fail there with `ESPIPE`). With the file's `size` known, each read
 * asks for no more than remains (a 4 KiB file costs a 4 KiB array, not a
 * 256 KiB one), and the read that finds the end asks for a little; a file
 * that grows meanwhile is still read to its end, and so is a file whose size
 * says less than it holds (`/proc` and `/sys` files say 0): only a read that
 * returns nothing ends the input, never the size alone.
 */
export function fileHandleStream(
  fh: FileHandle,
  start: number | null = 0,
  name = "the input",
  size?: number,
): ReadableStream<Uint8Array> {
  let position = start;
  let grew = false;
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const left = size === undefined || position === null || grew ? READ_SIZE : size - position;
      const buf = new Uint8Array(left > 0 ? Math.min(READ_SIZE, left) : END_PROBE);
      let bytesRead: number;
      try {
        // A small regular file (size known, read at known positions), and the look past the end of any (which
        // finds the end in the page cache), are read on the JavaScript thread where the host can. Not a file that
        // says it is empty: /proc/kmsg and tracefs pipes are "regular", size 0, and a read of them waits, which on
        // this thread would stop every other file and Ctrl-C with them (a review found it).
        const here = position !== null && size !== undefined && size > 0 && (left <= 0 || size <= SMALL_FILE) &&
            fh.readSync
          ? fh.readSync(buf, 0, buf.length, position)
          : undefined;
        ({ bytesRead } = here !== undefined ? { bytesRead: here } : await fh.read(buf, 0, buf.length, position));
      } catch (e) {
        await close().catch(() => {});
        throw ioError("Reading", name, e);
      }
      if (bytesRead === 0) {
        await close();
        controller.close();
        return;
      }
      if (position !== null) position += bytesRead;
      if (left <= 0) grew = true;
      controller.enqueue(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    },
    async cancel() {
      await close();
    },
  }, { highWaterMark: 0 });
}

/** stdin as a pull-based stream: Deno's own where present, else Node's via `read()`. */
function stdinStream(): ReadableStream<Uint8Array> {
  const fromDeno = denoStdin();
  if (fromDeno) return fromDeno;
  const stdin = (globalThis as unknown as { process: typeof NodeProcess }).process.stdin;
  let ended = false;
  stdin.once("end", () => (ended = true));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve, reject) => {
        const tryRead = () => {
          const chunk = stdin.read() as Uint8Array | null;
          if (chunk !== null) {
            cleanup();
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            resolve();
          } else if (ended) {
            cleanup();
            controller.close();
            resolve();
          }
        };
        const onEnd = () => {
          ended = true;
          tryRead();
        };
        const onError = (e: unknown) => {
          cleanup();
          reject(e);
        };
        const cleanup = () => {
          stdin.off("readable", tryRead);
          stdin.off("end", onEnd);
          stdin.off("error", onError);
        };
        stdin.on("readable", tryRead);
        stdin.on("end", onEnd);
        stdin.on("error", onError);
        tryRead();
      });
    },
    cancel() {
      stdin.pause();
    },
  }, { highWaterMark: 0 });
}

/**
 * The size up to which `decrypt` and `rewrap` read a message whole: one
 * default chunk (64 KiB) and its header, with room to spare.
 */
export const WHOLE_MESSAGE_BYTES = 128 * 1024;

/** A file's device and inode: which file a path led to. */
export interface FileId {
  readonly dev: number;
  readonly ino: number;
}

/** What {@linkcode openInput} may do besides opening. */
export interface OpenInputOptions {
  /**
   * Read a regular file of at most this many bytes (and more than none)
   * whole, into {@linkcode Input.bytes}, before returning: a small input's
   * encrypt or decrypt then needs no stream at all. (Stdin is never read at
   * open: a read of it may wait, and the caller's checks come first; under
   * Deno its input has {@linkcode Input.readWhole} instead.) The web streams are the
   * one part of Deno's runtime that loads on first use (about 2.5 ms, by
   * hand), a visible part of a one-file run's start-up (issue 13), and each
   * stream's set-up is a visible part of a small file's cost in a batch.
   */
  readonly whole?: number;
  /**
   * The file the caller found at `path` (a batch's walked file): opened
   * without waiting (a FIFO swapped in does not hold the run), and refused
   * with `UNSAFE_PATH` unless it is that same regular file.
   */
  readonly expect?: FileId;
}

/**
 * Opens a file, or stdin for `-`, as a stream. A regular file is read with
 * positioned reads and has a size; anything else (a FIFO, `<(process
 * substitution)`, a character device) is read sequentially, size unknown.
 * With `whole`, a small regular file is read at once (see
 * {@linkcode OpenInputOptions.whole}); one that turns out larger is
 * streamed with what was read. Stdin is opened without reading anything.
 */
export async function openInput(path: string, options: OpenInputOptions = {}): Promise<Input> {
  if (path === "-") return stdinInput();
  // s3:// and oss:// load the S3 SDK only here, when named.
  if (isObjectUrl(path)) {
    return await (await importLater<typeof import("./object_io.ts")>(import.meta.url, "./object_io.ts"))
      .openObjectInput(path);
  }
  let fh: FileHandle;
  let size: number | undefined;
  const expect = options.expect;
  try {
    fh = expect ? await openFileNoWait(path) : await open(path, "r");
  } catch (e) {
    throw ioError("Reading", path, e);
  }
  try {
    const s = await fh.stat();
    if (expect && (!s.isFile() || s.dev !== expect.dev || s.ino !== expect.ino)) {
      throw new EnvelopeError("UNSAFE_PATH", `Reading ${path} failed: it was replaced after it was checked`, {
        hint: "a file of the tree was swapped while the run went on; check who changes the tree, and run again",
      });
    }
    if (s.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (s.isFile()) size = s.size;
  } catch (e) {
    await fh.close();
    throw e instanceof EnvelopeError ? e : ioError("Reading", path, e);
  }
  // Not a file that says it is empty: /proc and tracefs files say 0 and may wait (fileHandleStream says more).
  if (size !== undefined && size > 0 && size <= (options.whole ?? 0)) return await readWhole(fh, path, size);
  return { name: path, size, stream: fileHandleStream(fh, size === undefined ? null : 0, path, size) };
}

/**
 * Reads into one array of `limit` + 1 bytes, at offset `got` each time,
 * until `read` gives 0 (the end: `got` bytes, all of it) or the array is full
 * (more follows). The one byte over the limit is what tells the two apart.
 */
async function readUpTo(
  read: (into: Uint8Array, at: number) => number | Promise<number>,
  limit: number,
): Promise<{ buf: Uint8Array; got: number; ended: boolean }> {
  const buf = new Uint8Array(limit + 1);
  let got = 0;
  for (let n; got < buf.length && (n = await read(buf, got)) > 0;) got += n;
  return { buf, got, ended: got < buf.length };
}

/**
 * Reads the small regular file `fh` to its end: into an array one byte
 * larger than its size, so that the second read, which should find the end,
 * also shows whether the file grew. A file that grew is streamed on from
 * what was read; one that shrank is what was read.
 */
export async function readWhole(fh: FileHandle, path: string, size: number): Promise<Input> {
  let r;
  try {
    // On the JavaScript thread where the host can (a regular file of known, small size: fileHandleStream).
    r = await readUpTo(
      async (into, at) =>
        fh.readSync?.(into, at, into.length - at, at) ?? (await fh.read(into, at, into.length - at, at)).bytesRead,
      size,
    );
    if (r.ended) await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    throw ioError("Reading", path, e);
  }
  if (!r.ended) return { name: path, size, stream: rejoin(r.buf, fileHandleStream(fh, r.got, path).getReader()) };
  return wholeInput(path, size, r.buf.subarray(0, r.got));
}

/**
 * Stdin, nothing read yet. Under Deno it can also be read whole
 * ({@linkcode Input.readWhole}: a piped secret then makes no stream); its
 * stream is made when first asked for. Node's is its stream.
 */
function stdinInput(): Input {
  const read = denoStdinRead();
  if (!read) return { name: "stdin", stream: stdinStream() };
  let stream: ReadableStream<Uint8Array> | undefined;
  return {
    name: "stdin",
    get stream() {
      return stream ??= stdinStream();
    },
    readWhole: (limit) => readStdinWhole(read, limit),
  };
}

/**
 * Reads stdin to its end when that is at most `whole` bytes, as
 * {@linkcode readWhole} does a file; a longer input is streamed on from what
 * was read. Its size is what was read, when read whole.
 */
async function readStdinWhole(read: (p: Uint8Array) => Promise<number | null>, whole: number): Promise<Input> {
  let r;
  try {
    r = await readUpTo(async (into, at) => (await read(into.subarray(at))) ?? 0, whole);
  } catch (e) {
    throw ioError("Reading", "stdin", e);
  }
  if (!r.ended) return { name: "stdin", stream: rejoin(r.buf, stdinStream().getReader()) };
  return wholeInput("stdin", r.got, r.buf.subarray(0, r.got));
}

/** An input read whole: its `bytes`, and a stream of them (in one chunk) made only when asked for. */
function wholeInput(name: string, size: number, bytes: Uint8Array): Input {
  let stream: ReadableStream<Uint8Array> | undefined;
  return {
    name,
    size,
    bytes,
    get stream() {
      return stream ??= new ReadableStream<Uint8Array>({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        },
      });
    },
  };
}

/** Reads a whole (small) file, or stdin. */
export async function readAll(path: string, limit = 64 * 1024 * 1024): Promise<Uint8Array> {
  const input = await openInput(path);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of input.stream) {
    n += c.length;
    if (n > limit) {
      throw new EnvelopeError("LIMIT_EXCEEDED", `Reading ${input.name} failed: it is over ${limit} bytes`, {
        hint: "this command reads its input whole; use the streaming commands for large files",
      });
    }
    parts.push(c);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

/**
 * Whether `path` names a file here: not `-` (stdin or stdout) and not an
 * `s3://` or `oss://` object.
 */
export function isLocalPath(path: string): boolean {
  return path !== "-" && !isObjectUrl(path);
}

/** True when something (a file, directory or link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Checks that `dir` (given with `-d`) is a directory: IO_FAILED if it is missing or something else. */
export async function checkDir(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new EnvelopeError("IO_FAILED", `Reading the directory ${dir} failed: it is not a directory`, {
      hint: "check the path given to -d",
    });
  }
}
