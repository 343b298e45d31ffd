/**
 * Inputs that may be text-armored (docs/FORMAT.md §11): `decrypt`, `inspect`
 * and `cat` recognise the BEGIN line and read the bytes beneath it, in
 * constant memory, so `-a` is never needed to read.
 *
 * @module
 */
import { armorVerdict, dearmorStream } from "../encoding/armor.ts";
import { EnvelopeError } from "../errors.ts";
import { peek } from "../io/header_peek.ts";
import type { Input } from "../io/input.ts";

/** `input` as binary: unarmored when it starts with the BEGIN line; `armored` says which it was. */
export async function dearmored(input: Input, require = false): Promise<Input & { armored: boolean }> {
  if (input.bytes !== undefined && !require && armorVerdict(input.bytes) === false) {
    // Read whole, and binary: as it is, still with no stream made (files.ts OpenInputOptions.whole).
    return {
      name: input.name,
      size: input.size,
      bytes: input.bytes,
      armored: false,
      get stream() {
        return input.stream;
      },
    };
  }
  // Enough to see past leading whitespace and the whole BEGIN line, or to see it is not one (at most 4 KiB).
  const peeked = await peek(input.stream, (h) => h.length > 0 && (h.length >= 4096 || armorVerdict(h) !== undefined));
  const armored = armorVerdict(peeked.head) === true;
  if (require && !armored) {
    await peeked.stream.cancel().catch(() => {});
    throw new EnvelopeError("ARMOR_INVALID", `Reading ${input.name} failed: it is not an armored message`, {
      hint: "drop -a to read a binary message, or check you have the right file",
    });
  }
  if (!armored) return { ...input, stream: peeked.stream, armored };
  return {
    name: input.name,
    // About the binary size (for progress and estimates only): 3 bytes per 4 characters, 65 characters a line.
    size: input.size === undefined ? undefined : Math.floor(input.size * 48 / 65),
    stream: peeked.stream.pipeThrough(dearmorStream()),
    armored,
  };
}
