/**
 * Starting a message: the header and the chunk cipher, for encryption
 * (a new data key) and for decryption (an unwrapped, verified data key).
 * Shared by the buffered, streamed and random-access paths.
 *
 * @module
 */
import { fixedRandom } from "../crypto/fixed_random_internal.ts";
import { ready } from "../crypto/hash.ts";
import { coreLoaded } from "../crypto/wasm.ts";
import { fillRandom } from "../crypto/random.ts";
import { decodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { payloadLayout } from "../format/chunk.ts";
import { type ContextPlan, planContext, sameContext } from "../format/context.ts";
import { checkChunkSize, type Header, type HeaderLayout, layoutHeader } from "../format/header.ts";
import { DEFAULT_CHUNK_SIZE, HEADER_TAG_BYTES, SALT_BYTES, SUITE, SUITE_SIGNED, TAG_BYTES } from "../format/limits.ts";
import type { EncryptionContext, KeyProvider, WrappedKey } from "../keys/provider.ts";
import { ChunkCipher } from "./chunks.ts";
import type { DataKeyCache } from "./cache.ts";
import {
  computeHeaderTagInto,
  type DerivedKeys,
  derivedKeyViews,
  deriveKeysInto,
  headerTagMatches,
  newDataKey,
  openDataKey,
  openDataKeyThen,
  providerList,
  type UnwrapLimits,
  wipe,
} from "./data_key.ts";
import {
  beginSigning,
  callerContext,
  checkCallerContext,
  checkSignature,
  type MessageSigning,
  Transcript,
  verificationKeyOf,
} from "./signature.ts";

/** Options for encrypting. */
export interface EncryptOptions {
  /** One or more key providers; the data key is wrapped for each. */
  readonly keys: KeyProvider | readonly KeyProvider[];
  /** The encryption context, authenticated and given to every KMS (default: empty). */
  readonly context?: EncryptionContext;
  /** Plaintext bytes per chunk, 64 B to 16 MiB (default 64 KiB). */
  readonly chunkSize?: number;
  /** Chunks sealed concurrently by the streaming encoder (default 4). */
  readonly concurrency?: number;
  /** A data-key cache shared across messages (off by default). */
  readonly cache?: DataKeyCache;
  /**
   * Sign the message (suite 2, docs/FORMAT.md §5.1) with a fresh per-message
   * ECDSA P-256 key, so that readers who hold only the data key cannot forge
   * messages that others accept (default false).
   */
  readonly sign?: boolean;
}

/** Options for decrypting. */
export interface DecryptOptions {
  /** Providers to unwrap the data key with; each is tried against each wrapped key. */
  readonly keys: KeyProvider | readonly KeyProvider[];
  /** When given, the stored context must equal this exactly (CONTEXT_MISMATCH otherwise). */
  readonly context?: EncryptionContext;
  /** Chunks opened concurrently by the streaming decoder (default 4). */
  readonly concurrency?: number;
  /** A data-key cache: unwrapped keys are cached by wrapped key (off by default). */
  readonly cache?: DataKeyCache;
  /** Called with the header once it has been authenticated, before any plaintext. */
  readonly onHeader?: (header: Header) => void;
  /**
   * Called, with the header, with the wrapped key that opened the message (its
   * provider and key id as the header names them), once the header has been
   * authenticated: for reports such as the CLI's `-v` and `--json`.
   */
  readonly onKeyOpened?: (key: { readonly provider: string; readonly keyId: string }) => void;
  /** Refuse a message that is not signed (suite 2) with SIGNATURE_REQUIRED, before any key provider is called. */
  readonly requireSigned?: boolean;
  /**
   * How many wrapped keys may reach a provider before decryption gives up
   * with KEY_LIMIT (default 8). The key list is attacker-controlled, so this
   * bounds the KMS calls a crafted file can cause (docs/FORMAT.md §8 step 6).
   */
  readonly maxAttempts?: number;
  /**
   * Require a signed message (suite 2) whose verification key is exactly this
   * one: its 65 bytes, or their base64 as `unwrapDataKey` returns
   * it. A reader that holds only the data key gets it from whoever unwrapped
   * the key (docs/FORMAT.md §10). An unsigned message fails with
   * SIGNATURE_REQUIRED and another key with SIGNATURE_INVALID, before any key
   * provider is called.
   */
  readonly verificationKey?: Uint8Array | string;
}

/** A started message for writing. */
export interface SealingMessage {
  readonly header: Uint8Array;
  readonly chunkSize: number;
  readonly cipher: ChunkCipher;
  /** For a signed message: the transcript to feed each sealed chunk, in order, and the signature to append. */
  readonly signing?: { readonly transcript: Transcript; finish(): Promise<Uint8Array> };
}

/** A new message's data key, wrapped, and what its header takes; the caller wipes `dataKey`. */
interface Started {
  readonly chunkSize: number;
  readonly suite: number;
  readonly context: ContextPlan;
  readonly fixedSalt: Uint8Array | undefined;
  readonly dataKey: Uint8Array;
  readonly wrapped: readonly WrappedKey[];
  readonly signing?: MessageSigning;
}

/**
 * Checks the options and gets the data key of a new message, wrapped for
 * every provider: the asynchronous part of starting one. The core is loaded
 * when it returns, so {@linkcode writeHeader} can run without a promise.
 */
async function startSealing(options: EncryptOptions, plaintextLength: number | undefined): Promise<Started> {
  const providers = providerList(options.keys, "Encrypting");
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkChunkSize(chunkSize);
  const callerContext = options.context ?? {};
  checkCallerContext(callerContext);
  // A signed message's context carries its verification key, so every wrap binds it.
  const signing = options.sign ? await beginSigning(callerContext) : undefined;
  const context = signing?.context ?? callerContext;
  const plan = planContext(context); // validates it before any KMS call
  // No public option chooses the salt (docs/FORMAT.md §7 step 3): tests and vectors fix it through the
  // unexported FIXED_RANDOM key, and a leftover `random` option is refused rather than ignored.
  const fixedSalt = fixedRandom(options, "random");
  if (fixedSalt !== undefined && fixedSalt.length !== SALT_BYTES) {
    throw new RangeError("A fixed salt must be 32 bytes");
  }
  const fresh = options.cache && plaintextLength !== undefined
    ? await options.cache.encryptionKey(providers, context, plaintextLength)
    : await newDataKey(providers, context);
  if (!coreLoaded()) {
    try {
      await ready();
    } catch (e) {
      fresh.dataKey.fill(0);
      throw e;
    }
  }
  return {
    chunkSize,
    suite: signing ? SUITE_SIGNED : SUITE,
    context: plan,
    fixedSalt,
    dataKey: fresh.dataKey,
    wrapped: fresh.wrapped,
    signing,
  };
}

/**
 * The keys of the message being sealed: derived by {@linkcode writeHeader}
 * and used and wiped by its caller within the same synchronous call, so one
 * array serves every message (no allocation per message). Between messages
 * both keys are zero; the commitment left there is public (it is in the header).
 */
const SEALING_KEY_BYTES = new Uint8Array(96);
const SEALING_KEYS = derivedKeyViews(SEALING_KEY_BYTES);

/**
 * Writes the whole header of a started message into one array with
 * `payloadRoom` zero bytes after it: the salt drawn in place, the keys
 * derived into {@linkcode SEALING_KEYS}, the commitment and the header tag
 * written where they go. The caller uses the keys before it returns or
 * awaits anything, and wipes them.
 */
function writeHeader(s: Started, payloadRoom: number): HeaderLayout {
  const layout = layoutHeader({ chunkSize: s.chunkSize, suite: s.suite, context: s.context }, s.wrapped, payloadRoom);
  if (s.fixedSalt !== undefined) layout.salt.set(s.fixedSalt);
  else fillRandom(layout.salt);
  deriveKeysInto(s.dataKey, layout.salt, SEALING_KEY_BYTES);
  layout.commitment.set(SEALING_KEYS.commitment);
  computeHeaderTagInto(SEALING_KEYS.headerKey, layout.core, layout.message, layout.core.length);
  return layout;
}

/**
 * Creates the header for a new message and the cipher for its chunks.
 * `plaintextLength` counts against a cache's byte bound; when it is unknown
 * (a stream), the message bypasses the cache and gets a fresh data key, since
 * it could otherwise take a cached key past `maxBytes` unnoticed (the AWS
 * Encryption SDK does the same).
 */
export async function beginSealing(
  options: EncryptOptions,
  plaintextLength?: number,
): Promise<SealingMessage> {
  const started = await startSealing(options, plaintextLength);
  try {
    const layout = writeHeader(started, 0);
    const header = layout.message;
    const cipher = ChunkCipher.create(SEALING_KEYS.payloadKey);
    const { chunkSize, signing } = started;
    if (!signing) return { header, chunkSize, cipher };
    const core = layout.core.slice();
    const headerTag = header.slice(core.length, core.length + HEADER_TAG_BYTES);
    const transcript = signing.start(core, headerTag);
    return { header, chunkSize, cipher, signing: { transcript, finish: () => signing.finish(transcript) } };
  } finally {
    wipe(started.dataKey, SEALING_KEYS);
  }
}

/**
 * Encrypts a whole unsigned message whose plaintext is one chunk that the
 * core seals (`sealsInCore`, envelope/chunks.ts): the header and the sealed
 * chunk in one array, the chunk sealed straight after the header with the
 * payload key, without a chunk cipher, a promise or a copy.
 */
export async function sealWhole(options: EncryptOptions, plaintext: Uint8Array): Promise<Uint8Array> {
  if (options.sign) throw new RangeError("sealWhole() seals unsigned messages only");
  const started = await startSealing(options, plaintext.length);
  try {
    const layout = writeHeader(started, plaintext.length + TAG_BYTES);
    ChunkCipher.sealOnly(SEALING_KEYS.payloadKey, plaintext, layout.message, layout.length);
    return layout.message;
  } finally {
    wipe(started.dataKey, SEALING_KEYS);
  }
}

/** A started message for reading: its header authenticated, its chunk cipher ready. */
export interface OpeningMessage {
  readonly header: Header;
  readonly cipher: ChunkCipher;
  /** For a signed message: the transcript to feed each chunk, in order, and the check of the signature after it. */
  readonly verifying?: { readonly transcript: Transcript; finish(signature: Uint8Array): Promise<void> };
}

/**
 * What a decoder checks before any key provider is called (docs/FORMAT.md §8
 * step 5): the verification key of a signed message (and that it is the one
 * required), that the message is signed when that is required, and the
 * required context. Returns the verification key, or null for suite 1.
 */
export function checkBeforeUnwrap(
  header: Header,
  options: Pick<DecryptOptions, "context" | "requireSigned" | "verificationKey">,
  action: string,
): Uint8Array | null {
  const publicKey = verificationKeyOf(header);
  const required = options.verificationKey === undefined ? undefined : verificationKeyBytes(options.verificationKey);
  if ((options.requireSigned || required) && !publicKey) {
    throw new EnvelopeError("SIGNATURE_REQUIRED", `${action} failed: the message is not signed`, {
      hint: "ask the sender to encrypt with signing on (--sign), or decrypt without requiring a signature",
    });
  }
  if (required && publicKey && !sameBytes(required, publicKey)) {
    throw new EnvelopeError(
      "SIGNATURE_INVALID",
      `${action} failed: the message is signed by another key than the one required`,
      { hint: "the file is not the one its data key was released for; get the file again from its sender" },
    );
  }
  const stored = options.context === undefined ? undefined : callerContext(header.context);
  if (options.context !== undefined && !sameContext(options.context, stored!)) {
    throw new EnvelopeError(
      "CONTEXT_MISMATCH",
      `${action} failed: the file's encryption context differs from the one required`,
      {
        hint: `the file's context is ${JSON.stringify(stored)}; pass exactly that context, or none`,
      },
    );
  }
  return publicKey;
}

function verificationKeyBytes(key: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array | null = key instanceof Uint8Array ? key : null;
  if (typeof key === "string") {
    try {
      bytes = decodeBase64(key.trim());
    } catch { /* reported below */ }
  }
  if (!bytes || bytes.length !== 65 || bytes[0] !== 0x04) {
    throw new EnvelopeError(
      "INVALID_KEY",
      "Reading the required verification key failed: it is not 65 bytes of P-256",
      {
        hint: "pass the verificationKey exactly as unwrapDataKey or the key server returned it (88 base64 characters)",
      },
    );
  }
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks the context, unwraps the data key, verifies the commitment and the
 * header tag, and tells the caller's callbacks. The caller wipes `dataKey`
 * and `keys`.
 */
async function unlock(
  header: Header,
  options: DecryptOptions,
): Promise<{ dataKey: Uint8Array; keys: DerivedKeys; publicKey: Uint8Array | null }> {
  const providers = providerList(options.keys, "Decrypting");
  const publicKey = checkBeforeUnwrap(header, options, "Decrypting");
  const limits: UnwrapLimits = { maxAttempts: options.maxAttempts };
  const { dataKey, keys, used } = options.cache
    ? await options.cache.decryptionKey(header, providers, limits)
    : await openDataKey(header, providers, limits);
  try {
    accept(header, options, keys, used);
  } catch (e) {
    wipe(dataKey, keys);
    throw e;
  }
  return { dataKey, keys, publicKey };
}

/** Checks the header tag under the header key, then tells the caller's callbacks which key opened the message. */
function accept(header: Header, options: DecryptOptions, keys: DerivedKeys, used: WrappedKey): void {
  if (!headerTagMatches(keys.headerKey, header)) {
    throw new EnvelopeError(
      "HEADER_AUTH_FAILED",
      "Decrypting failed: the header was modified",
      {
        hint: "restore the file from a trusted copy",
      },
    );
  }
  options.onHeader?.(header);
  options.onKeyOpened?.({ provider: used.provider, keyId: used.keyId });
}

/** Checks the context, unwraps the data key, verifies the commitment and the header tag. */
export async function beginOpening(
  header: Header,
  options: DecryptOptions,
): Promise<OpeningMessage> {
  const { dataKey, keys, publicKey } = await unlock(header, options);
  try {
    const cipher = ChunkCipher.create(keys.payloadKey);
    if (!publicKey) return { header, cipher };
    const transcript = new Transcript(header.core, header.headerTag);
    return {
      header,
      cipher,
      verifying: { transcript, finish: (signature) => checkSignature(publicKey, transcript, signature) },
    };
  } finally {
    wipe(dataKey, keys);
  }
}

/**
 * Decrypts the payload of an unsigned message that is one chunk the core
 * opens (`opensInCore`, envelope/chunks.ts): {@linkcode beginOpening}'s
 * checks, then the chunk opened with the payload key, without a chunk
 * cipher or a promise. The same errors as the chunk cipher's. Without a
 * cache, the keys are derived, used and wiped in one synchronous call
 * (`openDataKeyThen`), so they need no array of their own.
 */
export async function openWhole(header: Header, options: DecryptOptions, payload: Uint8Array): Promise<Uint8Array> {
  if (header.suite !== SUITE) throw new RangeError("openWhole() opens unsigned messages only");
  const open = (keys: DerivedKeys): Uint8Array => {
    payloadLayout(payload.length, header.chunkSize); // TRUNCATED when not even a tag is there
    return ChunkCipher.openOnly(keys.payloadKey, payload);
  };
  if (options.cache) {
    const { dataKey, keys } = await unlock(header, options);
    try {
      return open(keys);
    } finally {
      wipe(dataKey, keys);
    }
  }
  const providers = providerList(options.keys, "Decrypting");
  checkBeforeUnwrap(header, options, "Decrypting");
  return await openDataKeyThen(header, providers, { maxAttempts: options.maxAttempts }, ({ keys, used }) => {
    accept(header, options, keys, used);
    return open(keys);
  });
}
