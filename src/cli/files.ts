/**
 * Files for the CLI: inputs as web streams (a file or stdin), and outputs
 * written to a temporary file beside the target and renamed into place only
 * after the whole job succeeded, so a failed decrypt leaves no output file and
 * nothing the user had is replaced without `--force`.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { chmod, type FileHandle, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { randomBytes } from "../crypto/random.ts";
import { encodeHex } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";

/** An input: its bytes as a stream, and its size when known. */
export interface Input {
  readonly name: string;
  readonly stream: ReadableStream<Uint8Array>;
  readonly size?: number;
}

function ioError(action: string, path: string, e: unknown): EnvelopeError {
  const code = (e as { code?: string }).code;
  const why = code === "ENOENT"
    ? "it does not exist"
    : code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "EISDIR"
    ? "it is a directory"
    : (e as Error).message;
  return new EnvelopeError("IO_FAILED", `${action} ${path} failed: ${why}`, {
    hint: code === "EISDIR" ? "pass -d DIR to encrypt a directory" : "check the path and its permissions",
  });
}

/** Temporary files and folders to remove if a signal ends the process mid-write. */
const live = new Set<string>();
let trapped = false;

/**
 * Registers a temporary path for removal on SIGINT, SIGTERM or SIGHUP (a
 * signal ends the process without running `abort`); returns the function
 * that unregisters it.
 */
export function removeOnSignal(path: string): () => void {
  if (!trapped) {
    trapped = true;
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      process.on(signal, () => {
        for (const p of live) {
          try {
            rmSync(p, { recursive: true, force: true });
          } catch { /* best effort on the way out */ }
        }
        process.exit(code);
      });
    }
  }
  live.add(path);
  return () => void live.delete(path);
}

/** Bytes per read from a file or stdin. */
const READ_SIZE = 256 * 1024;

/**
 * A pull-based stream over an open file (or any `node:fs` FileHandle): one
 * read per pull, so memory follows the consumer, and cancelling closes the
 * handle. (Readable.toWeb could enqueue into a cancelled stream from an event
 * handler, an uncaught error.)
 */
export function fileHandleStream(fh: FileHandle, start = 0): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(READ_SIZE);
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) {
        await close();
        controller.close();
        return;
      }
      position += bytesRead;
      controller.enqueue(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    },
    async cancel() {
      await close();
    },
  }, { highWaterMark: 0 });
}

/** stdin as a pull-based stream: Deno's own where present, else Node's via `read()`. */
function stdinStream(): ReadableStream<Uint8Array> {
  const deno = (globalThis as { Deno?: { stdin: { readable: ReadableStream<Uint8Array> } } }).Deno;
  if (deno) return deno.stdin.readable;
  const stdin = process.stdin;
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

/** Opens a file, or stdin for `-`, as a stream. */
export async function openInput(path: string): Promise<Input> {
  if (path === "-") return { name: "stdin", stream: stdinStream() };
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw ioError("Reading", path, e);
  }
  try {
    const s = await fh.stat();
    if (s.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    size = s.size;
  } catch (e) {
    await fh.close();
    throw ioError("Reading", path, e);
  }
  return { name: path, size, stream: fileHandleStream(fh) };
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

/** True when something (a file, directory or link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Refuses an existing `path` unless `force`. */
export async function checkWritable(path: string, force: boolean): Promise<void> {
  if (!force && await exists(path)) {
    throw new EnvelopeError("OUTPUT_EXISTS", `Writing ${path} failed: it already exists`, {
      hint: "choose another output with -o, or pass --force to replace it",
    });
  }
}

/** A file being written to a temporary name; `commit` renames it into place, `abort` removes it. */
export interface AtomicOutput {
  readonly path: string;
  readonly tempPath: string;
  readonly stream: WritableStream<Uint8Array>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Starts writing `path` through a temporary file (mode 0600) in the same folder; `commit` gives it `mode` (default 0644). */
export async function atomicOutput(path: string, options: { force: boolean; mode?: number }): Promise<AtomicOutput> {
  await checkWritable(path, options.force);
  const tempPath = join(dirname(path), `.${basename(path)}.${encodeHex(randomBytes(6))}.part`);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // 0600 while it holds a partial result; the final mode is set just before the rename.
    fh = await open(tempPath, "wx", 0o600);
  } catch (e) {
    throw ioError("Writing", path, e);
  }
  const forget = removeOnSignal(tempPath);
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
    },
    async close() {
      await fh.sync();
      await close();
    },
    async abort() {
      await close();
    },
  });
  return {
    path,
    tempPath,
    stream,
    async commit() {
      try {
        await close();
        await checkWritable(path, options.force);
        await chmod(tempPath, options.mode ?? 0o644);
        await rename(tempPath, path);
      } catch (e) {
        await unlink(tempPath).catch(() => {});
        throw e instanceof EnvelopeError ? e : ioError("Writing", path, e);
      } finally {
        forget();
      }
    },
    async abort() {
      await close().catch(() => {});
      await unlink(tempPath).catch(() => {});
      forget();
    },
  };
}

/** stdout as a web stream (its end does not close the process's stdout). */
export function stdoutStream(): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        process.stdout.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
  });
}

/**
 * Pipes `source` into a new file at `path` (or stdout for `-`), atomically:
 * on any error the temporary file is removed and the error rethrown.
 */
export async function writeOutput(
  source: ReadableStream<Uint8Array>,
  path: string,
  options: { force: boolean; mode?: number },
): Promise<void> {
  if (path === "-") {
    await source.pipeTo(stdoutStream());
    return;
  }
  const out = await atomicOutput(path, options);
  try {
    await source.pipeTo(out.stream);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}
