/**
 * Encryption: whole byte arrays, and web streams in constant memory.
 *
 * @module
 */
import { concat } from "../format/bytes.ts";
import { DEFAULT_CHUNK_SIZE } from "../format/limits.ts";
import { enterWholeCall, leaveWholeCall, sealsInCore } from "./chunks.ts";
import { beginSealing, type EncryptOptions, type SealingMessage, sealWhole } from "./message.ts";
import { requireBytes, requireOptions } from "./_args.ts";
import { type ChunkLane, chunkLane, type ParallelOptions } from "./parallel.ts";

export type { EncryptOptions } from "./message.ts";

/**
 * Encrypts `plaintext` into an envelope message.
 *
 * @example Encrypting and decrypting bytes with a local key
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("hello"), { keys: key, context: { purpose: "demo" } });
 * const opened = await decrypt(sealed, { keys: key, context: { purpose: "demo" } });
 * assert.ok(new TextDecoder().decode(opened) === "hello");
 * ```
 */
export async function encrypt(
  plaintext: Uint8Array,
  options: EncryptOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  // Counted while in progress: a whole message is sealed or opened alone only when no other call is (chunks.ts).
  enterWholeCall();
  try {
    requireBytes(plaintext, "encrypt() takes the plaintext");
    requireOptions(options, "encrypt()");
    // One unsigned chunk that the core seals is written straight after the header, in the header's array:
    // no promise, no second array, no copy, no chunk cipher.
    if (
      plaintext.length <= (options.chunkSize ?? DEFAULT_CHUNK_SIZE) && !options.sign && sealsInCore(plaintext.length)
    ) {
      return await sealWhole(options, plaintext) as Uint8Array<ArrayBuffer>;
    }
    const msg = await beginSealing(options, plaintext.length);
    try {
      const cs = msg.chunkSize;
      const n = Math.max(1, Math.ceil(plaintext.length / cs));
      const parts: Uint8Array[] = new Array(n + 1);
      const signing = msg.signing;
      parts[0] = msg.header;
      const width = Math.max(1, options.concurrency ?? 4);
      for (let base = 0; base < n; base += width) {
        const batch: Promise<Uint8Array>[] = [];
        for (let i = base; i < Math.min(n, base + width); i++) {
          batch.push(
            msg.cipher.seal(
              i,
              i === n - 1,
              plaintext.subarray(
                i * cs,
                Math.min(plaintext.length, (i + 1) * cs),
              ),
            ),
          );
        }
        const sealed = await Promise.all(batch);
        for (let j = 0; j < sealed.length; j++) {
          parts[base + 1 + j] = sealed[j];
          signing?.transcript.addChunk(sealed[j]);
        }
      }
      if (signing) parts.push(await signing.finish());
      return concat(parts);
    } finally {
      msg.cipher.dispose();
    }
  } finally {
    leaveWholeCall();
  }
}

/** Options for {@linkcode encryptStream}. */
export interface EncryptStreamOptions extends EncryptOptions, ParallelOptions {
  /**
   * The plaintext length when known in advance. With a `cache`, it counts
   * against the cache's byte bound; without it, the stream bypasses the
   * cache and gets a fresh data key.
   */
  readonly plaintextLength?: number;
}

/**
 * A `TransformStream` that encrypts plaintext bytes into an envelope message
 * in constant memory: at most one chunk being filled and `concurrency` chunks
 * being sealed, or with workers (`parallelism`, envelope/parallel.ts) two
 * batches of about 1 MiB per worker. The header (and any KMS call) happens
 * when the stream starts.
 *
 * @example Encrypting a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encryptStream, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await new Response(
 *   new Blob(["streamed ", "text"]).stream().pipeThrough(encryptStream({ keys: key })),
 * ).bytes();
 * assert.ok(new TextDecoder().decode(await decrypt(sealed, { keys: key })) === "streamed text");
 * ```
 */
export function encryptStream(
  options: EncryptStreamOptions,
): TransformStream<Uint8Array, Uint8Array> {
  requireOptions(options, "encryptStream()");
  let msg: SealingMessage;
  let lane: ChunkLane;
  let buf: Uint8Array;
  let fill = 0;
  let index = 0;
  async function push(
    controller: TransformStreamDefaultController<Uint8Array>,
    data: Uint8Array,
    last: boolean,
  ) {
    await lane.put(index++, last, data, controller);
    if (!last) return;
    await lane.drain(controller);
    if (msg.signing) controller.enqueue(await msg.signing.finish());
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    async start(controller) {
      msg = await beginSealing(options, options.plaintextLength);
      lane = chunkLane({
        cipher: msg.cipher,
        op: "seal",
        chunkBytes: msg.chunkSize,
        options,
        knownLength: options.plaintextLength,
        onOutput: msg.signing && ((sealed) => msg.signing!.transcript.addChunk(sealed)),
      });
      buf = lane.buffer();
      controller.enqueue(msg.header);
    },
    async transform(chunk, controller) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError("encryptStream() takes Uint8Array chunks");
      }
      try {
        await take(chunk, controller);
      } catch (e) {
        await lane.close();
        msg.cipher.dispose();
        throw e;
      }
    },
    async flush(controller) {
      try {
        await push(controller, buf.subarray(0, fill), true);
      } finally {
        await lane.close();
        msg.cipher.dispose();
      }
    },
    async cancel() {
      await lane?.close();
      msg?.cipher.dispose();
    },
  } as Transformer<Uint8Array, Uint8Array>);

  async function take(
    chunk: Uint8Array,
    controller: TransformStreamDefaultController<Uint8Array>,
  ) {
    let off = 0;
    while (off < chunk.length) {
      if (fill === buf.length) {
        await push(controller, buf, false);
        buf = lane.buffer();
        fill = 0;
      }
      const n = Math.min(buf.length - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
    }
  }
}
