/**
 * The signed suite's transcript and signature (docs/FORMAT.md §5.1): a hash
 * chain over the header core, the header tag and every chunk tag in order,
 * signed once after the final chunk by a per-message ECDSA P-256 key whose
 * public half sits in the context.
 *
 * @module
 */
import { newMessageSigner, PUBLIC_KEY_BYTES, verifySignature } from "../crypto/ecdsa.ts";
import { sha256 } from "../crypto/hash.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { concat } from "../format/bytes.ts";
import type { Header } from "../format/header.ts";
import {
  LABEL,
  RESERVED_CONTEXT_PREFIX,
  SIGNATURE_BYTES,
  SUITE_SIGNED,
  TAG_BYTES,
  VERIFICATION_KEY,
} from "../format/limits.ts";
import type { EncryptionContext } from "../keys/provider.ts";

const enc = new TextEncoder();

/** `transcript(i)`: starts over the header, then takes each chunk's tag in order. */
export class Transcript {
  #state: Uint8Array;
  readonly #buf = new Uint8Array(32 + TAG_BYTES);

  /** `transcript(0)` over the header core and tag. */
  constructor(core: Uint8Array, headerTag: Uint8Array) {
    this.#state = sha256(concat([enc.encode(LABEL.signature), core, headerTag]));
  }

  /** Takes the tag of the next chunk: the last 16 bytes of its sealed form. */
  addChunk(sealed: Uint8Array): void {
    this.#buf.set(this.#state, 0);
    this.#buf.set(sealed.subarray(sealed.length - TAG_BYTES), 32);
    this.#state = sha256(this.#buf);
  }

  /** The current value, `transcript(n)` after n chunks. */
  digest(): Uint8Array {
    return this.#state.slice();
  }
}

/** Signs a message being written: one transcript, one signature at the end. */
export interface MessageSigning {
  /** The context with the verification key added. */
  readonly context: EncryptionContext;
  /** Starts the transcript once the header is known. */
  start(core: Uint8Array, headerTag: Uint8Array): Transcript;
  /** The 64-byte signature over the final transcript. */
  finish(transcript: Transcript): Promise<Uint8Array>;
}

/** Refuses a caller's context holding a key the format reserves (docs/FORMAT.md §3.2). */
export function checkCallerContext(context: EncryptionContext): void {
  for (const k of Object.keys(context)) {
    if (k.startsWith(RESERVED_CONTEXT_PREFIX)) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `Encrypting failed: the context key ${JSON.stringify(k)} is reserved for the format`,
        { hint: `rename it: context keys starting with "${RESERVED_CONTEXT_PREFIX}" are envelope's own` },
      );
    }
  }
}

/** A fresh key pair for one message, and the context that carries its public key. */
export async function beginSigning(context: EncryptionContext): Promise<MessageSigning> {
  const signer = await newMessageSigner();
  return {
    context: { ...context, [VERIFICATION_KEY]: encodeBase64(signer.publicKey) },
    start: (core, tag) => new Transcript(core, tag),
    finish: (t) => signer.sign(t.digest()),
  };
}

/**
 * The verification key of a suite-2 header, or null for suite 1. Throws
 * SIGNATURE_INVALID for a suite-2 header without a well-formed key, and for
 * a suite-1 header that carries one (a signed message whose suite byte was
 * changed to drop the signature).
 */
export function verificationKeyOf(header: Header): Uint8Array | null {
  const text = Object.hasOwn(header.context, VERIFICATION_KEY) ? header.context[VERIFICATION_KEY] : undefined;
  if (header.suite !== SUITE_SIGNED) {
    if (text !== undefined) {
      throw new EnvelopeError(
        "SIGNATURE_INVALID",
        "Decrypting failed: the message carries a verification key but is not marked as signed",
        { hint: "the file was altered to strip its signature; restore it from a trusted copy" },
      );
    }
    return null;
  }
  let key: Uint8Array | null = null;
  if (text !== undefined && text.length === 88) {
    try {
      key = decodeBase64(text);
    } catch { /* reported below */ }
  }
  if (!key || key.length !== PUBLIC_KEY_BYTES || key[0] !== 0x04) {
    throw new EnvelopeError(
      "SIGNATURE_INVALID",
      "Decrypting failed: the signed message has no valid verification key in its context",
      { hint: "the file is damaged or was altered; restore it from a trusted copy" },
    );
  }
  return key;
}

/** Verifies the signature over the final transcript; throws SIGNATURE_INVALID when it fails. */
export async function checkSignature(
  publicKey: Uint8Array,
  transcript: Transcript,
  signature: Uint8Array,
): Promise<void> {
  if (signature.length !== SIGNATURE_BYTES || !(await verifySignature(publicKey, signature, transcript.digest()))) {
    throw new EnvelopeError(
      "SIGNATURE_INVALID",
      "Verifying the message's signature failed: it was not signed by the key in its header",
      {
        hint:
          "the file was altered or forged by someone holding its data key; do not use any output of it, and restore it from a trusted copy",
      },
    );
  }
}

/** The context without the format's reserved keys, as callers compare it. */
export function callerContext(context: EncryptionContext): EncryptionContext {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(context)) if (!k.startsWith(RESERVED_CONTEXT_PREFIX)) out[k] = v;
  return out;
}
