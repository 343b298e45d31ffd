/**
 * The Nitro-enclave application format of the AWS sample
 * (aws-samples/aws-graviton-run-confidential-ml-workloads-using-nitro-enclaves,
 * `envelope_encryptor.py` writes it, the enclave's `run.py` reads it):
 *
 * ```
 * offset 0     uint32 big-endian N = length of the KMS CiphertextBlob
 * offset 4     N bytes: the raw CiphertextBlob (GenerateDataKey AES_256, no context)
 * offset 4+N   a Fernet token (ASCII base64url with '=' padding, no newline) to EOF
 * ```
 *
 * The Fernet key is the standard base64 (`+/`, padded) of the 32 data-key
 * bytes: Fernet signs with bytes 0..15 and encrypts (AES-128-CBC) with bytes
 * 16..31. This module holds the layout and the whole-file helpers
 * ({@linkcode sealNitro}, {@linkcode openNitro}, in memory); the CLI streams
 * (`nitro_stream.ts`, `src/cli/compat_inputs.ts`) in flat memory.
 * {@linkcode NITRO_MAX_PLAINTEXT} bounds the plaintext either way.
 *
 * @module
 */
import { Fernet } from "../crypto/mod.ts";
import { decodeTokenText } from "../crypto/fernet.ts";
import { MIN_TOKEN } from "../crypto/fernet_token.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import { fixedRandom } from "../crypto/fixed_random_internal.ts";
import { EnvelopeError } from "../errors.ts";

/** The name `envelope_encryptor.py` writes, and our default output name. */
export const NITRO_DEFAULT_NAME = "application_code.zip.encrypted";

/** The largest CiphertextBlob AWS KMS returns (bytes). */
export const NITRO_MAX_BLOB = 6144;

/** The largest plaintext (the zip) this tool puts in or takes out of one Fernet token: 1 GiB. */
export const NITRO_MAX_PLAINTEXT = 1024 ** 3;

/** The largest token text for {@linkcode NITRO_MAX_PLAINTEXT}: base64 of 57 + padded plaintext bytes. */
export const NITRO_MAX_TOKEN = Math.ceil((NITRO_MAX_PLAINTEXT + 16 + 57) / 3) * 4;

/** The largest whole file: header, blob and token. */
export const NITRO_MAX_FILE = 4 + NITRO_MAX_BLOB + NITRO_MAX_TOKEN;

/** What every Fernet token starts with: base64url of the version byte 0x80 and the timestamp's high zero bytes. */
export const FERNET_PREFIX = "gAAAAA";

const PREFIX_BYTES = new TextEncoder().encode(FERNET_PREFIX);

/** The parts of a Nitro file. */
export interface NitroParts {
  /** The raw KMS CiphertextBlob. */
  readonly blob: Uint8Array;
  /** The Fernet token's ASCII bytes. */
  readonly token: Uint8Array;
}

function invalid(
  why: string,
  hint = "check that the file is complete and is an application_code.zip.encrypted file",
): EnvelopeError {
  return new EnvelopeError("COMPAT_INVALID", `Reading the Nitro-enclave file failed: ${why}`, { hint });
}

/** The blob length the first four bytes give, or `undefined` when there are fewer than four. */
export function nitroBlobLength(head: Uint8Array): number | undefined {
  if (head.length < 4) return undefined;
  return new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
}

/**
 * How many leading bytes {@linkcode looksLikeNitro} needs to decide: four for
 * the length, then the blob and the token's first six characters.
 */
export function nitroBytesToDecide(head: Uint8Array): number {
  const n = nitroBlobLength(head);
  if (n === undefined || n < 1 || n > NITRO_MAX_BLOB) return 4;
  return 4 + n + PREFIX_BYTES.length;
}

/** True when `head` starts like a Nitro file: a plausible N (1..6144) and `gAAAAA` right after the blob. */
export function looksLikeNitro(head: Uint8Array): boolean {
  const n = nitroBlobLength(head);
  if (n === undefined || n < 1 || n > NITRO_MAX_BLOB || head.length < 4 + n + PREFIX_BYTES.length) return false;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (head[4 + n + i] !== PREFIX_BYTES[i]) return false;
  return true;
}

/** Splits a whole Nitro file into blob and token; `COMPAT_INVALID` when the layout is wrong. */
export function splitNitro(file: Uint8Array): NitroParts {
  const n = nitroBlobLength(file);
  if (n === undefined) throw invalid(`it is ${file.length} bytes, shorter than the 4-byte length header`);
  if (n < 1 || n > NITRO_MAX_BLOB) {
    throw invalid(`the length header says the wrapped key is ${n} bytes, outside 1..${NITRO_MAX_BLOB}`);
  }
  if (4 + n > file.length) {
    throw invalid(`the length header says the wrapped key is ${n} bytes, but only ${file.length - 4} bytes follow it`);
  }
  const token = file.subarray(4 + n);
  if (token.length === 0) throw invalid("nothing follows the wrapped key: the Fernet token is missing");
  return { blob: file.subarray(4, 4 + n), token };
}

/** The fewest characters of a Fernet token's text: the shortest token (MIN_TOKEN bytes) in unpadded base64. */
const MIN_TOKEN_TEXT = Math.ceil(MIN_TOKEN * 4 / 3);

