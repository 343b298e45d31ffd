/**
 * Incremental AES-GCM: {@linkcode GcmSealer} and {@linkcode GcmOpener},
 * which {@linkcode AesGcm.beginSeal} and {@linkcode AesGcm.beginOpen} return,
 * feed a message through the core piece by piece.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { authFailed, check, TAG } from "./_aes_gcm_common.ts";
import { type Core, requireBytes, WINDOW } from "./wasm.ts";

/**
 * What the incremental sealer and opener share: feed pieces with `update`,
 * end with `finish`, or give up with `abort` (which wipes the state).
 *
 * @internal
 * @example Aborting an incremental message
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm } from "./aes_gcm.ts";
 * const gcm = await AesGcm.create(new Uint8Array(32));
 * const sealer = gcm.beginSeal(new Uint8Array(12));
 * sealer.update(new TextEncoder().encode("partial"));
 * sealer.abort();
 * assert.throws(() => sealer.update(new Uint8Array(1)));
 * gcm.dispose();
 * ```
 */
export abstract class GcmStream {
  protected core: Core;
  protected st: number;
  #owner: Set<GcmStream>;

  constructor(core: Core, st: number, owner: Set<GcmStream>) {
    this.core = core;
    this.st = st;
    this.#owner = owner;
  }

  protected live(): number {
    if (this.st === 0) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        "Continuing an AES-GCM message failed: it was finished, aborted or its key disposed",
        {
          hint: "start a new message with beginSeal or beginOpen",
        },
      );
    }
    return this.st;
  }

  protected done(): void {
    this.st = 0;
    this.#owner.delete(this);
  }

  /** Processes `chunk` in windows, returning the transformed bytes. */
  protected run(chunk: Uint8Array, wipe: boolean): Uint8Array {
    const st = this.live();
    requireBytes(chunk, "The chunk");
    const core = this.core;
    const data = core.scratch();
    const out = new Uint8Array(chunk.length);
    for (let off = 0; off < chunk.length; off += WINDOW) {
      const w = Math.min(WINDOW, chunk.length - off);
      core.put(data, chunk.subarray(off, off + w));
      const r = core.exports.gcm_stream_update(st, data, w);
      if (r !== 0) {
        core.wipeRange(data, w);
        out.fill(0);
        this.abort();
        check(r);
      }
      out.set(core.mem().subarray(data, data + w), off);
      if (wipe) core.wipeRange(data, w);
    }
    return out;
  }

  /** Abandons the message and wipes its state. Harmless after `finish`. */
  abort(): void {
    if (this.st === 0) return;
    this.core.exports.gcm_stream_free(this.st);
    this.done();
  }
}

/**
 * An AES-GCM message being sealed incrementally; from {@linkcode AesGcm.beginSeal}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm } from "./aes_gcm.ts";
 * const gcm = await AesGcm.create(new Uint8Array(16));
 * const s = gcm.beginSeal(new Uint8Array(12));
 * s.update(new Uint8Array(3));
 * assert.ok(s.finish().length === 16);
 * gcm.dispose();
 * ```
 */
export class GcmSealer extends GcmStream {
  /** Encrypts the next chunk of plaintext. */
  update(chunk: Uint8Array): Uint8Array {
    return this.run(chunk, false);
  }

  /** Ends the message and returns the 16-byte tag. */
  finish(): Uint8Array {
    const st = this.live();
    const core = this.core;
    const tag = core.scratch() + WINDOW;
    this.done();
    core.exports.gcm_stream_finish(st, tag);
    return core.take(tag, TAG);
  }
}

/**
 * An AES-GCM message being opened incrementally; from {@linkcode AesGcm.beginOpen}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AesGcm } from "./aes_gcm.ts";
 * const gcm = await AesGcm.create(new Uint8Array(16));
 * const o = gcm.beginOpen(new Uint8Array(12));
 * o.update(new Uint8Array(3));
 * try {
 *   o.finish(new Uint8Array(16));
 *   throw new Error("unreachable");
 * } catch (err) {
 *   assert.ok((err as { code?: string }).code === "PAYLOAD_AUTH_FAILED");
 * }
 * gcm.dispose();
 * ```
 */
export class GcmOpener extends GcmStream {
  /** Decrypts the next chunk of ciphertext (unauthenticated until `finish`). */
  update(chunk: Uint8Array): Uint8Array {
    return this.run(chunk, true);
  }

  /** Ends the message; throws `PAYLOAD_AUTH_FAILED` unless `tag` authenticates it. */
  finish(tag: Uint8Array): void {
    const st = this.live();
    requireBytes(tag, "The tag");
    if (tag.length !== TAG) {
      this.abort();
      throw authFailed();
    }
    const core = this.core;
    const t = core.scratch() + WINDOW;
    core.put(t, tag);
    this.done();
    if (core.exports.gcm_stream_finish(st, t) !== 0) throw authFailed();
  }
}
