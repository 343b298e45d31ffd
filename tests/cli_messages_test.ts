/**
 * Messages that lead somewhere: what the CLI prints for a tampered header, a
 * key that opens nothing, a truncated file, a file in no envelope format and
 * an output folder that does not exist. Each failure says what happened once,
 * with its own code, and a next step that fits the command that ran.
 */
import assert from "node:assert/strict";
import { EnvelopeError } from "../src/errors.ts";
import { parseHeader } from "../src/format/header.ts";
import { withCommandFlags } from "../src/cli/key_hints.ts";
import { type CliResult, show, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, writeKey } from "./support/cli_asserts.ts";

const errorLine = (r: CliResult) => r.stderr.split("\n").find((l) => l.startsWith("error: ")) ?? "";
const hintLine = (r: CliResult) => r.stderr.split("\n").find((l) => l.startsWith("hint: ")) ?? "";

Deno.test("cli: a changed context or wrapped key is a modified header (HEADER_AUTH_FAILED), said once, with restore as the next step", async () => {
  await using ws = await workspace();
  const key = await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("plain"), "hello");
  assertOk(await ws.run(["encrypt", "plain", "-k", "local:A.key", "-c", "app=x", "-o", "f.envl"]));
  const sealed = await Deno.readFile(ws.path("f.envl"));
  const h = parseHeader(sealed);
  const contextValue = 46 + 2 + 2 + 3 + 2; // the "x" of app=x
  for (
    const [what, at] of [["context", contextValue], ["wrapped key", h.length - 20], [
      "header tag",
      h.core.length,
    ]] as const
  ) {
    const m = sealed.slice();
    m[at] ^= 0x01;
    await Deno.writeFile(ws.path("t.envl"), m);
    const r = await ws.run(["decrypt", "t.envl", "-k", "local:A.key", "-o", "out"]);
    assertFailed(r, "HEADER_AUTH_FAILED");
    assert.ok(errorLine(r).split(key.keyId).length <= 2, `${what}: the key is named at most once\n${show(r)}`);
    assert.doesNotMatch(errorLine(r), /failed: .* failed: /, `${what}: one failure, said once\n${show(r)}`);
    assert.match(hintLine(r), /restore the file from a trusted copy/, what);
    assert.doesNotMatch(hintLine(r), /--data-key|pass /, what);
  }
});

Deno.test("cli: a key that opens nothing gets a hint with the flags of the command that ran: -u for rewrap, -k/-i/--data-key for decrypt", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await writeKey(ws.path("B.key"));
  await Deno.writeTextFile(ws.path("plain"), "hello");
  assertOk(await ws.run(["encrypt", "plain", "-k", "local:A.key", "-o", "f.envl"]));
  let r = await ws.run(["rewrap", "f.envl", "-u", "local:B.key", "-k", "local:B.key"]);
  assertFailed(r, "NO_KEY_MATCHED");
  assert.match(hintLine(r), /pass a key that opens one of them with -u KEY or -i IDENTITY-FILE$/, show(r));
  assert.doesNotMatch(hintLine(r), /--data-key/);
  // No -u and no default key: nothing to unwrap with at all.
  r = await ws.run(["rewrap", "f.envl", "-k", "local:B.key"]);
  assertFailed(r, "NO_KEY_MATCHED");
  assert.match(hintLine(r), /pass a key that opens one of them with -u KEY or -i IDENTITY-FILE$/, show(r));
  r = await ws.run(["decrypt", "f.envl", "-k", "local:B.key", "-o", "out"]);
  assertFailed(r, "NO_KEY_MATCHED");
  assert.match(hintLine(r), /with -k KEY, -i IDENTITY-FILE or --data-key B64$/, show(r));
});

Deno.test("cli: the KEY_LIMIT hint names the command's key flag and --max-attempts; other errors pass unchanged", () => {
  const limit = new EnvelopeError("KEY_LIMIT", "Unwrapping the data key failed: 8 wrapped keys were tried", {
    hint:
      "the file may hold entries planted to steer your KMS calls; pass the key that wrapped it, or raise the cap (maxAttempts) if you trust the file",
  });
  const out = withCommandFlags(limit, "rewrap") as EnvelopeError;
  assert.equal(out.code, "KEY_LIMIT");
  assert.equal(out.message, limit.message);
  assert.match(
    out.hint!,
    /pass the key that wrapped it with -u KEY or -i IDENTITY-FILE, or raise the cap \(--max-attempts N\)/,
  );
  const other = new EnvelopeError("PAYLOAD_AUTH_FAILED", "Decrypting chunk 0 failed", { hint: "restore it" });
  assert.equal(withCommandFlags(other, "decrypt"), other);
  assert.equal(withCommandFlags(limit, "inspect"), limit);
});