/**
 * Checks what `inspect` can of a whole Nitro file without decrypting it:
 * {@linkcode splitNitro}'s layout, and a token no shorter than any Fernet
 * token, so that a file cut short is `COMPAT_INVALID` there too, as its
 * decrypt would say, and not a listing with a negative or tiny token size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWholeNitro, joinNitro } from "./nitro.ts";
 * assert.throws(() => checkWholeNitro(joinNitro(new Uint8Array([1, 2, 3]), "gAAAAAB")), /shorter than any/);
 * ```
 */
export function checkWholeNitro(file: Uint8Array): void {
  const { token } = splitNitro(file);
  if (token.length < MIN_TOKEN_TEXT) {
    throw invalid(
      `its Fernet token is ${token.length} characters, shorter than any token (${MIN_TOKEN_TEXT}): it is cut`,
    );
  }
}

/**
 * Joins a blob and a token into the file's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinNitro, looksLikeNitro, splitNitro } from "./nitro.ts";
 * const file = joinNitro(new Uint8Array([1, 2, 3]), "gAAAAABtoken==");
 * assert.ok(looksLikeNitro(file));
 * assert.ok(splitNitro(file).blob.length === 3);
 * ```
 */
export function joinNitro(blob: Uint8Array, token: string): Uint8Array {
  if (blob.length < 1 || blob.length > NITRO_MAX_BLOB) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      `Writing the Nitro-enclave file failed: the wrapped key is ${blob.length} bytes, outside 1..${NITRO_MAX_BLOB}`,
    );
  }
  const out = new Uint8Array(4 + blob.length + token.length);
  new DataView(out.buffer).setUint32(0, blob.length);
  out.set(blob, 4);
  // The token is base64url text: one byte per character.
  for (let i = 0, o = 4 + blob.length; i < token.length; i++) out[o + i] = token.charCodeAt(i);
  return out;
}

/** The Fernet key text the sample uses for a data key: the standard base64 of its 32 bytes. */
export function nitroFernetKey(dataKey: Uint8Array): string {
  checkDataKey(dataKey);
  return encodeBase64(dataKey);
}

function checkDataKey(dataKey: Uint8Array): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== 32) {
    throw new EnvelopeError(
      "INVALID_KEY",
      `Using the data key failed: it is ${(dataKey as Uint8Array)?.length ?? 0} bytes, not 32`,
      {
        hint: "the Nitro format needs an AES_256 data key (32 bytes)",
      },
    );
  }
}

/** Options for {@linkcode sealNitro}. The token's IV always comes from the CSPRNG. */
export interface SealNitroOptions {
  /** The token's timestamp (default: now). */
  readonly now?: Date | number;
}

/**
 * Encrypts `plaintext` (the zip) under `dataKey` and joins it with `blob` into a Nitro file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openNitro, sealNitro, splitNitro } from "./nitro.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const file = await sealNitro(new Uint8Array([80, 75]), key, new Uint8Array(184));
 * const zip = await openNitro(splitNitro(file), key);
 * assert.ok(zip[0] === 80);
 * ```
 */
export async function sealNitro(
  plaintext: Uint8Array,
  dataKey: Uint8Array,
  blob: Uint8Array,
  options: SealNitroOptions = {},
): Promise<Uint8Array> {
  if (plaintext.length > NITRO_MAX_PLAINTEXT) throw tooLarge(plaintext.length);
  fixedRandom(options, "iv", "Writing the Nitro-enclave file");
  const fernet = await Fernet.create(nitroFernetKey(dataKey));
  try {
    return joinNitro(blob, await fernet.encryptAsync(plaintext, options));
  } finally {
    fernet.dispose();
  }
}

/** Verifies and decrypts the token of a Nitro file with the data key (no TTL, as the enclave does). */
export async function openNitro(parts: NitroParts, dataKey: Uint8Array): Promise<Uint8Array> {
  if (parts.token.length > NITRO_MAX_TOKEN) throw tooLarge(Math.floor(parts.token.length * 3 / 4));
  const fernet = await Fernet.create(dataKey);
  try {
    return await fernet.decryptAsync(parts.token);
  } finally {
    fernet.dispose();
  }
}

/** The error for a plaintext over {@linkcode NITRO_MAX_PLAINTEXT}. */
export function tooLarge(bytes: number): EnvelopeError {
  return new EnvelopeError(
    "LIMIT_EXCEEDED",
    `Handling the Nitro-enclave file failed: its plaintext (${bytes} bytes or more) is over the 1 GiB bound`,
    {
      hint:
        "the Nitro-enclave format is bounded at 1 GiB of plaintext; split the application, or use the envelope format (no --format), which has no such bound",
    },
  );
}

/**
 * The token's timestamp (seconds since the epoch) from its first twelve
 * characters, or `undefined` when they are not a Fernet token's start. Not
 * authenticated until the token is decrypted.
 */
export function tokenTimestamp(token: Uint8Array): number | undefined {
  if (token.length < 12) return undefined;
  let raw: Uint8Array;
  try {
    raw = decodeTokenText(String.fromCharCode(...token.subarray(0, 12)));
  } catch {
    return undefined;
  }
  if (raw[0] !== 0x80) return undefined;
  const view = new DataView(raw.buffer, raw.byteOffset, 9);
  return view.getUint32(1) * 2 ** 32 + view.getUint32(5);
}
