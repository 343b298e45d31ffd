/**
 * Seeded mutations for the fuzzer: bit flips, byte sets, inserted and deleted
 * runs, truncation, duplicated ranges, splices of two valid inputs, and
 * length fields set to their extremes. Everything comes from one PRNG, so a
 * seed replays the same inputs.
 *
 * @module
 */
import { concat } from "../../src/format/bytes.ts";

/** A seeded PRNG (mulberry32): small, fast and the same on every runtime. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.next() * 256) | 0;
    return out;
  }
  /** A position in [0, len], biased towards the start (headers live there) half of the time. */
  pos(len: number): number {
    if (len === 0) return 0;
    return this.next() < 0.5 ? Math.min(len, Math.floor(this.next() ** 3 * len)) : this.int(0, len);
  }
}

/** A length field the target knows about: where it is, how wide, and its byte order. */
export interface LengthField {
  readonly offset: number;
  readonly width: 1 | 2 | 4 | 8;
  readonly littleEndian: boolean;
}

/** The kinds of mutation, named in reports. */
export const MUTATIONS = [
  "bit-flip",
  "byte-set",
  "insert-run",
  "delete-run",
  "truncate",
  "duplicate-range",
  "splice",
  "length-extreme",
] as const;
export type Mutation = typeof MUTATIONS[number];

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x2a, 0x2f, 0x2e, 0x3d, 0x0a];

const cat = (...parts: Uint8Array[]): Uint8Array => concat(parts);

function writeUint(out: Uint8Array, f: LengthField, value: bigint): void {
  for (let i = 0; i < f.width && f.offset + i < out.length; i++) {
    const shift = BigInt(8 * (f.littleEndian ? i : f.width - 1 - i));
    out[f.offset + i] = Number((value >> shift) & 0xffn);
  }
}

/**
 * One mutation of `input`. `others` are the target's other valid inputs (for splicing), `fields` its known length
 * fields (a random offset and width are used when there are none or by chance).
 */
export function mutate(
  rng: Prng,
  input: Uint8Array,
  others: readonly Uint8Array[],
  fields: readonly LengthField[],
  kind: Mutation = rng.pick(MUTATIONS),
): Uint8Array {
  const len = input.length;
  switch (kind) {
    case "bit-flip": {
      const out = input.slice();
      const n = rng.int(1, 4);
      for (let k = 0; k < n && len > 0; k++) out[Math.min(len - 1, rng.pos(len))] ^= 1 << rng.int(0, 7);
      return out;
    }
    case "byte-set": {
      const out = input.slice();
      const n = rng.int(1, 4);
      for (let k = 0; k < n && len > 0; k++) {
        out[Math.min(len - 1, rng.pos(len))] = rng.next() < 0.5 ? rng.pick(INTERESTING) : rng.int(0, 255);
      }
      return out;
    }
    case "insert-run": {
      const at = rng.pos(len);
      const n = rng.pick([1, 2, 3, 4, 8, 16, 17, rng.int(1, 300)]);
      const run = rng.next() < 0.5 ? new Uint8Array(n).fill(rng.pick(INTERESTING)) : rng.bytes(n);
      return cat(input.subarray(0, at), run, input.subarray(at));
    }
    case "delete-run": {
      const at = rng.pos(len);
      const n = rng.pick([1, 2, 4, 16, rng.int(1, Math.max(1, len - at))]);
      return cat(input.subarray(0, at), input.subarray(Math.min(len, at + n)));
    }
    case "truncate":
      return input.slice(0, rng.next() < 0.3 ? rng.int(0, Math.min(len, 64)) : rng.int(0, Math.max(0, len - 1)));
    case "duplicate-range": {
      const a = rng.pos(len);
      const b = Math.min(len, a + rng.int(1, Math.max(1, Math.min(len - a, 200))));
      const at = rng.int(0, len);
      return cat(input.subarray(0, at), input.subarray(a, b), input.subarray(at));
    }
    case "splice": {
      const other = others.length > 0 ? rng.pick(others) : input;
      return cat(input.subarray(0, rng.int(0, len)), other.subarray(rng.int(0, other.length)));
    }
    case "length-extreme": {
      const out = input.slice();
      const f: LengthField = fields.length > 0 && rng.next() < 0.8 ? rng.pick(fields) : {
        offset: rng.pos(Math.max(0, len - 1)),
        width: rng.pick([1, 2, 4, 8] as const),
        littleEndian: rng.next() < 0.5,
      };
      const max = (1n << BigInt(8 * f.width)) - 1n;
      const half = 1n << BigInt(8 * f.width - 1);
      const v = rng.pick([
        0n,
        1n,
        max,
        max - 1n,
        half,
        half - 1n,
        BigInt(len),
        BigInt(len) + 1n,
        BigInt(rng.int(0, 70)),
      ]);
      writeUint(out, f, v & max);
      return out;
    }
  }
}
