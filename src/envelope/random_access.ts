/**
 * Random-access decryption of a byte range from a seekable source: only the
 * header and the chunks that cover the range are read, each authenticated
 * (the final chunk with its last flag) before any of its bytes are returned.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { payloadLayout } from "../format/chunk.ts";
import { concat } from "../format/bytes.ts";
import { parseHeader, tryParseHeader } from "../format/header.ts";
import type { Header } from "../format/header.ts";
import { MAX_HEADER_BYTES, SIGNATURE_BYTES, TAG_BYTES } from "../format/limits.ts";
import { diagnoseTail } from "./chunks.ts";
import { SignedTags } from "./signed_tags.ts";
import { beginOpening, type DecryptOptions, type OpeningMessage } from "./message.ts";
import type { RandomAccessSource } from "../io/random_access_source.ts";
import { requireBytes, requireOptions, typeName } from "./_args.ts";

export type { RandomAccessSource };

/**
 * A source over bytes in memory.
 *
 * @example Reading a range of a message held in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesSource, encrypt, LocalKey, openRandomAccess } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const sealed = await encrypt(new TextEncoder().encode("hello, world"), { keys: key });
 * const reader = await openRandomAccess(bytesSource(sealed), { keys: key });
 * assert.equal(new TextDecoder().decode(await reader.read(7, 5)), "world");
 * await reader.close();
 * ```
 */
export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  requireBytes(bytes, "bytesSource() takes the message");
  return { size: bytes.length, read: (o, n) => Promise.resolve(bytes.subarray(o, o + n)) };
}

/**
 * A source over a `Blob` or `File` (browser file pickers, `fetch().blob()`).
 *
 * @example Reading a range of a `Blob`
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobSource, encrypt, LocalKey, openRandomAccess } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const blob = new Blob([await encrypt(new TextEncoder().encode("0123456789"), { keys: key })]);
 * const reader = await openRandomAccess(blobSource(blob), { keys: key });
 * assert.equal(reader.size, 10);
 * assert.equal(new TextDecoder().decode(await reader.read(8, 100)), "89");
 * await reader.close();
 * ```
 */
export function blobSource(blob: Blob): RandomAccessSource {
  if (!(blob instanceof Blob)) throw new TypeError(`blobSource() takes a Blob, not ${typeName(blob)}`);
  return { size: blob.size, read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()) };
}

/**
 * A source over an HTTP resource read with `Range` requests. The size comes
 * from a first `Range: bytes=0-0` request's `Content-Range`.
 *
 * @example Reading a range over HTTP (here a stand-in `fetch` that serves ranges from memory)
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, httpRangeSource, LocalKey, openRandomAccess } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const file = await encrypt(new TextEncoder().encode("a large report"), { keys: key });
 * const serve = (_url: string | URL | Request, init?: RequestInit) => {
 *   const [, a, b] = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get("range")!)!.map(Number);
 *   const body = file.slice(a, b + 1);
 *   const range = `bytes ${a}-${a + body.length - 1}/${file.length}`;
 *   return Promise.resolve(new Response(body, { status: 206, headers: { "content-range": range } }));
 * };
 * const source = await httpRangeSource("https://files.example/report.envl", { fetch: serve });
 * const reader = await openRandomAccess(source, { keys: key });
 * assert.equal(new TextDecoder().decode(await reader.read(8, 6)), "report");
 * await reader.close();
 * ```
 */
export async function httpRangeSource(
  url: string | URL,
  options: { fetch?: typeof fetch; headers?: HeadersInit } = {},
): Promise<RandomAccessSource> {
  const f = options.fetch ?? fetch;
  const get = async (o: number, n: number) => {
    const headers = new Headers(options.headers);
    headers.set("Range", `bytes=${o}-${o + n - 1}`);
    const res = await f(url, { headers });
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new EnvelopeError(
        "IO_FAILED",
        `Reading bytes ${o}-${o + n - 1} of ${url} failed: the server answered ${res.status}, not 206`,
        {
          hint: "the server must support HTTP range requests",
        },
      );
    }
    return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
  };
  const first = await get(0, 1);
  const m = /\/(\d+)\s*$/.exec(first.res.headers.get("content-range") ?? "");
  if (!m) throw new EnvelopeError("IO_FAILED", `Reading ${url} failed: the response has no Content-Range size`);
  const size = Number(m[1]);
  return {
    size,
    read: async (o, n) => n <= 0 || o >= size ? new Uint8Array(0) : (await get(o, Math.min(n, size - o))).bytes,
  };
}

