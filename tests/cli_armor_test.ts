/**
 * `-a/--armor` through the CLI: encrypt writes the armor (to a terminal too),
 * decrypt, inspect and cat read it without being told, and a damaged armor
 * fails typed with no output file left behind.
 */
import assert from "node:assert/strict";
import { ARMOR_BEGIN, ARMOR_END } from "../src/encoding/armor.ts";
import { leftovers, pathExists, randomBytes, show, workspace } from "./support/cli.ts";
import { writeKey } from "./support/cli_asserts.ts";

Deno.test("cli armor: encrypt -a writes text that decrypt, inspect and cat read; stdin to stdout works as a pipe", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const data = randomBytes(300_000);
  await Deno.writeFile(ws.path("f"), data);
  let r = await ws.run(["encrypt", "-a", "-k", "local:A.key", "f", "--chunk-size", "64KiB"]);
  assert.equal(r.code, 0, show(r));
  const text = await Deno.readTextFile(ws.path("f.envl"));
  const lines = text.split("\n");
  assert.equal(lines[0], ARMOR_BEGIN);
  assert.equal(lines.at(-2), ARMOR_END);
  assert.ok(lines.slice(1, -3).every((l) => l.length === 64), "full lines of 64");
  assert.ok(/^[A-Za-z0-9+/=]+$/.test(lines.slice(1, -2).join("")));

  r = await ws.run(["inspect", "f.envl", "--json"]);
  assert.equal(r.code, 0, show(r));
  assert.equal((JSON.parse(r.stdout) as { chunkSize: number }).chunkSize, 65536);
  r = await ws.run(["decrypt", "-k", "local:A.key", "f.envl", "-o", "back"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await Deno.readFile(ws.path("back")), data);
  r = await ws.run(["cat", "-k", "local:A.key", "f.envl"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(r.stdoutBytes, data);

  // A pipe: stdin to armored stdout (text is allowed to reach stdout without -o -) and back.
  r = await ws.run(["encrypt", "-a", "-k", "local:A.key"], { stdin: new TextEncoder().encode("hello\n") });
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.startsWith(ARMOR_BEGIN + "\n"));
  r = await ws.run(["decrypt", "-k", "local:A.key"], { stdin: new TextEncoder().encode(r.stdout) });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "hello\n");
});

Deno.test("cli armor: damaged or cut armor fails typed and leaves no output; -a on a binary input is refused", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeFile(ws.path("f"), randomBytes(10_000));
  let r = await ws.run(["encrypt", "-a", "-k", "local:A.key", "f"]);
  assert.equal(r.code, 0, show(r));
  const text = await Deno.readTextFile(ws.path("f.envl"));
  // Re-wrapped by an editor at 76 columns.
  const body = text.split("\n").slice(1, -2).join("");
  const rewrapped = [ARMOR_BEGIN, ...(body.match(/.{1,76}/g) ?? []), ARMOR_END, ""].join("\n");
  await Deno.writeTextFile(ws.path("wrapped.envl"), rewrapped);
  r = await ws.run(["decrypt", "-k", "local:A.key", "wrapped.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /more than 64 characters \[ARMOR_INVALID\]/);
  assert.ok(!(await pathExists(ws.path("wrapped"))));
  // Cut in the middle.
  await Deno.writeTextFile(ws.path("cut.envl"), text.slice(0, Math.floor(text.length / 2)));
  r = await ws.run(["decrypt", "-k", "local:A.key", "cut.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /truncated.*\[TRUNCATED\]/);
  assert.ok(!(await pathExists(ws.path("cut"))));
  // A character changed inside the base64 is a payload or header failure of §8, not an armor one.
  const flipped = text.slice(0, 500) + (text[500] === "A" ? "B" : "A") + text.slice(501);
  await Deno.writeTextFile(ws.path("flip.envl"), flipped);
  r = await ws.run(["decrypt", "-k", "local:A.key", "flip.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.ok(!(await pathExists(ws.path("flip"))));
  // -a says the input must be armored.
  r = await ws.run(["encrypt", "-k", "local:A.key", "f", "-o", "bin.envl"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "-a", "-k", "local:A.key", "bin.envl", "-o", "x"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /not an armored message \[ARMOR_INVALID\]/);
  r = await ws.run(["rewrap", "f.envl", "-k", "local:A.key"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /armored text/);
  assert.deepEqual(await leftovers(ws.dir), []);
});
