/**
 * Recognising the compatibility formats from a file's first bytes: the
 * Nitro-enclave format (a u32be length, a binary blob, then a Fernet token
 * starting `gAAAAA`) and the Alibaba sample's text (base64, then `*---*`
 * separated fields). The envelope format's magic is checked before these.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { MAGIC } from "../format/limits.ts";
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

const NONE = "not an envelope, Nitro-enclave or Alibaba-sample file";

/**
 * Why a file is in no format envelope reads, as its first bytes tell
 * ("it is an age file, not an envelope file"), and what to do with it;
 * `undefined` when they tell nothing.
 */
export function guessKind(head: Uint8Array): { why: string; hint: string } | undefined {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 64));
  // PNG's trick: the magic holds CR LF, SUB and a non-ASCII byte, so a text-mode copy changes a byte or two of it.
  const same = MAGIC.filter((b, i) => head[i] === b).length;
  if (head.length > MAGIC.length && (same >= MAGIC.length - 2 || text.slice(1, 4) === "ENV")) {
    return {
      why: "its first 8 bytes are nearly the envelope magic: the file was changed",
      hint: "copy it again in binary mode (a text-mode transfer changes CR, LF and non-ASCII bytes), or restore it",
    };
  }
  const key = "give the file that was encrypted with this key";
  const plain = "`envelope encrypt` encrypts it";
  const age = "decrypt it with age: age -d -i IDENTITY-FILE";
  if (text.startsWith("age-encryption.org/")) return { why: "it is an age file, not an envelope file", hint: age };
  if (text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    return { why: "it is an armored age file, not an envelope file", hint: age };
  }
  if (text.startsWith("ENVELOPE-LOCAL-KEY-V1:")) {
    return { why: "it is an envelope local key file, not an encrypted file", hint: key };
  }
  if (/^(AGE-SECRET-KEY-|# created: )/.test(text)) {
    return { why: "it is an age identity file, not an encrypted file", hint: key };
  }
  if (text.startsWith("PK\x03\x04") || text.startsWith("PK\x05\x06")) {
    return { why: "it is a zip archive, not an encrypted file", hint: plain };
  }
  if (text.startsWith("\x1f\x8b")) return { why: "it is a gzip file, not an encrypted file", hint: plain };
  if (text.startsWith("%PDF-")) return { why: "it is a PDF document, not an encrypted file", hint: plain };
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  try {
    // The first 4 KiB as text, allowing a character cut at the end.
    const t = utf8.decode(head.subarray(0, 4096), { stream: true });
    // Text: no control character but tab, line feed, vertical tab, form feed and carriage return.
    const control = [...t].some((c) => (c < " " && (c < "\t" || c > "\r")) || c === "\x7f");
    if (t.length > 0 && !control) {
      return {
        why: `it is plain text, ${NONE}`,
        hint:
          "it is not encrypted: `envelope encrypt` encrypts it (if it should be an Alibaba-sample file, base64 text with *---* separators, check that it is complete)",
      };
    }
  } catch { /* binary */ }
  return undefined;
}

/**
 * TRUNCATED for a whole input that is empty or ends inside the envelope
 * magic (a prefix of it); `undefined` for any other input.
 */
export function truncatedMagic(action: string, name: string, head: Uint8Array): EnvelopeError | undefined {
  if (head.length >= MAGIC.length || !MAGIC.subarray(0, head.length).every((b, i) => b === head[i])) return undefined;
  return new EnvelopeError(
    "TRUNCATED",
    head.length === 0
      ? `${action} ${name} failed: it is empty`
      : `${action} ${name} failed: it ends inside the envelope magic (${head.length} of its 8 bytes)`,
    { hint: "the file is incomplete; copy it again from its source" },
  );
}

/**
 * The error for input in no format envelope reads. With `head` and `whole`
 * (the head is the entire input): an empty input or one that ends inside the
 * envelope magic is TRUNCATED; otherwise FORMAT_UNKNOWN says what the input
 * seems to be, when its first bytes tell. `action` names what failed
 * ("Decrypting", "Inspecting", "Converting").
 */
export function formatUnknown(
  name: string,
  options: { action?: string; head?: Uint8Array; whole?: boolean } = {},
): EnvelopeError {
  const { action = "Decrypting", head, whole = false } = options;
  const cut = head && whole ? truncatedMagic(action, name, head) : undefined;
  if (cut) return cut;
  const guess = head ? guessKind(head) : undefined;
  return new EnvelopeError(
    "FORMAT_UNKNOWN",
    `${action} ${name} failed: ${guess?.why ?? `it is ${NONE}`}`,
    {
      hint: guess?.hint ??
        "envelope files start with the envelope magic; Nitro-enclave files with a 4-byte length, the wrapped key and a Fernet token (gAAAAA...); Alibaba-sample files are base64 text with *---* separators. Check that the file is complete",
    },
  );
}
