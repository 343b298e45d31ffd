/**
 * `envelope inspect` run as a user runs it (src/cli/commands/inspect.ts): format, context and
 * keys as text and JSON, with no key at all.
 */
import assert from "node:assert/strict";
import { type InspectJson, runCli, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, writeKey } from "./support/cli_asserts.ts";

Deno.test("cli: inspect shows format, context and keys as text and JSON, with no key at all", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  const b = await writeKey(ws.path("B.key"));
  await Deno.writeTextFile(ws.path("f"), "inspect me");
  assertOk(
    await ws.run([
      "encrypt",
      "f",
      "-k",
      "local:A.key",
      "-k",
      "local:B.key",
      "-c",
      "app=x",
      "-c",
      'note=a b"c',
      "-c",
      "eq=a=b=",
      "--chunk-size",
      "1024",
    ]),
  );
  await Deno.remove(ws.path("A.key"));
  await Deno.remove(ws.path("B.key"));

  // A fresh, empty HOME and no key files anywhere.
  let r = await runCli(["inspect", "f.envl"], { cwd: ws.dir });
  assertOk(r);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^format: +envelope$/m);
  assert.match(r.stdout, /^version: +1$/m);
  assert.match(r.stdout, /^chunkSize: +1024$/m);
  assert.match(r.stdout, /^ {2}app="x"$/m);
  assert.match(r.stdout, /^ {2}note="a b\\"c"$/m);
  assert.match(r.stdout, /^keys: +2$/m);
  assert.match(r.stdout, new RegExp(`^  - local:${a.keyId} \\(\\d+ bytes wrapped\\)$`, "m"));
  assert.match(r.stdout, new RegExp(`^  - local:${b.keyId} `, "m"));

  r = await runCli(["inspect", "--json", "f.envl"], { cwd: ws.dir });
  assertOk(r);
  const info: InspectJson = JSON.parse(r.stdout);
  assert.equal(info.format, "envelope");
  assert.equal(info.version, 1);
  assert.equal(info.chunkSize, 1024);
  assert.deepEqual(info.context, { app: "x", eq: "a=b=", note: 'a b"c' }, "a value keeps every = after the first");
  assert.deepEqual(info.keys.map((k) => ({ provider: k.provider, keyId: k.keyId })), [
    { provider: "local", keyId: a.keyId },
    { provider: "local", keyId: b.keyId },
  ]);
  assert.equal(typeof info.headerLength, "number");
  const size = (await Deno.stat(ws.path("f.envl"))).size;
  assert.equal(size, info.headerLength + 16 + "inspect me".length);

  // A header cut short is reported, not guessed at.
  await Deno.writeFile(ws.path("cut.envl"), (await Deno.readFile(ws.path("f.envl"))).subarray(0, 40));
  r = await runCli(["inspect", "cut.envl"], { cwd: ws.dir });
  assertFailed(r, "TRUNCATED|HEADER_INVALID");

  r = await runCli(["inspect"], { cwd: ws.dir });
  assertFailed(r, "USAGE", 2);
  r = await runCli(["inspect", "absent.envl"], { cwd: ws.dir });
  assertFailed(r, "IO_FAILED");
});
