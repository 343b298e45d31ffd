/**
 * The text armor of a message (docs/FORMAT.md §11): base64 in lines of 64
 * characters between BEGIN and END lines, as age's armor has them. Both
 * directions are `TransformStream`s that hold at most one line (plus the
 * bytes of one unfinished 48-byte group), so armored messages of any size
 * stream in constant memory.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** The first line of an armored message. */
export const ARMOR_BEGIN = "-----BEGIN ENVELOPE ENCRYPTED FILE-----";
/** The last line of an armored message. */
export const ARMOR_END = "-----END ENVELOPE ENCRYPTED FILE-----";

const LINE = 64;
const GROUP = 48; // bytes per full line
const ALPHABET = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) VALUE[ALPHABET[i]] = i;
const EQ = 0x3d;
const LF = 0x0a;
const CR = 0x0d;
const BEGIN = new TextEncoder().encode(ARMOR_BEGIN);
const END = new TextEncoder().encode(ARMOR_END);

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR || b === LF;
}

/**
 * True when `head` (the first bytes of an input) starts, after spaces, tabs
 * and line breaks, with the BEGIN line, or with as much of it as `head` holds.
 */
export function looksArmored(head: Uint8Array): boolean {
  return armorVerdict(head) !== false;
}

/**
 * Whether `head` starts an armored message: true once the whole BEGIN line
 * (after any whitespace) is there, false as soon as a byte rules it out,
 * `undefined` while more bytes are needed to tell.
 */
export function armorVerdict(head: Uint8Array): boolean | undefined {
  let i = 0;
  while (i < head.length && isSpace(head[i])) i++;
  if (i === head.length) return head.length === 0 ? false : undefined;
  for (let j = 0; j < BEGIN.length; j++) {
    if (i + j >= head.length) return undefined;
    if (head[i + j] !== BEGIN[j]) return false;
  }
  return true;
}

/** Encodes `bytes` (a multiple of 3 long, or the last piece) as base64 into `out` at `at`; returns the new offset. */
function encodeInto(bytes: Uint8Array, out: Uint8Array, at: number): number {
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[at++] = ALPHABET[v >>> 18];
    out[at++] = ALPHABET[(v >>> 12) & 63];
    out[at++] = ALPHABET[(v >>> 6) & 63];
    out[at++] = ALPHABET[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out[at++] = ALPHABET[v >>> 18];
    out[at++] = ALPHABET[(v >>> 12) & 63];
    out[at++] = EQ;
    out[at++] = EQ;
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out[at++] = ALPHABET[v >>> 18];
    out[at++] = ALPHABET[(v >>> 12) & 63];
    out[at++] = ALPHABET[(v >>> 6) & 63];
    out[at++] = EQ;
  }
  return at;
}

/**
 * A `TransformStream` from a binary message to its armor: the BEGIN line,
 * lines of 64 base64 characters (the last one shorter), the END line.
 *
 * @example Armoring and reading back
 * ```ts
 * import assert from "node:assert/strict";
 * import { armorStream, dearmorStream } from "./armor.ts";
 * const text = await new Response(new Blob([new Uint8Array([1, 2, 3])]).stream().pipeThrough(armorStream())).text();
 * assert.equal(text, "-----BEGIN ENVELOPE ENCRYPTED FILE-----\nAQID\n-----END ENVELOPE ENCRYPTED FILE-----\n");
 * const back = await new Response(new Blob([text]).stream().pipeThrough(dearmorStream())).bytes();
 * assert.deepEqual([...back], [1, 2, 3]);
 * ```
 */
export function armorStream(): TransformStream<Uint8Array, Uint8Array> {
  const pending = new Uint8Array(GROUP);
  let held = 0;
  return new TransformStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(ARMOR_BEGIN + "\n"));
    },
    transform(chunk, controller) {
      let from = 0;
      if (held > 0) {
        const take = Math.min(GROUP - held, chunk.length);
        pending.set(chunk.subarray(0, take), held);
        held += take;
        from = take;
        if (held < GROUP) return;
      }
      const whole = Math.floor((chunk.length - from) / GROUP);
      const lines = whole + (held === GROUP ? 1 : 0);
      if (lines > 0) {
        const out = new Uint8Array(lines * (LINE + 1));
        let at = 0;
        if (held === GROUP) {
          at = encodeInto(pending, out, at);
          out[at++] = LF;
          held = 0;
        }
        for (let k = 0; k < whole; k++, from += GROUP) {
          at = encodeInto(chunk.subarray(from, from + GROUP), out, at);
          out[at++] = LF;
        }
        controller.enqueue(out);
      }
      pending.set(chunk.subarray(from), 0);
      held = chunk.length - from;
    },
    flush(controller) {
      const tail = new TextEncoder().encode(ARMOR_END + "\n");
      const out = new Uint8Array(LINE + 1 + tail.length);
      let at = 0;
      if (held > 0) {
        at = encodeInto(pending.subarray(0, held), out, at);
        out[at++] = LF;
      }
      out.set(tail, at);
      controller.enqueue(out.subarray(0, at + tail.length));
      pending.fill(0);
    },
  });
}

