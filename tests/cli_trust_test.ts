/**
 * The trust findings through the CLI (issue 15): `encrypt --sign` and
 * `decrypt --require-signed`, a rewrap that a planted entry cannot turn into
 * data loss, and the usage errors of the trust flags.
 */
import assert from "node:assert/strict";
import { encrypt, LocalKey } from "../mod.ts";
import { loadLocalKeyFile } from "../src/keys/local_file.ts";
import { encodeHeader, parseHeader } from "../src/format/header.ts";
import { concatBytes, prng } from "./support/envelope_harness.ts";
import { leftovers, pathExists, show, workspace } from "./support/cli.ts";

const te = new TextEncoder();

async function sha(b: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>)))
    .map((x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("cli: encrypt --sign writes a signed message; decrypt --require-signed takes it and refuses an unsigned one", async () => {
  await using ws = await workspace();
  await Deno.writeFile(ws.path("a.txt"), te.encode("signed text"));
  assert.equal((await ws.run(["keygen", "-o", "k"])).code, 0);
  let r = await ws.run(["encrypt", "a.txt", "-k", "local:k", "--sign", "-o", "s.envl"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["inspect", "s.envl", "--json"]);
  assert.equal(JSON.parse(r.stdout).signed, true, show(r));
  r = await ws.run(["decrypt", "s.envl", "-k", "local:k", "--require-signed", "-o", "s.txt"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(await Deno.readTextFile(ws.path("s.txt")), "signed text");

  r = await ws.run(["encrypt", "a.txt", "-k", "local:k", "-o", "u.envl"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "u.envl", "-k", "local:k", "--require-signed", "-o", "u.txt"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[SIGNATURE_REQUIRED\]/);
  assert.equal(await pathExists(ws.path("u.txt")), false);

  // A signature that fails leaves no output file, though every chunk verified.
  const bad = await Deno.readFile(ws.path("s.envl"));
  bad[bad.length - 3] ^= 1;
  await Deno.writeFile(ws.path("bad.envl"), bad);
  r = await ws.run(["decrypt", "bad.envl", "-k", "local:k", "-o", "bad.txt"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[SIGNATURE_INVALID\]/);
  assert.equal(await pathExists(ws.path("bad.txt")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
  r = await ws.run(["encrypt", "a.txt", "--format", "nitro", "--sign", "-o", "n"]);
  assert.equal(r.code, 2, show(r));
});

Deno.test("cli: rewrap --replace of a file with a planted first entry leaves a file the new key opens, or refuses and changes nothing", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k"])).code, 0);
  assert.equal((await ws.run(["keygen", "-o", "k2"])).code, 0);
  const k = await loadLocalKeyFile(ws.path("k"));
  const data = prng(8).bytes(100_000);
  const sealed = await encrypt(data, { keys: k, context: { app: "x" } });
  // Whoever can write the file and wrap under k (or just copy an entry from another file) plants a bogus entry first.
  const bogus = await k.wrap(prng(9).bytes(32), { app: "x" });
  const h = parseHeader(sealed);
  const poisoned = concatBytes([encodeHeader(h.core, h.headerTag, [bogus, ...h.keys]), sealed.subarray(h.length)]);
  await Deno.writeFile(ws.path("p.envl"), poisoned);
  let r = await ws.run(["rewrap", "p.envl", "-u", "local:k", "-k", "local:k2", "--replace"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "p.envl", "-k", "local:k2", "-o", "p.bin"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await Deno.readFile(ws.path("p.bin")), data);

  // Only a bogus entry: the rewrap fails, and the file is byte for byte what it was.
  const onlyBogus = concatBytes([encodeHeader(h.core, h.headerTag, [bogus]), sealed.subarray(h.length)]);
  await Deno.writeFile(ws.path("b.envl"), onlyBogus);
  const before = await sha(onlyBogus);
  r = await ws.run(["rewrap", "b.envl", "-u", "local:k", "-k", "local:k2", "--replace"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[KEY_COMMITMENT_MISMATCH\]/);
  assert.equal(await sha(await Deno.readFile(ws.path("b.envl"))), before);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: --max-attempts caps the keys a planted key list makes decrypt try, and bad values are usage errors", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k"])).code, 0);
  const k = await loadLocalKeyFile(ws.path("k"));
  const sealed = await encrypt(te.encode("x"), { keys: k });
  const h = parseHeader(sealed);
  // Entries that name the same local key but open to other data keys: each costs an attempt.
  const planted = await Promise.all(Array.from({ length: 5 }, (_, i) => k.wrap(prng(i).bytes(32), {})));
  const steered = concatBytes([encodeHeader(h.core, h.headerTag, [...planted, ...h.keys]), sealed.subarray(h.length)]);
  await Deno.writeFile(ws.path("s.envl"), steered);
  let r = await ws.run(["decrypt", "s.envl", "-k", "local:k", "--max-attempts", "3", "-o", "-"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[KEY_LIMIT\]/);
  r = await ws.run(["decrypt", "s.envl", "-k", "local:k", "-o", "-"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "x");
  for (const bad of ["0", "x", "-1", "5000"]) {
    r = await ws.run(["decrypt", "s.envl", "-k", "local:k", "--max-attempts", bad, "-o", "-"]);
    assert.equal(r.code, 2, `--max-attempts ${bad}: ${show(r)}`);
  }
  r = await ws.run(["decrypt", "s.envl", "--aws-account", "12345", "-o", "-"]);
  assert.equal(r.code, 2, show(r));
  r = await ws.run(["decrypt", "s.envl", "-k", "local:k", "-o", "-"], { env: { ENVELOPE_MAX_ATTEMPTS: "2" } });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[KEY_LIMIT\]/);
  void LocalKey;
});
