/**
 * ECDSA P-256 with SHA-256 through WebCrypto, for the signed suite
 * (docs/FORMAT.md §5.1): a key pair per message whose private half never
 * leaves WebCrypto (it is not extractable), and verification of an
 * uncompressed SEC1 public key. Every runtime envelope supports has P-256 in
 * WebCrypto; a browser page without `crypto.subtle` (an insecure context)
 * cannot sign or verify and says so.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** An uncompressed SEC1 P-256 public key: `0x04 || X || Y`. */
export const PUBLIC_KEY_BYTES = 65;
/** A P-256 signature as `r || s` (IEEE P1363), the form WebCrypto uses. */
export const SIGNATURE_BYTES = 64;

const ALG = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

function subtle(action: string): SubtleCrypto {
  const s = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!s) {
    throw new EnvelopeError(
      "SIGNATURE_INVALID",
      `${action} failed: this runtime has no crypto.subtle for ECDSA P-256`,
      { hint: "serve the page over https (or from localhost), or use Deno, Node 20 or later" },
    );
  }
  return s;
}

/** A one-message signing key: `publicKey` goes into the header, `sign` is called once. */
export interface MessageSigner {
  /** The uncompressed public key, 65 bytes. */
  readonly publicKey: Uint8Array;
  /** Signs `data` (ECDSA P-256, SHA-256); returns 64 bytes `r || s`. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * Makes a fresh P-256 key pair for one message. The private key is not
 * extractable and is dropped with the returned object.
 *
 * @example Signing and verifying
 * ```ts
 * import assert from "node:assert/strict";
 * import { newMessageSigner, verifySignature } from "./ecdsa.ts";
 * const signer = await newMessageSigner();
 * const sig = await signer.sign(new Uint8Array([1, 2, 3]));
 * assert.ok(await verifySignature(signer.publicKey, sig, new Uint8Array([1, 2, 3])));
 * assert.ok(!(await verifySignature(signer.publicKey, sig, new Uint8Array([1, 2, 4]))));
 * ```
 */
export async function newMessageSigner(): Promise<MessageSigner> {
  const s = subtle("Signing the message");
  const pair = await s.generateKey(ALG, false, ["sign", "verify"]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await s.exportKey("raw", pair.publicKey));
  return {
    publicKey,
    async sign(data) {
      return new Uint8Array(await s.sign(SIGN, pair.privateKey, data as Uint8Array<ArrayBuffer>));
    },
  };
}

/**
 * Verifies a P1363 signature over `data` under an uncompressed P-256 public
 * key. Returns false for a wrong signature; throws SIGNATURE_INVALID for a
 * key that is not a point on the curve.
 */
export async function verifySignature(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const s = subtle("Verifying the signature");
  if (publicKey.length !== PUBLIC_KEY_BYTES || publicKey[0] !== 0x04) {
    throw badKey("it is not a 65-byte uncompressed P-256 point");
  }
  if (signature.length !== SIGNATURE_BYTES) return false;
  let key: CryptoKey;
  try {
    key = await s.importKey("raw", publicKey as Uint8Array<ArrayBuffer>, ALG, false, ["verify"]);
  } catch {
    throw badKey("it is not a point on P-256");
  }
  return await s.verify(SIGN, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
}

function badKey(why: string): EnvelopeError {
  return new EnvelopeError("SIGNATURE_INVALID", `Reading the verification key failed: ${why}`, {
    hint: "the header's verification key was damaged or forged; restore the file from a trusted copy",
  });
}
