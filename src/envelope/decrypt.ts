/**
 * Decryption: whole byte arrays, and web streams in constant memory. No
 * plaintext of a chunk is released before its tag verified; a stream that
 * ends early errors, it never just stops.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { payloadLayout } from "../format/chunk.ts";
import { concat } from "../format/bytes.ts";
import { parseHeader, tryParseHeader } from "../format/header.ts";
import { MAX_HEADER_BYTES, SIGNATURE_BYTES, SUITE, TAG_BYTES } from "../format/limits.ts";
import { requireBytes, requireOptions } from "./_args.ts";
import { diagnoseTail, enterWholeCall, inOrder, leaveWholeCall, opensInCore } from "./chunks.ts";
import { beginOpening, type DecryptOptions, type OpeningMessage, openWhole } from "./message.ts";
import { type ChunkLane, chunkLane, type ParallelOptions } from "./parallel.ts";

export type { DecryptOptions } from "./message.ts";

function truncated(): EnvelopeError {
  return new EnvelopeError("TRUNCATED", "Decrypting failed: the input ends before the final chunk", {
    hint: "the file is incomplete; copy it again from its source",
  });
}

function emptyFinalChunk(index: number): EnvelopeError {
  return new EnvelopeError(
    "PAYLOAD_AUTH_FAILED",
    `Decrypting failed: chunk ${index} is an empty final chunk after full chunks, which encoders never write`,
    {
      hint: "the file was altered; restore it from a trusted copy",
    },
  );
}

/**
 * Decrypts a whole envelope message held in memory.
 *
 * @example Decrypting with the context checked
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new Uint8Array([1, 2, 3]), { keys: key, context: { tenant: "a" } });
 * try {
 *   await decrypt(sealed, { keys: key, context: { tenant: "b" } });
 *   assert.fail("decrypt accepted a context that differs from the stored one");
 * } catch (e) {
 *   assert.ok((e as { code: string }).code === "CONTEXT_MISMATCH");
 * }
 * ```
 */
export async function decrypt(
  message: Uint8Array,
  options: DecryptOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  // Counted while in progress: a whole message is sealed or opened alone only when no other call is (chunks.ts).
  enterWholeCall();
  try {
    requireBytes(message, "decrypt() takes the message");
    requireOptions(options, "decrypt()");
    const header = parseHeader(message);
    if (header.suite === SUITE) {
      const payload = message.subarray(header.length);
      // One unsigned chunk that the core opens: no chunk cipher, no promise. (A tail check has nothing to find in one chunk.)
      if (payload.length <= header.chunkSize + TAG_BYTES && opensInCore(payload.length)) {
        return await openWhole(header, options, payload) as Uint8Array<ArrayBuffer>;
      }
    }
    const msg = await beginOpening(header, options);
    const verifying = msg.verifying;
    const end = verifying ? message.length - SIGNATURE_BYTES : message.length;
    if (end < header.length) {
      msg.cipher.dispose();
      throw truncated();
    }
    const payload = message.subarray(header.length, end);
    try {
      const read = (o: number, n: number) => Promise.resolve(payload.subarray(o, o + n));
      await diagnoseTail(msg.cipher, payload.length, header.chunkSize, read);
      const layout = payloadLayout(payload.length, header.chunkSize);
      const full = header.chunkSize + TAG_BYTES;
      const parts: Uint8Array[] = new Array(layout.chunks);
      const width = Math.max(1, options.concurrency ?? 4);
      for (let base = 0; base < layout.chunks; base += width) {
        const batch: Promise<Uint8Array>[] = [];
        for (let i = base; i < Math.min(layout.chunks, base + width); i++) {
          const sealed = payload.subarray(i * full, Math.min(payload.length, (i + 1) * full));
          const last = i === layout.chunks - 1;
          const opening = msg.cipher.open(i, last, sealed, layout.chunks);
          batch.push(
            last && verifying
              ? opening.catch((e) => {
                throw msg.cipher.explainSignedEnd(i, sealed, message.subarray(end), header.chunkSize, e);
              })
              : opening,
          );
        }
        const opened = await inOrder(batch);
        for (let j = 0; j < opened.length; j++) parts[base + j] = opened[j];
      }
      if (layout.chunks > 1 && layout.lastChunkPlaintext === 0) {
        throw emptyFinalChunk(layout.chunks - 1);
      }
      if (verifying) {
        for (let i = 0; i < layout.chunks; i++) {
          verifying.transcript.addChunk(payload.subarray(i * full, Math.min(payload.length, (i + 1) * full)));
        }
        await verifying.finish(message.subarray(end));
      }
      // Each part is a fresh array of its own, so a single one is returned as it is.
      return parts.length === 1 ? parts[0] as Uint8Array<ArrayBuffer> : concat(parts);
    } finally {
      msg.cipher.dispose();
    }
  } finally {
    leaveWholeCall();
  }
}

