/**
 * Sealing and opening payload chunks under the payload key, with the
 * diagnostics of docs/FORMAT.md §8: a chunk that only opens with the other
 * value of the last flag means the message was cut short or extended.
 *
 * @module
 */
import { AesGcm, gcmOpenOnce, gcmSealOnce } from "../crypto/aes_gcm.ts";
import { chooseBackend } from "../crypto/backend.ts";
import { ChunkWorkerPool } from "../crypto/worker_pool.ts";
import { EnvelopeError } from "../errors.ts";
import { chunkNonce } from "../format/chunk.ts";
import { MAX_CHUNKS, TAG_BYTES } from "../format/limits.ts";

const EMPTY = new Uint8Array(0);
/** The nonce of a message's only chunk (index 0, final): read only, never handed out. */
const ONLY_CHUNK_NONCE = chunkNonce(0, true);

/** AES-256-GCM over chunks; each chunk is independent of the others. */
export class ChunkCipher {
  /** The key loaded into the core, made on first need. */
  #gcm: AesGcm | undefined;
  /** The payload key (a copy, wiped by dispose): for the key object and the workers. */
  #key: Uint8Array;
  #disposed = false;
  private constructor(key: Uint8Array) {
    this.#key = key;
  }

  /**
   * Takes the 32-byte payload key (the caller keeps ownership and wipes it).
   * Synchronous, so it needs the core loaded: `deriveKeys` has loaded it.
   * The key schedule is made when the first chunk needs it. A whole message
   * of one chunk goes through {@linkcode ChunkCipher.sealOnly} and
   * {@linkcode ChunkCipher.openOnly} instead, without a cipher object.
   */
  static create(payloadKey: Uint8Array): ChunkCipher {
    if (payloadKey.length !== 32) throw new RangeError("The payload key must be 32 bytes");
    return new ChunkCipher(payloadKey.slice());
  }

  /**
   * Seals a message's only chunk (index 0, final) with the core under
   * `payloadKey`, straight into `out` at `offset`: for a whole small
   * message, without a cipher object or a copy of the key. The core must
   * seal `plaintext` ({@linkcode sealsInCore}); the caller wipes the key.
   */
  static sealOnly(payloadKey: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
    gcmSealOnce(payloadKey, ONLY_CHUNK_NONCE, plaintext, EMPTY, out, offset);
  }

  /**
   * Opens a message's only chunk (index 0, final) with the core under
   * `payloadKey`, with the checks and errors of {@linkcode ChunkCipher.open}
   * (a chunk that opens as a non-final one means the message was cut short).
   * The core must open `sealed` ({@linkcode opensInCore}); the caller wipes the key.
   */
  static openOnly(payloadKey: Uint8Array, sealed: Uint8Array): Uint8Array {
    checkOpen(0, sealed);
    try {
      return gcmOpenOnce(payloadKey, ONLY_CHUNK_NONCE, sealed, EMPTY);
    } catch (e) {
      // The failure path only: a cipher object to tell a cut message from a damaged one.
      const cipher = ChunkCipher.create(payloadKey);
      try {
        throw cipher.#diagnose(e, 0, true, sealed, 1);
      } finally {
        cipher.dispose();
      }
    }
  }

