/**
 * Encoding and parsing of the message header (docs/FORMAT.md §3).
 *
 * `format/` is pure: no keys, no I/O. Authenticating the header needs the
 * data key and happens in `envelope/`.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import type { EncryptionContext, WrappedKey } from "./types.ts";
import { ByteReader, ByteWriter, NeedMore, utf8DecodeStrict, utf8Encode } from "./bytes.ts";
import { type ContextPlan, encodeContext, readContext, writeContext } from "./context.ts";
import {
  COMMITMENT_BYTES,
  HEADER_TAG_BYTES,
  MAGIC,
  MAX_CHUNK_SIZE,
  MAX_KEY_ID_BYTES,
  MAX_PROVIDER_BYTES,
  MAX_WRAPPED_BYTES,
  MAX_WRAPPED_KEYS,
  MIN_CHUNK_SIZE,
  SALT_BYTES,
  SUITE,
  SUITE_SIGNED,
  VERSION,
} from "./limits.ts";

/** The authenticated part of the header. */
export interface HeaderCore {
  /** Plaintext bytes per chunk. */
  readonly chunkSize: number;
  /** The message's random salt, input to the key derivation. */
  readonly salt: Uint8Array;
  /** The encryption context. */
  readonly context: EncryptionContext;
  /** The key commitment derived from the data key and the salt. */
  readonly commitment: Uint8Array;
  /** The algorithm suite: 1, or 2 for a signed message (default 1). */
  readonly suite?: number;
}

/** A parsed header. */
export interface Header extends HeaderCore {
  /** The format version. */
  readonly version: number;
  /** The cipher suite id: 1, or 2 for a signed message. */
  readonly suite: number;
  /** The bytes from the magic through the commitment, as the header tag covers them. */
  readonly core: Uint8Array;
  /** HMAC-SHA256 of `core` under the header key. */
  readonly headerTag: Uint8Array;
  /** The wrapped data keys, one per provider. */
  readonly keys: readonly WrappedKey[];
  /** Offset of the key list (just after the header tag). */
  readonly keyListOffset: number;
  /** Total header length; the payload starts here. */
  readonly length: number;
}

const PROVIDER_RE = /^[a-z0-9-]{1,64}$/;

function invalid(why: string): EnvelopeError {
  return new EnvelopeError(
    "HEADER_INVALID",
    `Reading the header failed: ${why}`,
    {
      hint: "the file is damaged or was not written by envelope",
    },
  );
}

function limit(what: string): EnvelopeError {
  return new EnvelopeError(
    "LIMIT_EXCEEDED",
    `Reading the header failed: ${what}`,
    {
      hint: "the file is damaged or was not written by envelope",
    },
  );
}

/** Checks a chunk size against the limits; used by encoders and decoders alike. */
export function checkChunkSize(chunkSize: number): void {
  if (
    !Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE ||
    chunkSize > MAX_CHUNK_SIZE
  ) {
    throw new EnvelopeError(
      "LIMIT_EXCEEDED",
      `The chunk size ${chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`,
      {
        hint: "choose a chunk size from 64 bytes to 16 MiB (the default is 64 KiB)",
      },
    );
  }
}

/** Encodes the core (magic .. commitment). */
export function encodeCore(core: HeaderCore): Uint8Array {
  checkChunkSize(core.chunkSize);
  if (core.salt.length !== SALT_BYTES) {
    throw new RangeError("The salt must be 32 bytes");
  }
  if (core.commitment.length !== COMMITMENT_BYTES) {
    throw new RangeError("The commitment must be 32 bytes");
  }
  const suite = checkSuite(core.suite ?? SUITE);
  const context = encodeContext(core.context);
  return new ByteWriter(coreLength(context.length))
    .bytes(MAGIC).u8(VERSION).u8(suite).u32(core.chunkSize).bytes(core.salt)
    .bytes(context).bytes(core.commitment)
    .finish();
}

