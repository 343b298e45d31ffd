/**
 * Recognising the compatibility formats from a file's first bytes: the
 * Nitro-enclave format (a u32be length, a binary blob, then a Fernet token
 * starting `gAAAAA`) and the Alibaba sample's text (base64, then `*---*`
 * separated fields). The envelope format's magic is checked before these.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { peek, type Peeked } from "../io/header_peek.ts";
import { looksLikeNitro, NITRO_MAX_BLOB, nitroBlobLength, nitroBytesToDecide } from "./nitro.ts";
import { looksLikeAliyun } from "./aliyun_gcm.ts";

/** A compatibility format. */
export type CompatFormat = "nitro" | "aliyun";

/** The format `head` starts like, or `undefined`. `whole` says the head is the entire input. */
export function detectFormat(head: Uint8Array, whole: boolean): CompatFormat | undefined {
  if (looksLikeNitro(head)) return "nitro";
  // A plausible length header that runs past the end: a truncated Nitro file, so the reader can say so.
  const n = nitroBlobLength(head);
  if (whole && n !== undefined && n >= 1 && n <= NITRO_MAX_BLOB && head.length < nitroBytesToDecide(head)) {
    return "nitro";
  }
  if (looksLikeAliyun(head, whole)) return "aliyun";
  return undefined;
}

/**
 * Makes sure the head holds what {@linkcode detectFormat} needs (a Nitro
 * file's blob may be longer than the first read), reading on from the
 * peeked stream when it does not.
 */
export async function headForDetection(peeked: Peeked): Promise<Peeked> {
  if (peeked.ended || peeked.head.length >= nitroBytesToDecide(peeked.head)) return peeked;
  return await peek(peeked.stream, (h) => h.length >= nitroBytesToDecide(h));
}

/** The error for input in no format envelope reads. */
export function formatUnknown(name: string): EnvelopeError {
  return new EnvelopeError(
    "FORMAT_UNKNOWN",
    `Decrypting ${name} failed: it is not an envelope, Nitro-enclave or Alibaba-sample file`,
    {
      hint:
        "envelope files start with the envelope magic; Nitro-enclave files with a 4-byte length, the wrapped key and a Fernet token (gAAAAA...); Alibaba-sample files are base64 text with *---* separators. Check that the file is complete",
    },
  );
}