Deno.test("cli: a file cut anywhere says so: TRUNCATED in the header, at a chunk boundary, inside the signature; a cut final chunk may be cut short", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeFile(ws.path("plain"), new Uint8Array(300).fill(7));
  const says = /truncated|cut short|ends|empty/i;
  for (const sign of [false, true]) {
    const args = ["encrypt", "plain", "-k", "local:A.key", "--chunk-size", "64", "-o", "f.envl", "--force"];
    assertOk(await ws.run(sign ? [...args, "--sign"] : args));
    const sealed = await Deno.readFile(ws.path("f.envl"));
    const h = parseHeader(sealed).length;
    const cuts: [string, number, string][] = [
      ["empty", 0, "TRUNCATED"],
      ["inside the magic", 5, "TRUNCATED"],
      ["inside the header", h - 3, "TRUNCATED"],
      ["after the header", h, "TRUNCATED"],
      ["at a chunk boundary", h + 2 * 80, "TRUNCATED"],
      ...(sign
        ? [["without the signature", sealed.length - 64, "TRUNCATED"], [
          "inside the signature",
          sealed.length - 10,
          "TRUNCATED",
        ]] as [string, number, string][]
        : [["inside the final chunk", sealed.length - 5, "PAYLOAD_AUTH_FAILED"]] as [string, number, string][]),
    ];
    for (const [where, n, code] of cuts) {
      await Deno.writeFile(ws.path("cut.envl"), sealed.subarray(0, n));
      const r = await ws.run(["decrypt", "cut.envl", "-k", "local:A.key", "-o", "out"]);
      assertFailed(r, code);
      assert.match(errorLine(r), says, `${sign ? "signed, " : ""}${where}\n${show(r)}`);
      if (code === "PAYLOAD_AUTH_FAILED") assert.match(hintLine(r), /check that the file is complete/, show(r));
    }
  }
  // The commands that read only envelope files say the same of a file cut inside the magic.
  await Deno.writeFile(ws.path("cut.envl"), new Uint8Array([0x89, 0x45, 0x4e]));
  for (
    const args of [["cat", "cut.envl"], ["cat", "cut.envl", "--range", "0-1"], [
      "rewrap",
      "cut.envl",
      "-k",
      "local:A.key",
    ]]
  ) {
    const r = await ws.run(args);
    assertFailed(r, "TRUNCATED");
    assert.match(errorLine(r), /ends inside the envelope magic \(3 of its 8 bytes\)/, show(r));
  }
});

Deno.test("cli: inspect of a file in no envelope format says inspecting failed, and what the file seems to be", async () => {
  await using ws = await workspace();
  const te = new TextEncoder();
  const files: [string, Uint8Array, string, RegExp][] = [
    [
      "x.age",
      te.encode("age-encryption.org/v1\n-> X25519 c29tZQ\nAAAA\n--- AAAA\n"),
      "FORMAT_UNKNOWN",
      /it is an age file/,
    ],
    [
      "x.zip",
      new Uint8Array([0x50, 0x4b, 3, 4, 20, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]),
      "FORMAT_UNKNOWN",
      /it is a zip archive/,
    ],
    ["notes.txt", te.encode("just some notes\n"), "FORMAT_UNKNOWN", /it is plain text/],
    ["empty", new Uint8Array(0), "TRUNCATED", /it is empty/],
    ["cut", new Uint8Array([0x89, 0x45, 0x4e, 0x56]), "TRUNCATED", /ends inside the envelope magic/],
    // Copied in text mode: CR LF became LF inside the magic.
    [
      "crlf.envl",
      new Uint8Array([0x89, 0x45, 0x4e, 0x56, 0x0a, 0x1a, 0x0a, 1, 1, 0, 0, 0, 64]),
      "FORMAT_UNKNOWN",
      /nearly the envelope magic: the file was changed/,
    ],
  ];
  for (const [name, bytes, code, what] of files) {
    await Deno.writeFile(ws.path(name), bytes);
    const r = await ws.run(["inspect", name]);
    assertFailed(r, code);
    assert.match(errorLine(r), new RegExp(`^error: Inspecting ${name} failed: `), show(r));
    assert.match(errorLine(r), what, show(r));
    assert.doesNotMatch(r.stderr, /Decrypting/, show(r));
    const d = await ws.run(["decrypt", name, "-o", "out"]);
    assertFailed(d, code);
    assert.match(errorLine(d), new RegExp(`^error: Decrypting ${name} failed: .*`), show(d));
    assert.match(errorLine(d), what, show(d));
    if (name === "notes.txt") {
      // Plain text is most likely a file not encrypted yet: the hint leads with that, not with a foreign format.
      assert.match(r.stderr, /^hint: it is not encrypted: `envelope encrypt` encrypts it/m, show(r));
    }
  }
});

