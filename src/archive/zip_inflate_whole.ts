/**
 * Inflating small zip entries whole, through one zlib handle and into one
 * buffer, both reused from entry to entry.
 *
 * `inflateRawSync` makes a zlib stream per call: a Transform with a 16 KiB
 * output buffer, a native handle, and the output in 16 KiB pieces joined
 * into a fresh buffer. Dead as soon as the call returns, they are collected
 * only when V8 gets to them, so a folder of many small files piled them up:
 * 10,000 calls on a 22 KB text (235 bytes deflated) raised RSS by 48-115 MiB
 * and took 288-475 ms (Deno 2.9, `Deno.memoryUsage`, 3 runs), which is why
 * the CLI collected every 512 extracted files. Here the native handle under
 * one stream is reset for each entry and inflates straight into a buffer
 * kept for the next one: nothing is allocated per entry, and the same calls
 * raised RSS by 8-9 MiB and took 41-62 ms.
 *
 * That handle is not public API, but it is the one Node's own
 * `inflateRawSync` drives (`writeSync(flush, in, inOffset, inLength, out,
 * outOffset, outLength)`, the output and input left over in the stream's
 * `_writeState`, errors through its `onerror`), and Deno's `node:zlib` has
 * the same. Where a runtime's stream has no such handle, each entry goes
 * through `inflateRawSync` as before.
 *
 * @module
 */
import { constants, createInflateRaw, inflateRawSync } from "node:zlib";

/** The native handle under a `node:zlib` stream, as Node's `zlibBufferSync` uses it. */
interface ZlibHandle {
  reset(): void;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    out: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  onerror: (message: string, errno: number) => void;
}

/** A raw-inflate stream: closed when done with; its handle and write state are used when it has them. */
export interface InflateEngine {
  close(): void;
  readonly _handle?: unknown;
  readonly _writeState?: unknown;
}

/** The handle and write state of `engine`, when they have the shape this module drives. */
function handleOf(engine: InflateEngine): { handle: ZlibHandle; state: Uint32Array } | undefined {
  const handle = engine._handle as Partial<ZlibHandle> | null | undefined;
  const state = engine._writeState;
  if (
    typeof handle?.writeSync !== "function" || typeof handle.reset !== "function" ||
    !(state instanceof Uint32Array) || state.length < 2
  ) return undefined;
  return { handle: handle as ZlibHandle, state };
}

/**
 * Inflates raw deflate data whole, one entry after another. Each output is a
 * view of a buffer that the next {@linkcode WholeInflater.inflate} call
 * reuses; {@linkcode WholeInflater.close} frees the handle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deflateRawSync } from "node:zlib";
 * import { WholeInflater } from "./zip_inflate_whole.ts";
 *
 * const inflater = new WholeInflater();
 * try {
 *   const text = new TextEncoder().encode("hello, hello, hello");
 *   assert.deepEqual(inflater.inflate(deflateRawSync(text), text.length), text);
 *   assert.equal(inflater.inflate(deflateRawSync(text), text.length - 1), undefined);
 * } finally {
 *   inflater.close();
 * }
 * ```
 */
export class WholeInflater {
  #engine: InflateEngine | undefined;
  #native: { handle: ZlibHandle; state: Uint32Array } | undefined;
  #out = new Uint8Array(0);
  #failure: string | undefined;

  /** `open` makes the stream whose handle is reused (a test can hand one without, for the fallback). */
  constructor(readonly open: () => InflateEngine = createInflateRaw) {}

  /**
   * The output of the raw deflate data `packed` when it is at most `max`
   * bytes (a view, valid until the next call), else `undefined`, found
   * without inflating more than one byte past `max`. Throws when the data is
   * broken or stops before its final block; bytes after that block are
   * ignored, as `inflateRawSync` ignores them.
   */
  inflate(packed: Uint8Array, max: number): Uint8Array | undefined {
    if (this.#engine === undefined) {
      this.#engine = this.open();
      this.#native = handleOf(this.#engine);
      if (this.#native) this.#native.handle.onerror = (message) => void (this.#failure ??= message);
    }
    if (this.#native === undefined) return once(packed, max);
    const { handle, state } = this.#native;
    const room = max + 1;
    if (this.#out.length < room) this.#out = new Uint8Array(room);
    this.#failure = undefined;
    handle.reset();
    handle.writeSync(constants.Z_FINISH, packed, 0, packed.length, this.#out, 0, room);
    if (this.#failure !== undefined) {
      // Start the next entry from a fresh stream, not one zlib has given up on.
      const failure = this.#failure;
      this.close();
      throw new Error(failure);
    }
    const made = room - state[0];
    return made > max ? undefined : this.#out.subarray(0, made);
  }

  /** Frees the zlib handle and the buffer (safe to call again; a later `inflate` opens a new one). */
  close(): void {
    this.#engine?.close();
    this.#engine = undefined;
    this.#native = undefined;
    this.#out = new Uint8Array(0);
  }
}

/** One `inflateRawSync` call, for runtimes whose streams lack the handle. */
function once(packed: Uint8Array, max: number): Uint8Array | undefined {
  try {
    const out = inflateRawSync(packed, { maxOutputLength: max + 1 });
    return out.length > max ? undefined : out;
  } catch (err) {
    if ((err as { code?: string })?.code === "ERR_BUFFER_TOO_LARGE") return undefined;
    throw err;
  }
}
