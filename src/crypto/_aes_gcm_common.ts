/**
 * What the one-shot and incremental AES-GCM APIs share: the errors, the IV
 * check, the mapping of the core's return codes, and where the IV, AAD, data
 * window and tag live in the core's scratch memory. Private to aes_gcm.ts
 * and aes_gcm_stream.ts (denoland/std's `_common.ts` convention).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { type Core, requireBytes, WINDOW } from "./wasm.ts";

/** The default (empty) associated data. */
export const EMPTY = new Uint8Array(0);
/** The GCM tag length in bytes. */
export const TAG = 16;

/** `PAYLOAD_AUTH_FAILED`: the tag did not verify. */
export function authFailed(): EnvelopeError {
  return new EnvelopeError(
    "PAYLOAD_AUTH_FAILED",
    "Decrypting with AES-GCM failed: the data was modified, or the key, IV or associated data is wrong",
    {
      hint: "check that the right key is used and that the data is complete and unchanged",
    },
  );
}

/** `LIMIT_EXCEEDED`: the message is over GCM's length limit. */
export function tooLong(): EnvelopeError {
  return new EnvelopeError(
    "LIMIT_EXCEEDED",
    "AES-GCM failed: the message is longer than GCM allows (2^36 - 32 bytes)",
    {
      hint: "split the data into several messages",
    },
  );
}

/** Throws `INVALID_ARGUMENT` unless `iv` is a non-empty byte array. */
export function checkIv(iv: unknown): asserts iv is Uint8Array {
  requireBytes(iv, "The IV");
  if (iv.length === 0) {
    throw new EnvelopeError("INVALID_ARGUMENT", "Using AES-GCM failed: the IV is empty", {
      hint: "pass an IV of at least one byte (12 is standard)",
    });
  }
}

/** Maps a negative return code of the core to a thrown error. */
export function check(code: number): void {
  if (code === -2) throw tooLong();
  if (code < 0) {
    throw new EnvelopeError("INVALID_ARGUMENT", `AES-GCM failed: the crypto core refused the arguments (code ${code})`);
  }
}

/** Where the IV and AAD of one call live in the core's memory. */
export interface Params {
  iv: number;
  aad: number;
  /** Separately allocated (not in the scratch area): free them after use. */
  owned: boolean;
}

/** Puts `iv` and `aad` in the scratch head when they fit, else in fresh allocations. */
export function placeParams(core: Core, head: number, headSize: number, iv: Uint8Array, aad: Uint8Array): Params {
  if (iv.length + aad.length <= headSize) {
    const m = core.mem();
    m.set(iv, head);
    m.set(aad, head + iv.length);
    return { iv: head, aad: head + iv.length, owned: false };
  }
  const ivp = core.copyIn(iv);
  try {
    return { iv: ivp, aad: core.copyIn(aad), owned: true };
  } catch (err) {
    core.free(ivp, iv.length);
    throw err;
  }
}

/** Frees what {@linkcode placeParams} allocated, if anything. */
export function releaseParams(core: Core, p: Params, iv: Uint8Array, aad: Uint8Array): void {
  if (p.owned) {
    core.free(p.iv, iv.length);
    core.free(p.aad, aad.length);
  }
}

/** The scratch layout of a core. */
export interface Layout {
  readonly data: number;
  readonly tag: number;
  readonly head: number;
  readonly headSize: number;
}

let layoutCache: { core: Core; layout: Layout } | undefined;

/**
 * The scratch layout: data window (+ room for a tag) first, then small
 * arguments. The scratch area never moves once made, so the layout is
 * computed once per core rather than per call.
 */
export function layout(core: Core): Layout {
  if (layoutCache?.core === core) return layoutCache.layout;
  const s = core.scratch();
  const tag = s + WINDOW;
  const head = tag + TAG;
  const l = { data: s, tag, head, headSize: core.scratchSize - WINDOW - TAG };
  layoutCache = { core, layout: l };
  return l;
}