Deno.test("cli: an output whose folder does not exist names that folder and the flag to change, for every command that writes", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("plain"), "hello");
  await Deno.mkdir(ws.path("tree"));
  await Deno.writeTextFile(ws.path("tree", "a.txt"), "a");
  assertOk(await ws.run(["encrypt", "plain", "-k", "local:A.key", "-o", "f.envl"]));
  assertOk(await ws.run(["encrypt", "-d", "tree", "-k", "local:A.key", "-o", "tree.zip.envl"]));
  const runs: [string[], string, string][] = [
    [["encrypt", "plain", "-k", "local:A.key", "-o", "no/such/f.envl"], "no/such", "-o"],
    [["encrypt", "-d", "tree", "-k", "local:A.key", "-o", "no/t.envl"], "no", "-o"],
    [["decrypt", "f.envl", "-k", "local:A.key", "-o", "no/plain"], "no", "-o"],
    [["decrypt", "tree.zip.envl", "-k", "local:A.key", "-d", "no/tree"], "no", "-d"],
    [["keygen", "-o", "no/k.key"], "no", "-o"],
    [["keygen", "--age", "-o", "my keys/id.txt"], "my keys", "-o"],
    [["rewrap", "f.envl", "-u", "local:A.key", "-k", "local:A.key", "-o", "no/r.envl"], "no", "-o"],
    [["extract-key", "f.envl", "-o", "no/e"], "no", "-o"],
    [["data-key", "f.envl", "-k", "local:A.key", "-o", "no/dk"], "no", "-o"],
  ];
  for (const [args, folder, flag] of runs) {
    const r = await ws.run(args);
    assertFailed(r, "IO_FAILED");
    assert.match(errorLine(r), new RegExp(`failed: the folder ${folder} does not exist \\[IO_FAILED\\]$`), show(r));
    const quoted = folder.includes(" ") ? `'${folder}'` : folder;
    assert.equal(hintLine(r), `hint: create it (mkdir -p ${quoted}) or choose another ${flag}`, show(r));
  }
  for (const gone of ["no", "my keys"]) {
    await assert.rejects(Deno.stat(ws.path(gone)), Deno.errors.NotFound, `${gone} was created`);
  }
});

Deno.test("cli: cat takes no -r (recursive elsewhere) and says --range is how to read bytes; -- keeps a file named -r", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeFile(ws.path("f"), new TextEncoder().encode("0123456789"));
  assertOk(await ws.run(["encrypt", "f", "-k", "local:A.key"]));
  const r = await ws.run(["cat", "-r", "0-3", "f.envl", "-k", "local:A.key"]);
  assertFailed(r, "USAGE", 2);
  assert.match(errorLine(r), /cat takes no -r/, show(r));
  assert.match(hintLine(r), /--range START-END/, show(r));
  const ranged = await ws.run(["cat", "--range", "2-4", "f.envl", "-k", "local:A.key"]);
  assertOk(ranged);
  assert.equal(ranged.stdout, "234");
  // After --, "-r" is a file name, not the refused flag: cat looks for that file.
  await Deno.copyFile(ws.path("f.envl"), ws.path("-r"));
  const named = await ws.run(["cat", "-k", "local:A.key", "--", "-r"]);
  assertOk(named);
  assert.equal(named.stdout, "0123456789");
});
