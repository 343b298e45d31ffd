/**
 * Starting a message: the header and the chunk cipher, for encryption
 * (a new data key) and for decryption (an unwrapped, verified data key).
 * Shared by the buffered, streamed and random-access paths.
 *
 * @module
 */
import { constantTimeEqual } from "../crypto/hash.ts";
import { randomBytes, type RandomSource } from "../crypto/random.ts";
import { EnvelopeError } from "../errors.ts";
import { encodeContext, sameContext } from "../format/context.ts";
import { checkChunkSize, encodeCore, encodeHeader, type Header } from "../format/header.ts";
import { DEFAULT_CHUNK_SIZE, SALT_BYTES } from "../format/limits.ts";
import type { EncryptionContext, KeyProvider } from "../keys/provider.ts";
import { ChunkCipher } from "./chunks.ts";
import type { DataKeyCache } from "./cache.ts";
import { computeHeaderTag, deriveKeys, newDataKey, providerList, unwrapDataKey, wipe } from "./keys.ts";

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
  /** Source of the salt; injectable for test vectors (default: the platform CSPRNG). */
  readonly random?: RandomSource;
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
}

/** A started message for writing. */
export interface SealingMessage {
  readonly header: Uint8Array;
  readonly chunkSize: number;
  readonly cipher: ChunkCipher;
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
  const providers = providerList(options.keys, "Encrypting");
  const context = options.context ?? {};
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkChunkSize(chunkSize);
  encodeContext(context); // validate before any KMS call
  const fresh = options.cache && plaintextLength !== undefined
    ? await options.cache.encryptionKey(providers, context, plaintextLength)
    : await newDataKey(providers, context);
  const salt = (options.random ?? randomBytes)(SALT_BYTES);
  if (salt.length !== SALT_BYTES) {
    throw new RangeError("The random source must return the requested length");
  }
  const keys = await deriveKeys(fresh.dataKey, salt);
  try {
    const core = encodeCore({
      chunkSize,
      salt,
      context,
      commitment: keys.commitment,
    });
    const header = encodeHeader(
      core,
      computeHeaderTag(keys.headerKey, core),
      fresh.wrapped,
    );
    const cipher = await ChunkCipher.create(keys.payloadKey);
    return { header, chunkSize, cipher };
  } finally {
    wipe(fresh.dataKey, keys);
  }
}

/** A started message for reading: its header authenticated, its chunk cipher ready. */
export interface OpeningMessage {
  readonly header: Header;
  readonly cipher: ChunkCipher;
}

/** Checks the context, unwraps the data key, verifies the commitment and the header tag. */
export async function beginOpening(
  header: Header,
  options: DecryptOptions,
): Promise<OpeningMessage> {
  const providers = providerList(options.keys, "Decrypting");
  if (
    options.context !== undefined &&
    !sameContext(options.context, header.context)
  ) {
    throw new EnvelopeError(
      "CONTEXT_MISMATCH",
      "Decrypting failed: the file's encryption context differs from the one required",
      {
        hint: `the file's context is ${JSON.stringify(header.context)}; pass exactly that context, or none`,
      },
    );
  }
  const { dataKey, keys } = options.cache
    ? await options.cache.decryptionKey(header, providers)
    : await unwrapDataKey(header, providers);
  try {
    if (
      !constantTimeEqual(
        computeHeaderTag(keys.headerKey, header.core),
        header.headerTag,
      )
    ) {
      throw new EnvelopeError(
        "HEADER_AUTH_FAILED",
        "Decrypting failed: the header was modified",
        {
          hint: "restore the file from a trusted copy",
        },
      );
    }
    const cipher = await ChunkCipher.create(keys.payloadKey);
    options.onHeader?.(header);
    return { header, cipher };
  } finally {
    wipe(dataKey, keys);
  }
}