/** Most bytes of chunks fetched by one source read in `read()`. */
const READ_RUN_BYTES = 8 * 1024 * 1024;

/** Chunks read per request while collecting a signed message's tags. */
const TAG_RUN = 64;

/**
 * Verifies a signed message's signature at open (docs/FORMAT.md §5.1): reads
 * the payload in runs of chunks, feeds every chunk's tag to the transcript,
 * then checks the signature, so no range is returned from a forged message.
 */
async function verifyAllTags(
  source: RandomAccessSource,
  start: number,
  payloadLength: number,
  full: number,
  chunks: number,
  verifying: NonNullable<OpeningMessage["verifying"]>,
): Promise<SignedTags> {
  const kept = new SignedTags(chunks);
  for (let i = 0; i < chunks; i += TAG_RUN) {
    const n = Math.min(TAG_RUN, chunks - i);
    const run = await source.read(start + i * full, Math.min(n * full, payloadLength - i * full));
    for (let j = 0; j < n; j++) {
      const sealed = run.subarray(j * full, Math.min(run.length, (j + 1) * full));
      verifying.transcript.addChunk(sealed);
      kept.add(sealed);
    }
  }
  await verifying.finish(await source.read(start + payloadLength, SIGNATURE_BYTES));
  return kept;
}

/** Bytes and Blobs as sources; anything without `size` and `read` is the caller's bug. */
function asSource(message: unknown): RandomAccessSource {
  if (message instanceof Uint8Array) return bytesSource(message);
  if (message instanceof Blob) return blobSource(message);
  const s = message as Partial<RandomAccessSource> | null;
  if (s !== null && typeof s === "object" && typeof s.read === "function" && Number.isSafeInteger(s.size)) {
    return s as RandomAccessSource;
  }
  throw new TypeError(
    `openRandomAccess() takes a Uint8Array, a Blob or a RandomAccessSource ({ size, read }), not ${typeName(message)}`,
  );
}

/** Reads plaintext ranges of a message. */
export interface RandomAccessReader {
  /** The authenticated header. */
  readonly header: Header;
  /** The plaintext length. */
  readonly size: number;
  /** Decrypts `length` plaintext bytes from `offset` (fewer at the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Wipes the payload key and closes the source. */
  close(): Promise<void>;
}

/**
 * Opens a message for random access. The header is authenticated (data key
 * unwrapped, commitment and header tag checked) before it returns.
 *
 * @example Reading the middle of a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, LocalKey, openRandomAccess } from "../../mod.ts";
 * const key = await LocalKey.generate();
 * const data = new Uint8Array(300_000).map((_, i) => i % 251);
 * const sealed = await encrypt(data, { keys: key, chunkSize: 65536 });
 * // The message as bytes (or a Blob, or any RandomAccessSource: a file, HTTP range requests)
 * const reader = await openRandomAccess(sealed, { keys: key });
 * const part = await reader.read(100_000, 10);
 * assert.ok(part[0] === data[100_000] && part.length === 10);
 * await reader.close();
 * ```
 */