/** A growable byte buffer for the streaming decoder. */
class Accumulator {
  #buf = new Uint8Array(1024);
  length = 0;
  push(data: Uint8Array): void {
    if (this.length + data.length > this.#buf.length) {
      let cap = this.#buf.length;
      while (cap < this.length + data.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, this.length));
      this.#buf = next;
    }
    this.#buf.set(data, this.length);
    this.length += data.length;
  }
  view(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

/**
 * A `TransformStream` that decrypts an envelope message in constant memory:
 * the header is read and authenticated first, then each chunk is released
 * only after its tag verified.
 *
 * @example Decrypting a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptStream, encrypt, LocalKey } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("streamed"), { keys: key });
 * const out = await new Response(new Blob([sealed]).stream().pipeThrough(decryptStream({ keys: key }))).text();
 * assert.ok(out === "streamed");
 * ```
 */
export function decryptStream(
  options: DecryptOptions & ParallelOptions,
): TransformStream<Uint8Array, Uint8Array> {
  requireOptions(options, "decryptStream()");
  let head: Accumulator | null = new Accumulator();
  let need = 0;
  let msg: OpeningMessage | null = null;
  let full = 0;
  let buf = new Uint8Array(0);
  let fill = 0;
  let index = 0;
  let lane: ChunkLane | null = null;
  // A signed message ends with its signature: the last 64 bytes seen are held back from the chunks.
  let sigTail = new Uint8Array(0);

  async function take(
    data: Uint8Array,
    controller: TransformStreamDefaultController<Uint8Array>,
  ) {
    if (!msg!.verifying) return await feed(data, controller);
    const release = sigTail.length + data.length - SIGNATURE_BYTES;
    if (release <= 0) {
      sigTail = concat([sigTail, data]);
      return;
    }
    const fromTail = Math.min(release, sigTail.length);
    if (fromTail > 0) await feed(sigTail.subarray(0, fromTail), controller);
    const fromData = release - fromTail;
    if (fromData > 0) await feed(data.subarray(0, fromData), controller);
    sigTail = concat([sigTail.subarray(fromTail), data.subarray(fromData)]);
  }

  async function feed(
    data: Uint8Array,
    controller: TransformStreamDefaultController<Uint8Array>,
  ) {
    let off = 0;
    while (off < data.length) {
      if (fill === full) {
        // A full chunk with more input after it: not the final chunk.
        msg!.verifying?.transcript.addChunk(buf);
        await lane!.put(index++, false, buf, controller);
        buf = lane!.buffer();
        fill = 0;
      }
      const n = Math.min(full - fill, data.length - off);
      buf.set(data.subarray(off, off + n), fill);
      fill += n;
      off += n;
    }
  }

  async function step(
    chunk: Uint8Array,
    controller: TransformStreamDefaultController<Uint8Array>,
  ) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("decryptStream() takes Uint8Array chunks");
    }
    if (msg) return await take(chunk, controller);
    head!.push(chunk);
    if (head!.length < need) return;
    const parsed = tryParseHeader(head!.view());
    if (typeof parsed === "number") {
      need = parsed;
      if (need > MAX_HEADER_BYTES) {
        throw new EnvelopeError(
          "HEADER_INVALID",
          "Reading the header failed: it is larger than any valid header",
        );
      }
      return;
    }
    msg = await beginOpening(parsed, options);
    full = parsed.chunkSize + TAG_BYTES;
    lane = chunkLane({
      cipher: msg.cipher,
      op: "open",
      chunkBytes: full,
      options,
    });
    buf = lane.buffer();
    const rest = head!.view().subarray(parsed.length).slice();
    head = null;
    await take(rest, controller);
  }

  // The final chunk; for a signed message, a failure is checked for a cut inside the signature or before the chunk.
  const openFinal = (m: OpeningMessage, at: number, sealed: Uint8Array): Promise<Uint8Array> =>
    m.cipher.open(at, true, sealed).catch((e) => {
      throw m.verifying ? m.cipher.explainSignedEnd(at, sealed, sigTail, m.header.chunkSize, e) : e;
    });

  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      try {
        await step(chunk, controller);
      } catch (e) {
        await lane?.close();
        msg?.cipher.dispose();
        throw e;
      }
    },
    async flush(controller) {
      if (!msg) {
        if (head!.length === 0) {
          throw new EnvelopeError(
            "TRUNCATED",
            "Decrypting failed: the input is empty",
            { hint: "check the input file" },
          );
        }
        const parsed = tryParseHeader(head!.view());
        if (typeof parsed === "number") parseHeader(head!.view()); // throws TRUNCATED
        throw new EnvelopeError(
          "TRUNCATED",
          "Decrypting failed: the input ends before the final chunk",
          {
            hint: "the file is incomplete; copy it again from its source",
          },
        );
      }
      try {
        if (fill < TAG_BYTES) {
          // Earlier chunks first: a final chunk followed by stray bytes is TRAILING_DATA.
          await lane!.drain(controller);
          throw new EnvelopeError(
            "TRUNCATED",
            "Decrypting failed: the input ends before the final chunk",
            {
              hint: "the file is incomplete; copy it again from its source",
            },
          );
        }
        // A copy: draining hands the lane's current batch buffer, which `buf` views, to a worker.
        const final = buf.slice(0, fill);
        if (index > 0 && fill === TAG_BYTES) {
          await lane!.drain(controller);
          // Diagnose: an authentic empty final chunk, or a cut/tampered one.
          await openFinal(msg, index, final);
          throw emptyFinalChunk(index);
        }
        msg.verifying?.transcript.addChunk(final);
        // The final chunk is opened here, after every chunk before it, so a signed message's cut end is explained.
        await lane!.drain(controller);
        controller.enqueue(await openFinal(msg, index++, final));
        if (msg.verifying) {
          if (sigTail.length < SIGNATURE_BYTES) throw truncated();
          await msg.verifying.finish(sigTail);
        }
      } finally {
        await lane?.close();
        msg.cipher.dispose();
      }
    },
    async cancel() {
      await lane?.close();
      msg?.cipher.dispose();
    },
  } as Transformer<Uint8Array, Uint8Array>);
}