function invalid(why: string): EnvelopeError {
  return new EnvelopeError("ARMOR_INVALID", `Reading the armor failed: ${why}`, {
    hint:
      "the text was changed on its way (re-wrapped lines, added spaces or characters); use the armored text exactly as it was written",
  });
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A `TransformStream` from an armored message to its bytes, checking every
 * rule of docs/FORMAT.md §11: ARMOR_INVALID for a malformed armor, TRUNCATED
 * when the text ends before its END line.
 */
export function dearmorStream(): TransformStream<Uint8Array, Uint8Array> {
  type State = "before" | "body" | "after";
  let state: State = "before";
  // The current line's bytes (without its line break); bounded by the longest line allowed.
  const line = new Uint8Array(Math.max(BEGIN.length, LINE) + 2);
  let len = 0;
  let lineNo = 0;
  let shortSeen = false; // a line under 64 characters (or with padding) was seen: the next must be END
  const decodeLine = (bytes: Uint8Array, out: Uint8Array, at: number): number => {
    if (bytes.length % 4 !== 0) {
      throw invalid(`line ${lineNo} has ${bytes.length} characters, which is not a whole number of base64 groups`);
    }
    for (let i = 0; i < bytes.length; i += 4) {
      const last = i + 4 === bytes.length;
      const c0 = VALUE[bytes[i]], c1 = VALUE[bytes[i + 1]];
      let c2 = VALUE[bytes[i + 2]], c3 = VALUE[bytes[i + 3]];
      let pad = 0;
      if (last && bytes[i + 3] === EQ) {
        pad = bytes[i + 2] === EQ ? 2 : 1;
        if (pad === 2) c2 = 0;
        c3 = 0;
      }
      if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) {
        throw invalid(`line ${lineNo} holds a character outside the base64 alphabet, or padding before its end`);
      }
      if (pad > 0 && !shortSeen) shortSeen = true;
      const v = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
      if ((pad === 1 && (v & 0xff) !== 0) || (pad === 2 && (v & 0xffff) !== 0)) {
        throw invalid(`line ${lineNo} has non-zero bits after its last byte`);
      }
      out[at++] = v >>> 16;
      if (pad < 2) out[at++] = (v >>> 8) & 0xff;
      if (pad < 1) out[at++] = v & 0xff;
    }
    return at;
  };
  const endLine = (controller: TransformStreamDefaultController<Uint8Array>, out: Uint8Array, at: number): number => {
    lineNo++;
    let n = len;
    if (n > 0 && line[n - 1] === CR) n--;
    const bytes = line.subarray(0, n);
    len = 0;
    if (state === "before") {
      if (n === 0) return at;
      if (!same(bytes, BEGIN)) throw invalid(`line ${lineNo} is not the BEGIN line ${ARMOR_BEGIN}`);
      state = "body";
      return at;
    }
    if (state === "after") {
      for (const b of bytes) if (!isSpace(b) && b !== 0x20) throw invalid(`line ${lineNo} follows the END line`);
      return at;
    }
    if (same(bytes, END)) {
      state = "after";
      return at;
    }
    if (shortSeen) throw invalid(`line ${lineNo} follows a short line; only the last line may be shorter than 64`);
    if (n === 0) throw invalid(`line ${lineNo} is empty`);
    if (n > LINE) throw invalid(`line ${lineNo} has more than ${LINE} characters`);
    if (n < LINE) shortSeen = true;
    void controller;
    return decodeLine(bytes, out, at);
  };
  return new TransformStream({
    transform(chunk, controller) {
      // At most 48 bytes per line of at least 2 input bytes: the decoded bytes fit in this.
      const out = new Uint8Array(Math.ceil((chunk.length + len) / 4) * 3 + 3);
      let at = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === LF) {
          at = endLine(controller, out, at);
          continue;
        }
        if (state === "before" && len === 0 && (b === 0x20 || b === 0x09 || b === CR)) continue;
        if (state === "after") {
          if (!isSpace(b)) throw invalid(`line ${lineNo + 1} follows the END line`);
          continue;
        }
        if (len >= line.length) {
          throw invalid(
            state === "before"
              ? `the text does not start with the BEGIN line ${ARMOR_BEGIN}`
              : `line ${lineNo + 1} has more than ${LINE} characters`,
          );
        }
        line[len++] = b;
      }
      if (at > 0) controller.enqueue(out.subarray(0, at));
    },
    flush(controller) {
      if (len > 0 && state !== "after") {
        // The END line may end the text without a line break.
        const out = new Uint8Array(LINE);
        const at = endLine(controller, out, 0);
        if (at > 0) controller.enqueue(out.subarray(0, at));
      }
      if (state !== "after") {
        throw new EnvelopeError(
          "TRUNCATED",
          state === "before"
            ? "Reading the armor failed: the text is empty or has no BEGIN line"
            : "Reading the armor failed: the armored text is truncated (it ends before its END line)",
          { hint: "copy the whole armored text, from its BEGIN line to its END line" },
        );
      }
    },
  });
}
