/**
 * `envelope keygen` run as a user runs it (src/cli/commands/keygen.ts): mode 0600, no
 * overwrite without --force, and the default key.
 */
import assert from "node:assert/strict";
import { LocalKey } from "../src/keys/local.ts";
import { workspace } from "./support/cli.ts";
import { assertFailed, assertOk, fileMode, inspectJson } from "./support/cli_asserts.ts";

Deno.test("cli: keygen writes mode 0600, refuses to overwrite without --force, and makes the default key", async () => {
  await using ws = await workspace();
  let r = await ws.run(["keygen", "-o", "k1"]);
  assertOk(r);
  assert.match(r.stdout, /^created local key [0-9a-f]{16} at k1\n$/);
  assert.match(r.stderr, /^warning: back up k1/m);
  assert.equal(await fileMode(ws.path("k1")), 0o600);
  const first = await Deno.readTextFile(ws.path("k1"));
  assert.match(first, /^ENVELOPE-LOCAL-KEY-V1:[A-Za-z0-9_-]{43}\n$/);
  assert.ok(r.stdout.includes((await LocalKey.fromText(first)).keyId));

  r = await ws.run(["keygen", "-o", "k1"]);
  assertFailed(r, "OUTPUT_EXISTS");
  assert.match(r.stderr, /--force/);
  assert.equal(await Deno.readTextFile(ws.path("k1")), first, "the existing key is untouched");

  await Deno.chmod(ws.path("k1"), 0o644);
  r = await ws.run(["keygen", "--output", "k1", "--force"]);
  assertOk(r);
  const second = await Deno.readTextFile(ws.path("k1"));
  assert.notEqual(second, first);
  assert.equal(await fileMode(ws.path("k1")), 0o600);

  // With no -o: the default path; encrypt then uses it without creating one.
  r = await ws.run(["keygen"]);
  assertOk(r);
  const def = `${ws.home}/.config/envelope/local.key`;
  assert.equal(await fileMode(def), 0o600);
  const defKey = await LocalKey.fromText(await Deno.readTextFile(def));
  await Deno.writeTextFile(ws.path("x"), "x");
  r = await ws.run(["encrypt", "x"]);
  assertOk(r);
  assert.equal(r.stderr, "", "no new key is created when keygen made one");
  assert.equal((await inspectJson(ws, "x.envl")).keys[0].keyId, defKey.keyId);

  r = await ws.run(["keygen", "extra"]);
  assertFailed(r, "USAGE", 2);
});
