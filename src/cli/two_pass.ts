/**
 * Inputs read twice. Both compatibility formats put what authenticates the
 * data after the data (the Alibaba tag and key after the ciphertext, the
 * Fernet HMAC at the token's end), so nothing is released until a first pass
 * has read the whole input. A named file is simply opened again for the
 * second pass; stdin is spooled to a private temporary file (mode 0600, in
 * `$TMPDIR`) as pass one reads it. The spooled bytes are ciphertext, not
 * secret. The spool is removed when the job ends, and on SIGINT, SIGTERM and
 * SIGHUP too (`removeOnSignal`).
 *
 * Pass one counts the bytes as it reads them and stops at the first limit
 * exceeded (`--max-size`, a format's own bound), so neither memory nor the
 * spool grows without bound.
 *
 * @module
 */
import { type FileHandle, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvelopeError } from "../errors.ts";
import { openInput, removeOnSignal } from "./files.ts";
import { limited, type ReadLimit } from "../io/byte_streams.ts";

export type { ReadLimit };

/** An input that can be read twice. */
export interface TwoPassInput {
  /** Pass one: the input from its start, counted against the limits and, for stdin, spooled as it is read. */
  readonly first: ReadableStream<Uint8Array>;
  /** Pass two (and any later pass): the input from its start again. Call only after `first` ended. */
  reopen(): Promise<ReadableStream<Uint8Array>>;
  /** Removes the spool, if any. Call once the job is done, whether it succeeded or not. */
  cleanup(): Promise<void>;
}

/** The `--max-size` error: `name` is over `limit` bytes. */
export function inputTooLarge(name: string, limit: number): EnvelopeError {
  return new EnvelopeError(
    "INPUT_TOO_LARGE",
    `Reading ${name} failed: it is over the --max-size bound of ${limit} bytes`,
    { hint: "raise --max-size if the input is expected to be this large, or check that it is the right input" },
  );
}

/** The limits for `name` from `--max-size` (when given) and the format's own bounds. */
export function readLimits(name: string, maxSize: number | undefined, own: readonly ReadLimit[] = []): ReadLimit[] {
  const limits = [...own];
  if (maxSize !== undefined) limits.push({ bytes: maxSize, error: () => inputTooLarge(name, maxSize) });
  return limits;
}

/**
 * Prepares `stream` (the input named `input`, `-` for stdin, from its start)
 * to be read twice; `label` names the spool folder (`envelope-LABEL-*`).
 */
export async function twoPassInput(
  input: string,
  stream: ReadableStream<Uint8Array>,
  limits: readonly ReadLimit[],
  label: string,
): Promise<TwoPassInput> {
  const counted = stream.pipeThrough(limited(limits));
  if (input !== "-") {
    return { first: counted, reopen: async () => (await openInput(input)).stream, cleanup: () => Promise.resolve() };
  }
  const dir = await mkdtemp(join(tmpdir(), `envelope-${label}-`));
  const forget = removeOnSignal(dir);
  const path = join(dir, "spool");
  let fh: FileHandle | undefined;
  const close = async () => {
    const h = fh;
    fh = undefined;
    await h?.close();
  };
  const cleanup = async () => {
    await close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    forget();
  };
  try {
    fh = await open(path, "wx", 0o600);
  } catch (err) {
    await cleanup();
    throw new EnvelopeError("IO_FAILED", `Spooling stdin to ${dir} failed: ${(err as Error).message}`, {
      hint: "set TMPDIR to a writable folder with room for the input",
    });
  }
  const spool = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      let off = 0;
      while (off < chunk.length) off += (await fh!.write(chunk, off, chunk.length - off)).bytesWritten;
      controller.enqueue(chunk);
    },
    async flush() {
      await close();
    },
  });
  return {
    first: counted.pipeThrough(spool),
    async reopen() {
      await close();
      return (await openInput(path)).stream;
    },
    cleanup,
  };
}