  /** The key object, made on first use; throws once disposed. */
  #aes(): AesGcm {
    if (this.#disposed) {
      throw new EnvelopeError("INVALID_ARGUMENT", "Using the payload key failed: it was disposed", {
        hint: "start a new message",
      });
    }
    return this.#gcm ??= AesGcm.createSync(this.#key);
  }

  /** Starts `size` workers holding the payload key; null where workers cannot be made (see crypto/worker_pool.ts). */
  startWorkers(size: number): Promise<ChunkWorkerPool | null> {
    return ChunkWorkerPool.start(this.#key, size);
  }

  /** Seals chunk `index`; the result is ciphertext then tag. */
  seal(
    index: number,
    last: boolean,
    plaintext: Uint8Array,
  ): Promise<Uint8Array> {
    checkIndex(index, "Encrypting");
    return this.#aes().sealAsync(chunkNonce(index, last), plaintext, EMPTY);
  }

  /** Opens chunk `index`, telling truncation and trailing data apart from tampering. */
  async open(
    index: number,
    last: boolean,
    sealed: Uint8Array,
    chunkCount?: number,
  ): Promise<Uint8Array> {
    checkOpen(index, sealed);
    try {
      return await this.#aes().openAsync(chunkNonce(index, last), sealed, EMPTY);
    } catch (e) {
      throw this.#diagnose(e, index, last, sealed, chunkCount);
    }
  }

  /** The error for a chunk that failed to open: a chunk that opens with the other last flag was moved. */
  #diagnose(e: unknown, index: number, last: boolean, sealed: Uint8Array, chunkCount?: number): unknown {
    if (!(e instanceof EnvelopeError) || e.code !== "PAYLOAD_AUTH_FAILED") return e;
    let other = false;
    try {
      this.#aes().open(chunkNonce(index, !last), sealed, EMPTY).fill(0);
      other = true;
    } catch { /* tampered, not reordered */ }
    if (other && last) {
      return new EnvelopeError(
        "TRUNCATED",
        `Decrypting failed: the input ends after chunk ${index}, which is not the final chunk`,
        {
          hint: "the file is incomplete; copy it again from its source",
        },
      );
    }
    if (other && !last) {
      return new EnvelopeError(
        "TRAILING_DATA",
        `Decrypting failed: chunk ${index} is the final chunk but more data follows it`,
        {
          hint: "the file has bytes appended; remove them or restore the file from a trusted copy",
        },
      );
    }
    const where = chunkCount === undefined ? `chunk ${index}` : `chunk ${index} of ${chunkCount}`;
    // The chunk the input ends with may be damaged or cut short: the bytes cannot tell which (docs/FORMAT.md §8).
    return new EnvelopeError(
      "PAYLOAD_AUTH_FAILED",
      last
        ? `Decrypting ${where}, the last in the input, failed: it was modified or damaged, or the file was cut short inside it`
        : `Decrypting ${where} failed: it was modified, reordered or damaged`,
      {
        hint: last
          ? "check that the file is complete (its size against the source's), else restore it from a trusted copy; nothing of this chunk was released"
          : "restore the file from a trusted copy; nothing of this chunk was released",
      },
    );
  }

  /**
   * A signed message whose final chunk failed to open: was the input cut
   * short? `sealed` is that chunk as read and `tail` the bytes read as the
   * signature. If the chunk with some of those bytes opens, as a full
   * non-final chunk or as the final chunk, the input ended before its final
   * chunk or inside its signature: returns that TRUNCATED error. Returns
   * `failure` when nothing opens (the chunk was damaged, or cut where no
   * check can prove it). Runs only on the failure path: at most 65 opens,
   * and only for chunks up to {@linkcode EXPLAIN_MAX_CHUNK}, so a crafted
   * file with 16 MiB chunks cannot make a failure cost a gigabyte of GCM.
   */
  explainSignedEnd(index: number, sealed: Uint8Array, tail: Uint8Array, chunkSize: number, failure: unknown): unknown {
    if (!(failure instanceof EnvelopeError) || failure.code !== "PAYLOAD_AUTH_FAILED") return failure;
    if (chunkSize > EXPLAIN_MAX_CHUNK) return failure;
    const full = chunkSize + TAG_BYTES;
    const joined = new Uint8Array(sealed.length + tail.length);
    joined.set(sealed);
    joined.set(tail, sealed.length);
    const opens = (n: number, last: boolean): boolean => {
      try {
        this.#aes().open(chunkNonce(index, last), joined.subarray(0, n), EMPTY).fill(0);
        return true;
      } catch {
        return false;
      }
    };
    const hint = "the file is incomplete; copy it again from its source";
    if (joined.length >= full && opens(full, false)) {
      return new EnvelopeError(
        "TRUNCATED",
        `Decrypting failed: the input ends after chunk ${index}, which is not the final chunk, and has no signature`,
        { hint },
      );
    }
    for (let n = Math.max(sealed.length + 1, TAG_BYTES); n <= Math.min(full, joined.length); n++) {
      if (!opens(n, true)) continue;
      const kept = joined.length - n;
      return new EnvelopeError(
        "TRUNCATED",
        kept === 0
          ? "Decrypting failed: the input ends after the final chunk, without the signature"
          : `Decrypting failed: the input ends inside the signature (${kept} of its 64 bytes are there)`,
        { hint },
      );
    }
    return failure;
  }

  /** Wipes the payload key from the core and from this object. */
  dispose(): void {
    this.#disposed = true;
    this.#key.fill(0);
    this.#gcm?.dispose();
  }
}

