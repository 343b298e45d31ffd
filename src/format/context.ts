/**
 * The encryption context's canonical encoding (docs/FORMAT.md §3.2).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import type { EncryptionContext } from "./types.ts";
import { type ByteReader, utf8DecodeStrict, utf8Encode } from "./bytes.ts";
import { MAX_CONTEXT_BYTES, MAX_CONTEXT_KEY_BYTES, MAX_CONTEXT_PAIRS, MAX_CONTEXT_VALUE_BYTES } from "./limits.ts";

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function limit(message: string): EnvelopeError {
  return new EnvelopeError("LIMIT_EXCEEDED", message, {
    hint: "keep the context to at most 64 pairs, keys of 1-256 bytes, values up to 4096 bytes, 16 KiB in all",
  });
}

/** A limit broken by a stored context: the file is damaged, the caller can change nothing. */
function readLimit(message: string): EnvelopeError {
  return new EnvelopeError("LIMIT_EXCEEDED", message, {
    hint: "the file is damaged or was not written by envelope",
  });
}

/** Validates `context` and returns its pairs as UTF-8, sorted by key bytes. */
export function canonicalPairs(
  context: EncryptionContext,
): [Uint8Array, Uint8Array][] {
  if (
    context === null || typeof context !== "object" || Array.isArray(context)
  ) {
    throw new TypeError("The encryption context must be an object of strings");
  }
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== "string") {
      throw new TypeError(
        `The encryption context value for "${k}" must be a string`,
      );
    }
    const kb = utf8Encode(k, "the encryption context");
    const vb = utf8Encode(v, "the encryption context");
    if (kb.length === 0) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        "Encoding the encryption context failed: a key is empty",
        {
          hint: "give every context pair a non-empty name",
        },
      );
    }
    if (kb.length > MAX_CONTEXT_KEY_BYTES) {
      throw limit(
        `Encoding the encryption context failed: key "${k.slice(0, 40)}" is over 256 bytes`,
      );
    }
    if (vb.length > MAX_CONTEXT_VALUE_BYTES) {
      throw limit(
        `Encoding the encryption context failed: the value of "${k.slice(0, 40)}" is over 4096 bytes`,
      );
    }
    pairs.push([kb, vb]);
  }
  if (pairs.length > MAX_CONTEXT_PAIRS) {
    throw limit(
      `Encoding the encryption context failed: ${pairs.length} pairs is over the limit of 64`,
    );
  }
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  return pairs;
}

/** A context validated and sorted for its canonical encoding ({@linkcode planContext}), not yet written. */
export interface ContextPlan {
  /** The pairs as UTF-8, sorted by key bytes. */
  readonly pairs: readonly (readonly [Uint8Array, Uint8Array])[];
  /** The encoding's size in bytes. */
  readonly size: number;
}

/** The plan of the empty context (the default): nothing to sort, two bytes. */
const EMPTY_PLAN: ContextPlan = Object.freeze({ pairs: Object.freeze([]), size: 2 });

/**
 * Validates `context` and measures its canonical encoding without writing
 * it: an encoder checks the context before any KMS call, then writes it
 * straight where it goes with {@linkcode writeContext}.
 */
export function planContext(context: EncryptionContext): ContextPlan {
  const pairs = canonicalPairs(context);
  if (pairs.length === 0) return EMPTY_PLAN;
  let size = 2;
  for (const [k, v] of pairs) size += 4 + k.length + v.length;
  if (size > MAX_CONTEXT_BYTES) {
    throw limit(
      `Encoding the encryption context failed: ${size} bytes is over the limit of 16384`,
    );
  }
  return { pairs, size };
}

/**
 * Writes a planned context into `out` at `offset` (`plan.size` bytes, which
 * `out` must have room for); returns the offset just after it.
 */
export function writeContext(plan: ContextPlan, out: Uint8Array, offset: number): number {
  if (offset + plan.size > out.length) throw new RangeError(`The output has no room for ${plan.size} bytes`);
  let o = offset;
  const n = plan.pairs.length;
  out[o++] = n >>> 8;
  out[o++] = n & 0xff;
  for (const [k, v] of plan.pairs) {
    out[o++] = k.length >>> 8;
    out[o++] = k.length & 0xff;
    out.set(k, o);
    o += k.length;
    out[o++] = v.length >>> 8;
    out[o++] = v.length & 0xff;
    out.set(v, o);
    o += v.length;
  }
  return o;
}

/** The canonical encoding: `u16 count` then `u16 len key u16 len value` per pair, sorted. */
export function encodeContext(context: EncryptionContext): Uint8Array {
  const plan = planContext(context);
  const out = new Uint8Array(plan.size);
  writeContext(plan, out, 0);
  return out;
}

function invalid(why: string): EnvelopeError {
  return new EnvelopeError(
    "HEADER_INVALID",
    `Reading the header failed: ${why}`,
    {
      hint: "the file is damaged or was not written by envelope",
    },
  );
}

/** Reads an encoded context, enforcing every limit before allocating. */
export function readContext(r: ByteReader): Record<string, string> {
  const start = r.offset;
  const count = r.u16();
  if (count === 0) return {}; // the default, empty context
  if (count > MAX_CONTEXT_PAIRS) {
    throw readLimit(
      `Reading the header failed: ${count} context pairs is over the limit of 64`,
    );
  }
  const out: Record<string, string> = Object.create(null);
  let prev: Uint8Array | null = null;
  for (let i = 0; i < count; i++) {
    const klen = r.u16();
    if (klen === 0) throw invalid("a context key is empty");
    if (klen > MAX_CONTEXT_KEY_BYTES) {
      throw readLimit(
        `Reading the header failed: a context key of ${klen} bytes is over the limit of 256`,
      );
    }
    const kb = r.bytes(klen);
    const vlen = r.u16();
    if (vlen > MAX_CONTEXT_VALUE_BYTES) {
      throw readLimit(
        `Reading the header failed: a context value of ${vlen} bytes is over the limit of 4096`,
      );
    }
    const vb = r.bytes(vlen);
    if (r.offset - start > MAX_CONTEXT_BYTES) {
      throw readLimit("Reading the header failed: the context is over 16384 bytes");
    }
    if (prev !== null && compareBytes(prev, kb) >= 0) {
      throw invalid("the context keys are not in strictly ascending order");
    }
    prev = kb;
    const k = utf8DecodeStrict(kb);
    const v = utf8DecodeStrict(vb);
    if (k === null || v === null) {
      throw invalid("the context is not valid UTF-8");
    }
    out[k] = v;
  }
  return { ...out };
}

/** True when two contexts hold exactly the same pairs. */
export function sameContext(
  a: EncryptionContext,
  b: EncryptionContext,
): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}