function checkSuite(suite: number): number {
  if (suite !== SUITE && suite !== SUITE_SIGNED) throw new RangeError("The suite must be 1 or 2");
  return suite;
}

/** The length of a core whose encoded context is `contextBytes` long. */
function coreLength(contextBytes: number): number {
  return MAGIC.length + 1 + 1 + 4 + SALT_BYTES + contextBytes + COMMITMENT_BYTES;
}

/** A header laid out by {@linkcode layoutHeader}: views of `message` for the bytes that need the keys. */
export interface HeaderLayout {
  /** The header followed by the `room` zero bytes asked for, in one array. */
  readonly message: Uint8Array;
  /** The header's length: the payload starts here. */
  readonly length: number;
  /** The core (magic .. commitment), the header tag's input; the tag follows it. */
  readonly core: Uint8Array;
  /** The salt, zero bytes for the caller to fill (with random bytes) first. */
  readonly salt: Uint8Array;
  /** The key commitment, zero bytes for the caller to fill once the keys are derived from the salt. */
  readonly commitment: Uint8Array;
}

/**
 * Lays out a whole header in one array, with `room` zero bytes after it for
 * the payload, and writes every field that needs no key: the caller fills
 * the salt, then the commitment, then the header tag (32 bytes at
 * `core.length`, over `core`). The same bytes as
 * {@linkcode encodeCore} then {@linkcode encodeHeader}, without their
 * intermediate arrays. `context` is the context as `planContext`
 * (format/context.ts) validated it, which the caller did before any KMS call.
 */
export function layoutHeader(
  fields: { readonly chunkSize: number; readonly suite: number; readonly context: ContextPlan },
  keys: readonly WrappedKey[],
  room = 0,
): HeaderLayout {
  checkChunkSize(fields.chunkSize);
  const suite = checkSuite(fields.suite);
  const plan = planKeyList(keys);
  const coreBytes = coreLength(fields.context.size);
  const length = coreBytes + HEADER_TAG_BYTES + plan.size;
  const w = new ByteWriter(length + room).bytes(MAGIC).u8(VERSION).u8(suite).u32(fields.chunkSize);
  const salt = w.skip(SALT_BYTES);
  const context = w.skip(fields.context.size);
  const commitment = w.skip(COMMITMENT_BYTES);
  w.skip(HEADER_TAG_BYTES);
  const message = writeKeyList(w, plan).finish(room);
  writeContext(fields.context, message, context);
  return {
    message,
    length,
    core: message.subarray(0, coreBytes),
    salt: message.subarray(salt, salt + SALT_BYTES),
    commitment: message.subarray(commitment, commitment + COMMITMENT_BYTES),
  };
}

/**
 * A key list validated field by field, and its size in bytes. Provider
 * names are ASCII by their pattern, and key ids mostly are: those stay
 * strings and are written byte by byte, the others are encoded here.
 */
interface KeyListPlan {
  readonly entries: readonly [provider: string, keyId: string | Uint8Array, wrapped: Uint8Array][];
  readonly size: number;
}

