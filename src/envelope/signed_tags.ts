/**
 * The chunk tags a signed message's signature covered, kept when a random
 * access reader opens it (docs/FORMAT.md §5.1), so that every later read
 * checks its chunk against them: a source that changed after the open (a
 * file rewritten in place, an HTTP server answering differently) cannot slip
 * in chunks that someone who holds only the data key sealed. Up to
 * {@linkcode EXACT_CHUNKS} chunks (64 GiB of 64 KiB chunks) each tag is kept
 * (16 bytes a chunk, 16 MiB at most); beyond, one SHA-256 per group of
 * consecutive chunks, and a read then reads its group's tags again.
 *
 * @module
 */
import { constantTimeEqual, sha256 } from "../crypto/hash.ts";
import { EnvelopeError } from "../errors.ts";
import { TAG_BYTES } from "../format/limits.ts";

/** Chunks whose tags are kept one by one. */
export const EXACT_CHUNKS = 1 << 20;

/** What a signature covered, chunk by chunk (see the module's notes). */
export class SignedTags {
  /** Chunks per group: 1 keeps each tag. */
  readonly group: number;
  readonly #kept: Uint8Array;
  #pending: Uint8Array;
  #filled = 0;
  #next = 0;

  /** `exact`: chunks kept one by one (tests lower it to reach the grouped form). */
  constructor(readonly chunks: number, exact: number = EXACT_CHUNKS) {
    this.group = Math.max(1, Math.ceil(chunks / exact));
    const entry = this.group === 1 ? TAG_BYTES : 32;
    this.#kept = new Uint8Array(Math.ceil(chunks / this.group) * entry);
    this.#pending = new Uint8Array(this.group === 1 ? 0 : this.group * TAG_BYTES);
  }

  /** Takes the tag of the next chunk, in order, as the signature's transcript took it. */
  add(sealed: Uint8Array): void {
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const i = this.#next++;
    if (this.group === 1) {
      this.#kept.set(tag, i * TAG_BYTES);
      return;
    }
    this.#pending.set(tag, this.#filled);
    this.#filled += TAG_BYTES;
    if (this.#filled === this.#pending.length || this.#next === this.chunks) {
      this.#kept.set(sha256(this.#pending.subarray(0, this.#filled)), Math.floor(i / this.group) * 32);
      this.#filled = 0;
    }
  }

  /**
   * Checks chunk `index`, `sealed` as just read, against what the signature
   * covered; `tagOf(j)` reads chunk j's tag again (for a group). Throws
   * `SIGNATURE_INVALID` when the source changed after the open.
   */
  async check(index: number, sealed: Uint8Array, tagOf: (j: number) => Promise<Uint8Array>): Promise<void> {
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    let same: boolean;
    if (this.group === 1) {
      same = constantTimeEqual(tag, this.#kept.subarray(index * TAG_BYTES, (index + 1) * TAG_BYTES));
    } else {
      const g = Math.floor(index / this.group);
      const first = g * this.group;
      const count = Math.min(this.group, this.chunks - first);
      const tags = new Uint8Array(count * TAG_BYTES);
      for (let j = 0; j < count; j++) {
        tags.set(first + j === index ? tag : await tagOf(first + j), j * TAG_BYTES);
      }
      same = constantTimeEqual(sha256(tags), this.#kept.subarray(g * 32, g * 32 + 32));
    }
    if (!same) {
      throw new EnvelopeError(
        "SIGNATURE_INVALID",
        `Reading chunk ${index} failed: it is not the chunk the signature covered; the message changed after it was opened`,
        { hint: "the file (or what serves it) changed while it was read; open it again, from a trusted copy" },
      );
    }
  }
}