/** The largest chunk size for which a failed final chunk of a signed message is checked for a cut (65 opens at most: 64 MiB of GCM). */
export const EXPLAIN_MAX_CHUNK = 1024 * 1024;

/** `encrypt()` and `decrypt()` calls in progress (see {@linkcode enterWholeCall}). */
let wholeCalls = 0;
/** Set by a caller that keeps several messages in flight ({@linkcode setSeveralInFlight}). */
let severalInFlight = false;

/**
 * Counts one `encrypt()` or `decrypt()` call as in progress, until {@linkcode leaveWholeCall}: a whole message is
 * sealed or opened "alone" (crypto/backend.ts `WHOLE_MESSAGE_THRESHOLDS`, the core up to 32 KiB) only when no other
 * call is. (Two calls, not a wrapper: a wrapping promise cost a 4 KiB message a few percent.)
 */
export function enterWholeCall(): void {
  wholeCalls++;
}

/** Ends what {@linkcode enterWholeCall} began. */
export function leaveWholeCall(): void {
  wholeCalls--;
}

/**
 * Says that the process keeps several messages in flight at once (the CLI's batch of files): whole messages then
 * take the thresholds of a stream's chunks, where WebCrypto's work on other threads overlaps the rest. With the
 * core, a batch of 8 to 32 KiB files ran 20 to 45% slower (a review's reproduction, 16 files in flight).
 */
export function setSeveralInFlight(on: boolean): void {
  severalInFlight = on;
}

/** Whether a whole message now is sealed or opened alone. */
function alone(): boolean {
  return wholeCalls <= 1 && !severalInFlight;
}

/**
 * True when a whole message's one chunk of `length` plaintext bytes is sealed by the core, as
 * {@linkcode ChunkCipher.sealOnly} needs.
 */
export function sealsInCore(length: number): boolean {
  return chooseBackend("seal", 12, length, alone()) === "wasm";
}

/**
 * True when a whole message's one sealed chunk of `length` bytes is opened by the core, as
 * {@linkcode ChunkCipher.openOnly} needs.
 */
export function opensInCore(length: number): boolean {
  return chooseBackend("open", 12, length, alone()) === "wasm";
}

/** Checks a chunk's index and that it holds at least a tag. */
function checkOpen(index: number, sealed: Uint8Array): void {
  checkIndex(index, "Decrypting");
  if (sealed.length < TAG_BYTES) {
    throw new EnvelopeError(
      "TRUNCATED",
      `Decrypting chunk ${index} failed: the input ends inside it`,
      {
        hint: "the file is incomplete; copy it again from its source",
      },
    );
  }
}

/** Refuses chunk index 2^32 and above (docs/FORMAT.md §5). */
export function checkIndex(index: number, action: string): void {
  if (index >= MAX_CHUNKS) {
    throw new EnvelopeError(
      "LIMIT_EXCEEDED",
      `${action} failed: a message holds at most 2^32 chunks`,
      { hint: "split the data into several messages, or use a larger chunk size" },
    );
  }
}

/** Marks a promise handled now; it is awaited in order later, so an early rejection must not count as unhandled. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/**
 * Diagnoses a payload whose length leaves 1 to 15 bytes after its last full
 * chunk (no chunk is that short): opens that full chunk as a non-final one,
 * which says TRAILING_DATA when it is really the final chunk and
 * PAYLOAD_AUTH_FAILED when it is damaged; if it opens, the message was cut
 * inside its final chunk (TRUNCATED). Returns normally for any other length.
 */
export async function diagnoseTail(
  cipher: ChunkCipher,
  payloadLength: number,
  chunkSize: number,
  read: (offset: number, length: number) => Promise<Uint8Array>,
): Promise<void> {
  const full = chunkSize + TAG_BYTES;
  const rem = payloadLength % full;
  if (payloadLength < full || rem === 0 || rem >= TAG_BYTES) return;
  const i = Math.floor(payloadLength / full) - 1;
  (await cipher.open(i, false, await read(i * full, full))).fill(0);
  throw new EnvelopeError("TRUNCATED", "Reading the payload failed: the final chunk is cut short", {
    hint: "the file is incomplete; copy it again from its source",
  });
}

/** Awaits `promises` in order, so the first failure in chunk order is the one reported. */
export async function inOrder<T>(promises: Promise<T>[]): Promise<T[]> {
  for (const p of promises) handled(p);
  const out: T[] = [];
  for (const p of promises) out.push(await p);
  return out;
}