/** Checks every limit of a key list and encodes its strings, before anything is written. */
function planKeyList(keys: readonly WrappedKey[]): KeyListPlan {
  if (keys.length === 0) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Writing the header failed: there is no wrapped key",
      {
        hint: "pass at least one key provider",
      },
    );
  }
  if (keys.length > MAX_WRAPPED_KEYS) {
    throw new EnvelopeError(
      "LIMIT_EXCEEDED",
      `Writing the header failed: ${keys.length} wrapped keys is over the limit of 32`,
      {
        hint: "wrap the data key for at most 32 keys",
      },
    );
  }
  const entries: [string, string | Uint8Array, Uint8Array][] = [];
  let size = 1;
  for (const k of keys) {
    if (typeof k.provider !== "string" || !PROVIDER_RE.test(k.provider)) {
      throw new RangeError(
        `Provider name "${k.provider}" must be 1-64 characters of [a-z0-9-]`,
      );
    }
    const id = isAscii(k.keyId) ? k.keyId : utf8Encode(k.keyId, "a key id");
    if (id.length > MAX_KEY_ID_BYTES) {
      throw new EnvelopeError(
        "LIMIT_EXCEEDED",
        "Writing the header failed: a key id is over 2048 bytes",
      );
    }
    if (k.wrapped.length > MAX_WRAPPED_BYTES) {
      throw new EnvelopeError(
        "LIMIT_EXCEEDED",
        "Writing the header failed: a wrapped key is over 8192 bytes",
      );
    }
    entries.push([k.provider, id, k.wrapped]);
    size += 1 + k.provider.length + 2 + id.length + 2 + k.wrapped.length;
  }
  return { entries, size };
}

