/**
 * The Nitro-enclave format as streams: the 4-byte length and the blob read
 * from the front of a stream, the Fernet token left as a stream for the
 * two-pass reader (`src/crypto/fernet_stream.ts`), and a whole file written
 * as a stream with the token's HMAC last. Memory stays flat in the size of
 * the zip, up to {@linkcode NITRO_MAX_PLAINTEXT}.
 *
 * @module
 */
import { encryptFernetStream } from "../crypto/fernet_stream.ts";
import type { FernetEncryptOptions } from "../crypto/fernet.ts";
import { EnvelopeError } from "../errors.ts";
import { NITRO_MAX_BLOB, NITRO_MAX_PLAINTEXT, tooLarge } from "./nitro.ts";
import { limited } from "../io/byte_streams.ts";
import { rejoin } from "../io/header_peek.ts";

function invalid(why: string): EnvelopeError {
  return new EnvelopeError("COMPAT_INVALID", `Reading the Nitro-enclave file failed: ${why}`, {
    hint: "check that the file is complete and is an application_code.zip.encrypted file",
  });
}

/**
 * Reads the length header and the blob from the front of a Nitro file's
 * stream; `token` is the rest (the Fernet token's text). `COMPAT_INVALID`
 * when the layout is wrong or nothing follows the blob.
 */
export async function readNitroPrefix(
  stream: ReadableStream<Uint8Array>,
): Promise<{ blob: Uint8Array; token: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  let head: Uint8Array = new Uint8Array(0);
  let need = 4;
  let n = 0;
  while (true) {
    if (head.length >= 4 && need === 4) {
      n = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
      if (n < 1 || n > NITRO_MAX_BLOB) {
        await reader.cancel().catch(() => {});
        throw invalid(`the length header says the wrapped key is ${n} bytes, outside 1..${NITRO_MAX_BLOB}`);
      }
      need = 4 + n + 1;
    }
    if (head.length >= need) break;
    const { value, done } = await reader.read();
    if (done) {
      if (head.length < 4) throw invalid(`it is ${head.length} bytes, shorter than the 4-byte length header`);
      if (head.length < 4 + n) {
        throw invalid(
          `the length header says the wrapped key is ${n} bytes, but only ${head.length - 4} bytes follow it`,
        );
      }
      throw invalid("nothing follows the wrapped key: the Fernet token is missing");
    }
    const next = new Uint8Array(head.length + value.length);
    next.set(head);
    next.set(value, head.length);
    head = next;
  }
  return { blob: head.slice(4, 4 + n), token: rejoin(head.subarray(4 + n), reader) };
}

/** `stream` without its first `count` bytes. */
export function skipBytes(stream: ReadableStream<Uint8Array>, count: number): ReadableStream<Uint8Array> {
  let left = count;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (left >= chunk.length) {
          left -= chunk.length;
          return;
        }
        controller.enqueue(left > 0 ? chunk.subarray(left) : chunk);
        left = 0;
      },
    }),
  );
}

/** The file's first bytes: the u32be length of `blob`, then `blob`. */
export function nitroPrefix(blob: Uint8Array): Uint8Array {
  if (blob.length < 1 || blob.length > NITRO_MAX_BLOB) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Writing the Nitro-enclave file failed: the wrapped key is ${blob.length} bytes, outside 1..${NITRO_MAX_BLOB}`,
    );
  }
  const out = new Uint8Array(4 + blob.length);
  new DataView(out.buffer).setUint32(0, blob.length);
  out.set(blob, 4);
  return out;
}

/**
 * A Nitro file as a stream: the prefix for `blob`, then the Fernet token of
 * `plaintext` (the zip) under `dataKey` (32 bytes, the sample's Fernet key),
 * written as it is made. A plaintext over {@linkcode NITRO_MAX_PLAINTEXT}
 * errors the stream with `LIMIT_EXCEEDED`. The key is imported before this
 * returns, so the caller may wipe `dataKey` then.
 */
export async function sealNitroStream(
  plaintext: ReadableStream<Uint8Array>,
  dataKey: Uint8Array,
  blob: Uint8Array,
  options: Pick<FernetEncryptOptions, "now"> = {},
): Promise<ReadableStream<Uint8Array>> {
  const prefix = nitroPrefix(blob);
  const token = plaintext
    .pipeThrough(limited([{ bytes: NITRO_MAX_PLAINTEXT, error: tooLarge }]))
    .pipeThrough(await encryptFernetStream(dataKey, options));
  return rejoin(prefix, token.getReader());
}
