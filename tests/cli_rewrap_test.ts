/**
 * `envelope rewrap` with local keys through the CLI: add a key, remove one,
 * replace them all, in place or to a new file, and the payload after the
 * header copied byte for byte every time.
 */
import assert from "node:assert/strict";
import { LocalKey } from "../src/keys/local.ts";
import {
  type CliResult,
  type InspectJson,
  leftovers,
  pathExists,
  randomBytes,
  show,
  type Workspace,
  workspace,
} from "./support/cli.ts";

function assertFailed(r: CliResult, code: string, exit = 1): void {
  assert.equal(r.code, exit, show(r));
  assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), show(r));
  assert.match(r.stderr, /^hint: \S/m, show(r));
}

async function writeKey(ws: Workspace, name: string): Promise<LocalKey> {
  const key = await LocalKey.generate();
  await Deno.writeTextFile(ws.path(name), key.toText(), { mode: 0o600 });
  return key;
}

/** The file's header info and the bytes after its header. */
async function split(ws: Workspace, file: string): Promise<{ info: InspectJson; payload: Uint8Array }> {
  const r = await ws.run(["inspect", "--json", file]);
  assert.equal(r.code, 0, show(r));
  const info = JSON.parse(r.stdout);
  const bytes = await Deno.readFile(ws.path(file));
  return { info, payload: bytes.subarray(info.headerLength) };
}

const ids = (info: InspectJson) => info.keys.map((k) => `${k.provider}:${k.keyId}`);