/** True when `s` is a string of ASCII characters only: its UTF-8 is its char codes. */
function isAscii(s: unknown): s is string {
  if (typeof s !== "string") return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function writeKeyList(w: ByteWriter, plan: KeyListPlan): ByteWriter {
  w.u8(plan.entries.length);
  for (const [provider, id, wrapped] of plan.entries) {
    w.u8(provider.length).ascii(provider).u16(id.length);
    if (typeof id === "string") w.ascii(id);
    else w.bytes(id);
    w.u16(wrapped.length).bytes(wrapped);
  }
  return w;
}

/** Encodes a key list; checks every limit. */
export function encodeKeyList(keys: readonly WrappedKey[]): Uint8Array {
  const plan = planKeyList(keys);
  return writeKeyList(new ByteWriter(plan.size), plan).finish();
}

/** A wrapped key as read: `wrapped` views the input until the header is copied, then the copy. */
interface ReadKey {
  provider: string;
  keyId: string;
  wrapped: Uint8Array;
}

function readKeyList(r: ByteReader): ReadKey[] {
  const count = r.u8();
  if (count === 0) throw invalid("the header holds no wrapped key");
  if (count > MAX_WRAPPED_KEYS) {
    throw limit(`${count} wrapped keys is over the limit of 32`);
  }
  const keys: ReadKey[] = [];
  for (let i = 0; i < count; i++) {
    const plen = r.u8();
    if (plen === 0 || plen > MAX_PROVIDER_BYTES) {
      throw invalid(
        `wrapped key ${i + 1} has a provider name of ${plen} bytes`,
      );
    }
    const provider = utf8DecodeStrict(r.bytes(plen));
    if (provider === null || !PROVIDER_RE.test(provider)) {
      throw invalid(`wrapped key ${i + 1} has an invalid provider name`);
    }
    const idlen = r.u16();
    if (idlen > MAX_KEY_ID_BYTES) {
      throw limit(
        `wrapped key ${i + 1} has a key id of ${idlen} bytes, over the limit of 2048`,
      );
    }
    const keyId = utf8DecodeStrict(r.bytes(idlen));
    if (keyId === null) {
      throw invalid(
        `wrapped key ${i + 1} has a key id that is not valid UTF-8`,
      );
    }
    const wlen = r.u16();
    if (wlen > MAX_WRAPPED_BYTES) {
      throw limit(
        `wrapped key ${i + 1} is ${wlen} bytes, over the limit of 8192`,
      );
    }
    keys.push({ provider, keyId, wrapped: r.bytes(wlen) });
  }
  return keys;
}

/** True when `buf` starts with (a prefix of) the envelope magic. */
export function hasMagic(buf: Uint8Array): boolean {
  const n = Math.min(buf.length, MAGIC.length);
  for (let i = 0; i < n; i++) if (buf[i] !== MAGIC[i]) return false;
  return buf.length >= MAGIC.length;
}

/**
 * Parses a header from the start of `buf`. Returns the total input length it
 * needs at least when `buf` ends before the header does (read that much and
 * call again); throws for anything malformed, checking every length before
 * allocating.
 */
export function tryParseHeader(buf: Uint8Array): Header | number {
  const r = new ByteReader(buf);
  for (let i = 0; i < Math.min(buf.length, MAGIC.length); i++) {
    if (buf[i] !== MAGIC[i]) {
      throw new EnvelopeError(
        "FORMAT_UNKNOWN",
        "Reading the header failed: this is not an envelope message",
        {
          hint: "check the input file; `envelope inspect` tells which formats it recognises",
        },
      );
    }
  }
  try {
    r.skip(MAGIC.length);
    const version = r.u8();
    const suite = r.u8();
    if (version !== VERSION) {
      throw new EnvelopeError(
        "UNSUPPORTED_VERSION",
        `Reading the header failed: format version ${version} is not supported`,
        {
          hint: version > VERSION
            ? "upgrade envelope to read this file"
            : "the file is damaged or was not written by envelope",
        },
      );
    }
    if (suite !== SUITE && suite !== SUITE_SIGNED) {
      throw new EnvelopeError(
        "UNSUPPORTED_VERSION",
        `Reading the header failed: algorithm suite ${suite} is not supported`,
        {
          hint: suite > SUITE_SIGNED
            ? "upgrade envelope to read this file"
            : "the file is damaged or was not written by envelope",
        },
      );
    }
    const chunkSize = r.u32();
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw limit(
        `the chunk size ${chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`,
      );
    }
    const saltAt = r.skip(SALT_BYTES);
    const context = readContext(r);
    r.skip(COMMITMENT_BYTES);
    const coreEnd = r.offset;
    r.skip(HEADER_TAG_BYTES);
    const keyListOffset = r.offset;
    const keys = readKeyList(r);
    // One copy of the whole header, which the byte fields view: the header outlives `buf`, which the caller may reuse.
    const length = r.offset;
    // new Uint8Array(view) copies; buf.slice() would not for a Node Buffer, whose slice() is a view.
    const copy = new Uint8Array(buf.subarray(0, length));
    for (const k of keys) {
      const at = k.wrapped.byteOffset - buf.byteOffset;
      k.wrapped = copy.subarray(at, at + k.wrapped.length);
    }
    return {
      version,
      suite,
      chunkSize,
      salt: copy.subarray(saltAt, saltAt + SALT_BYTES),
      context,
      commitment: copy.subarray(coreEnd - COMMITMENT_BYTES, coreEnd),
      core: copy.subarray(0, coreEnd),
      headerTag: copy.subarray(coreEnd, keyListOffset),
      keys,
      keyListOffset,
      length,
    };
  } catch (e) {
    if (e instanceof NeedMore) return e.need;
    throw e;
  }
}

/** Parses a complete header; input that ends inside it is `TRUNCATED`. */
export function parseHeader(buf: Uint8Array): Header {
  const h = tryParseHeader(buf);
  if (typeof h === "number") {
    throw new EnvelopeError(
      "TRUNCATED",
      "Reading the header failed: the input ends inside the header",
      {
        hint: "the file is incomplete; copy it again from its source",
      },
    );
  }
  return h;
}

/**
 * Encodes a whole header from its core bytes, tag and key list. With `room`,
 * the header is followed by that many zero bytes in the same array, for the
 * payload of a message built in one buffer.
 */
export function encodeHeader(
  core: Uint8Array,
  headerTag: Uint8Array,
  keys: readonly WrappedKey[],
  room = 0,
): Uint8Array {
  if (headerTag.length !== HEADER_TAG_BYTES) {
    throw new RangeError("The header tag must be 32 bytes");
  }
  const plan = planKeyList(keys);
  const w = new ByteWriter(core.length + HEADER_TAG_BYTES + plan.size + room).bytes(core).bytes(headerTag);
  return writeKeyList(w, plan).finish(room);
}