export async function openRandomAccess(
  message: RandomAccessSource | Uint8Array | Blob,
  options: DecryptOptions,
): Promise<RandomAccessReader> {
  requireOptions(options, "openRandomAccess()");
  const source = asSource(message);
  let headBytes = await source.read(0, Math.min(source.size, 4096));
  for (;;) {
    const r = tryParseHeader(headBytes);
    if (typeof r !== "number") break;
    if (r > MAX_HEADER_BYTES || headBytes.length >= source.size) {
      parseHeader(headBytes);
      break;
    }
    const before = headBytes.length;
    headBytes = await source.read(0, Math.min(source.size, Math.max(r, headBytes.length * 2)));
    // A source that gives no more than last time (shorter than its size says) would be asked forever.
    if (headBytes.length <= before) {
      parseHeader(headBytes); // throws TRUNCATED for a cut header
      throw new EnvelopeError("TRUNCATED", "Reading the header failed: the input ends inside it", {
        hint: "the source returned fewer bytes than its size; the file was cut short, or the server answers short",
      });
    }
  }
  const header = parseHeader(headBytes);
  const msg: OpeningMessage = await beginOpening(header, options);
  const cs = header.chunkSize;
  const full = cs + TAG_BYTES;
  const payloadLength = source.size - header.length - (msg.verifying ? SIGNATURE_BYTES : 0);
  let layout: ReturnType<typeof payloadLayout>;
  let signed: SignedTags | undefined;
  try {
    if (payloadLength < 0) payloadLayout(0, cs); // throws TRUNCATED
    // Reads of the payload stop at its end: a signed message's signature follows it.
    const readPayload = (o: number, n: number) => source.read(header.length + o, Math.min(n, payloadLength - o));
    await diagnoseTail(msg.cipher, payloadLength, cs, readPayload);
    layout = payloadLayout(payloadLength, cs);
    // Open the final chunk now, so `size` is authenticated: a message cut at a
    // chunk boundary or extended by whole chunks fails here, not on some later read.
    const lastIndex = layout.chunks - 1;
    try {
      (await msg.cipher.open(lastIndex, true, await readPayload(lastIndex * full, full), layout.chunks))
        .fill(0);
    } catch (failure) {
      let e = failure;
      if (msg.verifying) {
        // Cut inside the signature or before the final chunk: say so, as the other decoders do.
        const sealed = await readPayload(lastIndex * full, full);
        const tail = await source.read(header.length + payloadLength, SIGNATURE_BYTES);
        e = msg.cipher.explainSignedEnd(lastIndex, sealed, tail, cs, e);
      }
      // Whole chunks appended after the real final chunk: say so, as the streaming decoder does.
      if (lastIndex > 0 && e instanceof EnvelopeError && e.code === "PAYLOAD_AUTH_FAILED") {
        const prev = await readPayload((lastIndex - 1) * full, full);
        await msg.cipher.open(lastIndex - 1, false, prev, layout.chunks).then((p) => p.fill(0), (e2) => {
          throw e2 instanceof EnvelopeError && e2.code === "TRAILING_DATA" ? e2 : e;
        });
      }
      throw e;
    }
    if (layout.chunks > 1 && layout.lastChunkPlaintext === 0) {
      throw new EnvelopeError(
        "PAYLOAD_AUTH_FAILED",
        "Decrypting failed: the message ends with an empty final chunk after full chunks",
        {
          hint: "the file was altered; restore it from a trusted copy",
        },
      );
    }
    if (msg.verifying) {
      signed = await verifyAllTags(source, header.length, payloadLength, full, layout.chunks, msg.verifying);
    }
  } catch (e) {
    msg.cipher.dispose();
    throw e;
  }
  return {
    header,
    size: layout.plaintextLength,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new RangeError("read() takes a non-negative offset and length");
      }
      const end = Math.min(layout.plaintextLength, offset + length);
      if (offset >= end) return new Uint8Array(0);
      const first = Math.floor(offset / cs);
      const lastIdx = Math.floor((end - 1) / cs);
      const parts: Uint8Array[] = [];
      // One source read per run of chunks (at most READ_RUN_BYTES), so a ranged
      // source (HTTP, S3) makes one request per run, not one per chunk.
      const perRun = Math.max(1, Math.floor(READ_RUN_BYTES / full));
      let run: Uint8Array = new Uint8Array(0);
      let runFirst = first;
      for (let i = first; i <= lastIdx; i++) {
        if (i === first || i - runFirst >= perRun) {
          runFirst = i;
          const n = Math.min(perRun, lastIdx - i + 1);
          const want = Math.min(n * full, payloadLength - i * full);
          run = await source.read(header.length + i * full, want);
        }
        const at = (i - runFirst) * full;
        const want = Math.min(full, payloadLength - i * full);
        const sealed = run.subarray(at, at + want);
        if (sealed.length < want) {
          // The source shrank after it was opened (a file cut while being read).
          throw new EnvelopeError("TRUNCATED", `Reading chunk ${i} failed: the input ends inside it`, {
            hint: "the file was cut short after it was opened; copy it again from its source",
          });
        }
        // A signed message: the chunk must be the one the signature covered at the open (signed_tags.ts).
        await signed?.check(
          i,
          sealed,
          (j) =>
            source.read(header.length + j * full + Math.min(full, payloadLength - j * full) - TAG_BYTES, TAG_BYTES),
        );
        const pt = await msg.cipher.open(i, i === layout.chunks - 1, sealed, layout.chunks);
        const from = i === first ? offset - i * cs : 0;
        const to = i === lastIdx ? end - i * cs : pt.length;
        parts.push(pt.subarray(from, to));
      }
      return concat(parts);
    },
    async close() {
      msg.cipher.dispose();
      await source.close?.();
    },
  };
}
