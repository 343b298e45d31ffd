/**
 * The Fernet token as text and bytes: its layout (version, timestamp, IV,
 * ciphertext, HMAC), strict base64url with padding in both directions, the
 * `TOKEN_INVALID` and `TOKEN_EXPIRED` errors, and the TTL and clock-skew
 * checks on a token whose HMAC already verified; and the key's text form
 * (base64url or base64), the other text Fernet reads.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { decodeBase64, decodeBase64Url, encodeBase64Url } from "../encoding/base64.ts";

/**
 * Python's `_MAX_CLOCK_SKEW`: how far in the future a token may be stamped, in seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_CLOCK_SKEW } from "./fernet.ts";
 * assert.ok(MAX_CLOCK_SKEW === 60);
 * ```
 */
export const MAX_CLOCK_SKEW = 60;
/** The bytes before the ciphertext: version (1) + timestamp (8) + IV (16). */
export const HEADER = 25;
/** The HMAC-SHA256 length at the end of a token. */
export const MAC = 32;
/** The shortest token: a header, one cipher block and the HMAC. */
export const MIN_TOKEN = HEADER + 16 + MAC;

/** `TOKEN_INVALID`: the token is malformed, forged or badly padded (`why` says how). */
export function invalid(why: string): EnvelopeError {
  return new EnvelopeError("TOKEN_INVALID", `Decrypting the Fernet token failed: ${why}`, {
    hint: "check that the token is complete and unchanged and that the key is the one it was made with",
  });
}

/** `TOKEN_EXPIRED`: the token is too old or stamped in the future. */
function expired(why: string): EnvelopeError {
  return new EnvelopeError("TOKEN_EXPIRED", `Decrypting the Fernet token failed: ${why}`, {
    hint: "ask for a fresh token, or check this machine's clock and the TTL",
  });
}

/** `now` (default: the clock) in whole seconds since the epoch; `what` names the action in errors. */
export function nowSeconds(now: Date | number | undefined, what: string): number {
  const ms = now === undefined ? Date.now() : now instanceof Date ? now.getTime() : now;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new EnvelopeError("INVALID_ARGUMENT", `${what} failed: the time is not a valid Date or millisecond count`);
  }
  return Math.floor(ms / 1000);
}

type NativeBase64 = {
  toBase64?: (this: Uint8Array, o: { alphabet: string }) => string;
};
type NativeFromBase64 = {
  fromBase64?: (s: string, o: { alphabet: string; lastChunkHandling: string }) => Uint8Array;
};
const nativeTo = (Uint8Array.prototype as NativeBase64).toBase64;
const nativeFrom = (Uint8Array as unknown as NativeFromBase64).fromBase64;

/** base64url with padding; the platform's encoder where it has one (same output, faster). */
export function toBase64Url(bytes: Uint8Array): string {
  return nativeTo !== undefined ? nativeTo.call(bytes, { alphabet: "base64url" }) : encodeBase64Url(bytes, true);
}

/**
 * Strict base64url with required padding. The platform decoder (where there
 * is one) is used in its strict mode; it skips ASCII whitespace, which the
 * length check refuses, so both paths accept exactly the same texts.
 * Throws `TOKEN_INVALID` for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTokenText } from "./fernet.ts";
 * assert.ok(decodeTokenText("AQID-g==").length === 4);
 * try {
 *   decodeTokenText("AQID -g==");
 *   throw new Error("unreachable");
 * } catch (err) {
 *   assert.ok((err as { code?: string }).code === "TOKEN_INVALID");
 * }
 * ```
 */
export function decodeTokenText(text: string): Uint8Array {
  return decodeTokenRun(text, true);
}

/**
 * One run of a token's text, decoded as strictly as
 * {@linkcode decodeTokenText}: whole 4-character groups of the base64url
 * alphabet; `=` padding only when `final` (the run that ends the token).
 * A streaming reader decodes the token run by run with this.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTokenRun } from "./fernet_token.ts";
 * assert.ok(decodeTokenRun("AQID", false).length === 3);
 * assert.throws(() => decodeTokenRun("AQ==", false));
 * assert.ok(decodeTokenRun("AQ==", true).length === 1);
 * ```
 */
export function decodeTokenRun(text: string, final: boolean): Uint8Array {
  let out: Uint8Array;
  try {
    out = nativeFrom !== undefined
      ? nativeFrom(text, { alphabet: "base64url", lastChunkHandling: "strict" })
      : decodeBase64Url(text, "required");
  } catch {
    throw invalid("the token is not valid base64url");
  }
  // The platform decoder skips ASCII whitespace and a middle run must hold no padding: the length tells both.
  const expected = final ? Math.ceil(out.length / 3) * 4 : out.length / 3 * 4;
  if (expected !== text.length) throw invalid("the token is not valid base64url");
  return out;
}

/** A token given as text or ASCII bytes, as text. */
export function tokenText(token: string | Uint8Array): string {
  if (typeof token === "string") return token;
  if (token instanceof Uint8Array) {
    for (let i = 0; i < token.length; i++) if (token[i] > 0x7e) throw invalid("the token is not ASCII");
    return new TextDecoder().decode(token);
  }
  throw new TypeError("The Fernet token must be a string or a Uint8Array");
}

/** What {@linkcode checkTime} reads of `FernetDecryptOptions` (a structural type: no import of fernet.ts). */
export interface TimeOptions {
  /** Maximum age in seconds; without it the timestamp is not checked. */
  readonly ttl?: number;
  /** The current time: a `Date` or milliseconds since the epoch (default: now). */
  readonly now?: Date | number;
}

/** The TTL and clock-skew checks, on a token whose HMAC already verified. */
export function checkTime(raw: Uint8Array, options: TimeOptions): void {
  const ttl = options.ttl;
  if (ttl === undefined) return;
  if (typeof ttl !== "number" || Number.isNaN(ttl)) {
    throw new EnvelopeError(
      "INVALID_ARGUMENT",
      "Decrypting the Fernet token failed: the TTL is not a number of seconds",
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ts = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  const now = nowSeconds(options.now, "Decrypting the Fernet token");
  if (ts + ttl < now) throw expired(`it is older than the TTL of ${ttl} seconds`);
  if (now + MAX_CLOCK_SKEW < ts) throw expired("its timestamp is more than 60 seconds in the future");
}

/** A Fernet key as bytes (a copy), from bytes or base64url/base64 text; `INVALID_KEY` otherwise. */
export function parseKey(key: Uint8Array | string): Uint8Array {
  if (key instanceof Uint8Array) return new Uint8Array(key); // a copy even of a Node Buffer (its slice() is a view)
  if (typeof key !== "string") throw new TypeError("The Fernet key must be a Uint8Array or a string");
  let raw: Uint8Array | undefined;
  for (const decode of [() => decodeBase64Url(key, "optional"), () => decodeBase64(key, "optional")]) {
    try {
      raw = decode();
      break;
    } catch {
      // try the other alphabet
    }
  }
  if (raw === undefined) {
    throw new EnvelopeError("INVALID_KEY", "Loading the Fernet key failed: it is not base64url or base64", {
      hint: "pass the 32-byte key as the text Fernet.generateKey() or Python's Fernet.generate_key() made",
    });
  }
  return raw;
}
