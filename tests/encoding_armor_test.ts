/**
 * The text armor (docs/FORMAT.md §11): round trips at every length around
 * the 48-byte line group, fed in any piece sizes; each decoder MUST of the
 * spec refused with its code; a line with no end is refused without being
 * held whole.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ARMOR_BEGIN, ARMOR_END, armorStream, dearmorStream, looksArmored } from "../src/encoding/armor.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { randomBytes } from "./support/cli.ts";
import { streamOf } from "./support/envelope_harness.ts";

async function through(bytes: Uint8Array, t: TransformStream<Uint8Array, Uint8Array>, size = 1 << 16) {
  return new Uint8Array(await new Response(streamOf(bytes, size).pipeThrough(t)).arrayBuffer());
}

/** The armor as the spec writes it, built independently with node:buffer's base64. */
function expected(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return [ARMOR_BEGIN, ...lines, ARMOR_END, ""].join("\n");
}

async function refused(text: string, code: string, pattern?: RegExp): Promise<void> {
  const err = await through(new TextEncoder().encode(text), dearmorStream()).then(() => null, (e) => e);
  assert.ok(isEnvelopeError(err), `expected ${code} for ${JSON.stringify(text.slice(0, 120))}`);
  assert.equal(err.code, code, err.message);
  if (pattern) assert.match(err.message, pattern);
  assert.ok(err.hint);
}

Deno.test("armor: round trips at lengths around the 48-byte line, in any piece size, as the spec lays it out", async () => {
  for (const n of [0, 1, 2, 3, 4, 47, 48, 49, 95, 96, 97, 1000, 100_003]) {
    const data = randomBytes(n);
    for (const size of [1, 5, 48, 49, 4096]) {
      if (n > 5000 && size < 48) continue;
      const text = await through(data, armorStream(), size);
      assert.equal(new TextDecoder().decode(text), expected(data), `n=${n} size=${size}`);
      for (const back of [1, 3, 65, 4096]) {
        if (n > 5000 && back < 48) continue;
        assert.deepEqual(await through(text, dearmorStream(), back), data, `n=${n} size=${size} back=${back}`);
      }
    }
  }
});

Deno.test("armor: CRLF line ends and whitespace around the armor are read; looksArmored sees the BEGIN line", async () => {
  const data = randomBytes(200);
  const text = "\r\n  \n" + expected(data).replaceAll("\n", "\r\n") + "  \n\t\n";
  assert.deepEqual(await through(new TextEncoder().encode(text), dearmorStream(), 7), data);
  // No line break after the END line.
  assert.deepEqual(await through(new TextEncoder().encode(expected(data).trimEnd()), dearmorStream()), data);
  assert.ok(looksArmored(new TextEncoder().encode("\n  -----BEGIN ENV")));
  assert.ok(looksArmored(new TextEncoder().encode(ARMOR_BEGIN)));
  assert.ok(!looksArmored(new TextEncoder().encode("-----BEGIN AGE ENCRYPTED FILE-----")));
  assert.ok(!looksArmored(new Uint8Array([0x45, 0x4e, 0x56, 0x4c])));
  assert.ok(!looksArmored(new Uint8Array(0)));
});

Deno.test("armor: every MUST of the decoder is enforced with ARMOR_INVALID or TRUNCATED", async () => {
  const data = randomBytes(100); // lines of 64, 64, 8 characters
  const good = expected(data);
  const lines = good.split("\n");
  const withLines = (ls: string[]) => ls.join("\n");
  await refused(
    withLines([lines[0], lines[1] + lines[2].slice(0, 4), lines[2].slice(4), ...lines.slice(3)]),
    "ARMOR_INVALID",
    /more than 64/,
  );
  await refused(
    withLines([lines[0], lines[1].slice(0, 60), lines[1].slice(60) + lines[2], ...lines.slice(3)]),
    "ARMOR_INVALID",
  );
  await refused(
    withLines([lines[0], lines[1].slice(0, 10) + "*" + lines[1].slice(11), ...lines.slice(2)]),
    "ARMOR_INVALID",
    /alphabet/,
  );
  await refused(
    withLines([lines[0], lines[1].slice(0, 10) + " " + lines[1].slice(11), ...lines.slice(2)]),
    "ARMOR_INVALID",
  );
  await refused(withLines([lines[0], lines[1].slice(0, 60) + "AA==", ...lines.slice(2)]), "ARMOR_INVALID");
  await refused(withLines([lines[0], "", ...lines.slice(1)]), "ARMOR_INVALID", /empty/);
  await refused(withLines([lines[0], lines[1], lines[2], "AAA", ...lines.slice(3)]), "ARMOR_INVALID");
  // 100 bytes end in one byte: "xx==" with non-zero bits in the second character's low bits.
  const last = lines[3];
  assert.match(last, /==$/);
  const bumped = last.slice(0, -3) + (last.at(-3) === "B" ? "C" : "B") + "==";
  await refused(withLines([...lines.slice(0, 3), bumped, ...lines.slice(4)]), "ARMOR_INVALID", /non-zero bits/);
  await refused(good.replace("BEGIN ENVELOPE", "BEGIN AGE"), "ARMOR_INVALID", /BEGIN line/);
  await refused(good + "trailing text\n", "ARMOR_INVALID", /follows the END/);
  await refused(withLines(lines.slice(0, 3)), "TRUNCATED", /truncated/);
  await refused("", "TRUNCATED");
});

Deno.test("armor: a line that never ends is refused at once, never held whole (constant memory)", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      if (pulled > 1000) return c.close();
      c.enqueue(pulled === 1 ? new TextEncoder().encode(ARMOR_BEGIN + "\n") : new Uint8Array(1 << 20).fill(0x41));
    },
  });
  const err = await new Response(endless.pipeThrough(dearmorStream())).arrayBuffer().then(() => null, (e) => e);
  assert.ok(isEnvelopeError(err) && err.code === "ARMOR_INVALID");
  assert.ok(pulled < 5, `stopped after ${pulled} pieces`);
});