for (const size of [10_000, 300_000]) {
  Deno.test(`cli: rewrap adds, removes and replaces local keys; the payload is untouched (${size} bytes: ${size <= 131072 ? "read whole" : "streamed"})`, async () => {
    await using ws = await workspace();
    const a = await writeKey(ws, "A.key");
    const b = await writeKey(ws, "B.key");
    const c = await writeKey(ws, "C.key");
    const data = randomBytes(size);
    await Deno.writeFile(ws.path("f"), data);
    let r = await ws.run(["encrypt", "f", "-k", "local:A.key", "-c", "app=r", "--chunk-size", "1024"]);
    assert.equal(r.code, 0, show(r));
    const original = await split(ws, "f.envl");
    assert.deepEqual(ids(original.info), [`local:${a.keyId}`]);

    // Add B, in place; A (not the default key) unwraps, so it is named with -u.
    r = await ws.run(["rewrap", "f.envl", "-k", "local:B.key", "-u", "local:A.key"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^added local:${b.keyId} \\(wrapped here\\)$`, "m"));
    assert.match(r.stdout, /^rewrapped f\.envl$/m);
    let now = await split(ws, "f.envl");
    assert.deepEqual(ids(now.info), [`local:${a.keyId}`, `local:${b.keyId}`]);
    assert.deepEqual(now.payload, original.payload, "the payload after the header changed");
    assert.deepEqual(now.info.context, { app: "r" });
    assert.equal(now.info.chunkSize, 1024);

    r = await ws.run(["decrypt", "f.envl", "-k", "local:B.key", "-c", "app=r", "-o", "by-b"]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await Deno.readFile(ws.path("by-b")), data);

    // Remove A, named as a key spec; B unwraps.
    r = await ws.run(["rewrap", "f.envl", "--remove", "local:A.key", "-u", "local:B.key"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^removed local:${a.keyId}$`, "m"));
    now = await split(ws, "f.envl");
    assert.deepEqual(ids(now.info), [`local:${b.keyId}`]);
    assert.deepEqual(now.payload, original.payload);
    r = await ws.run(["decrypt", "f.envl", "-k", "local:A.key", "-o", "by-a"]);
    assertFailed(r, "NO_KEY_MATCHED");
    assert.equal(await pathExists(ws.path("by-a")), false);

    // --replace into a new file: only C there; the input is unchanged.
    const beforeReplace = await Deno.readFile(ws.path("f.envl"));
    r = await ws.run(["rewrap", "f.envl", "-k", "local:C.key", "--replace", "-u", "local:B.key", "-o", "g.envl"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^rewrapped g\.envl$/m);
    assert.deepEqual(await Deno.readFile(ws.path("f.envl")), beforeReplace, "-o must leave INPUT as it was");
    const g = await split(ws, "g.envl");
    assert.deepEqual(ids(g.info), [`local:${c.keyId}`]);
    assert.deepEqual(g.payload, original.payload);
    r = await ws.run(["decrypt", "g.envl", "-k", "local:C.key", "-o", "by-c"]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await Deno.readFile(ws.path("by-c")), data);
    r = await ws.run(["decrypt", "g.envl", "-k", "local:B.key", "-o", "by-b2"]);
    assertFailed(r, "NO_KEY_MATCHED");

    // -o to an existing file needs --force.
    r = await ws.run(["rewrap", "f.envl", "-k", "local:C.key", "-u", "local:B.key", "-o", "g.envl"]);
    assertFailed(r, "OUTPUT_EXISTS");
    assert.deepEqual(ids((await split(ws, "g.envl")).info), [`local:${c.keyId}`]);

    // Removing a key the file does not have, and unwrapping with a key it does not have, fail and change nothing.
    r = await ws.run(["rewrap", "f.envl", "--remove", `local:${c.keyId}`, "-u", "local:B.key"]);
    assertFailed(r, "NO_KEY_MATCHED");
    r = await ws.run(["rewrap", "f.envl", "-k", "local:C.key", "-u", "local:A.key"]);
    assertFailed(r, "NO_KEY_MATCHED");
    assert.deepEqual(await Deno.readFile(ws.path("f.envl")), beforeReplace);

    // Removing the exact id as inspect shows it.
    r = await ws.run(["rewrap", "g.envl", "-k", "local:A.key", "--remove", `local:${c.keyId}`, "-u", "local:C.key"]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(ids((await split(ws, "g.envl")).info), [`local:${a.keyId}`]);
    assert.deepEqual((await split(ws, "g.envl")).payload, original.payload);
    assert.deepEqual(await leftovers(ws.dir), []);
  });
}

Deno.test("cli: rewrap uses the default local key when no -u is given, and refuses what is not an envelope file", async () => {
  await using ws = await workspace();
  const b = await writeKey(ws, "B.key");
  await Deno.writeTextFile(ws.path("f"), "default key");
  let r = await ws.run(["encrypt", "f"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["rewrap", "f.envl", "-k", "local:B.key", "--replace"]);
  assert.equal(r.code, 0, show(r));
  const info = JSON.parse((await ws.run(["inspect", "--json", "f.envl"])).stdout);
  assert.deepEqual(ids(info), [`local:${b.keyId}`]);
  r = await ws.run(["decrypt", "f.envl", "-k", "local:B.key", "-o", "-"]);
  assert.equal(r.stdout, "default key");

  await Deno.writeTextFile(ws.path("plain.txt"), "this is not an envelope message at all");
  r = await ws.run(["rewrap", "plain.txt", "-k", "local:B.key"]);
  assertFailed(r, "FORMAT_UNKNOWN");
  assert.equal(await Deno.readTextFile(ws.path("plain.txt")), "this is not an envelope message at all");
  r = await ws.run(["rewrap", "-", "-k", "local:B.key"]);
  assertFailed(r, "USAGE", 2);
});

Deno.test("cli: rewrap in place keeps the file's mode", async () => {
  await using ws = await workspace();
  await writeKey(ws, "A.key");
  await writeKey(ws, "B.key");
  await Deno.writeTextFile(ws.path("f"), "mode");
  let r = await ws.run(["encrypt", "f", "-k", "local:A.key"]);
  assert.equal(r.code, 0, show(r));
  await Deno.chmod(ws.path("f.envl"), 0o600);
  r = await ws.run(["rewrap", "f.envl", "-k", "local:B.key", "-u", "local:A.key"]);
  assert.equal(r.code, 0, show(r));
  assert.equal((await Deno.stat(ws.path("f.envl"))).mode! & 0o777, 0o600, "rewrap widened the file's permissions");
});

Deno.test("cli: rewrap never leaves a file with no key, and adding a key already there changes nothing", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws, "A.key");
  await Deno.writeTextFile(ws.path("f"), "last key");
  let r = await ws.run(["encrypt", "f", "-k", "local:A.key"]);
  assert.equal(r.code, 0, show(r));
  const before = await Deno.readFile(ws.path("f.envl"));

  r = await ws.run(["rewrap", "f.envl", "--remove", `local:${a.keyId}`, "-u", "local:A.key"]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /^error: .*every wrapped key.*\[[A-Z_]+\]$/m, show(r));
  assert.match(r.stderr, /^hint: \S/m);
  assert.deepEqual(await Deno.readFile(ws.path("f.envl")), before);

  r = await ws.run(["rewrap", "f.envl", "-k", "local:A.key", "-u", "local:A.key"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ids((await split(ws, "f.envl")).info), [`local:${a.keyId}`], "the key list gained a duplicate");
  assert.ok(r.stdout.includes(a.keyId), r.stdout);
  assert.deepEqual(await leftovers(ws.dir), []);
});
