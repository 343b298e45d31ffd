/**
 * Everyday CLI work: several inputs and -r DIR (one output per file, a
 * summary, one file's failure not stopping the rest, one data-key cache per
 * run), `--json` with one shape, `-q` and `-v`, and the progress line.
 */
import assert from "node:assert/strict";
import { formatBytes, progressLine } from "../src/cli/output.ts";
import { cliArgv, cliEnv, pathExists, randomBytes, show, workspace } from "./support/cli.ts";
import { writeKey } from "./support/cli_asserts.ts";

interface Report {
  command: string;
  ok: boolean;
  files: { input: string; output: string; format: string; bytesIn: number; bytesOut: number; keys: unknown[] }[];
  failed: { input: string; code: string; message: string }[];
  bytesIn: number;
  bytesOut: number;
}

Deno.test("cli batch: encrypt a b c writes one output each; a missing input fails alone with exit 1", async () => {
  await using ws = await workspace();
  const key = await writeKey(ws.path("A.key"));
  const a = randomBytes(1000);
  const b = randomBytes(70_000);
  await Deno.writeFile(ws.path("a.bin"), a);
  await Deno.writeFile(ws.path("b.bin"), b);
  let r = await ws.run(["encrypt", "-k", "local:A.key", "a.bin", "missing.bin", "b.bin"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /\[\d\/3\] encrypted a\.bin to a\.bin\.envl/);
  assert.match(r.stdout, /\[\d\/3\] FAILED missing\.bin/);
  assert.match(r.stdout, /^encrypted 2 of 3 file\(s\), .* read, .* written; 1 failed/m);
  assert.match(r.stderr, /^error: .*missing\.bin.*\[IO_FAILED\]$/m);
  assert.ok(await pathExists(ws.path("a.bin.envl")) && await pathExists(ws.path("b.bin.envl")));
  assert.ok(!(await pathExists(ws.path("missing.bin.envl"))));

  await Deno.remove(ws.path("a.bin"));
  await Deno.remove(ws.path("b.bin"));
  r = await ws.run(["decrypt", "-k", "local:A.key", "a.bin.envl", "b.bin.envl", "--json"]);
  assert.equal(r.code, 0, show(r));
  const doc = JSON.parse(r.stdout) as Report;
  assert.equal(doc.command, "decrypt");
  assert.equal(doc.ok, true);
  assert.deepEqual(doc.files.map((f) => [f.input, f.output, f.bytesOut]), [
    ["a.bin.envl", "a.bin", 1000],
    ["b.bin.envl", "b.bin", 70_000],
  ]);
  assert.deepEqual(doc.files[0].keys, [{ provider: "local", keyId: key.keyId }], "the key that opened it");
  assert.equal(doc.bytesOut, 71_000);
  assert.deepEqual(await Deno.readFile(ws.path("a.bin")), a);
  assert.deepEqual(await Deno.readFile(ws.path("b.bin")), b);
});

Deno.test("cli batch: encrypt -r DIR keeps the tree (in place or under -o), skips links and its own outputs; decrypt -r restores it", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("tree/sub/deep"), { recursive: true });
  const files: Record<string, Uint8Array> = {
    "top.txt": new TextEncoder().encode("top"),
    "sub/x.bin": randomBytes(5000),
    "sub/deep/y": randomBytes(0),
  };
  for (const [p, data] of Object.entries(files)) await Deno.writeFile(ws.path(`tree/${p}`), data);
  await Deno.symlink("top.txt", ws.path("tree/link"));

  // Under -o OUTDIR, with another suffix.
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "-o", "sealed", "--suffix", ".enc"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /note: skipping 1 link/);
  for (const p of Object.keys(files)) assert.ok(await pathExists(ws.path(`sealed/${p}.enc`)), p);
  r = await ws.run(["decrypt", "-k", "local:A.key", "-r", "sealed", "-o", "opened", "--suffix", ".enc"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^decrypted 3 of 3 file\(s\)/m);
  for (const [p, data] of Object.entries(files)) assert.deepEqual(await Deno.readFile(ws.path(`opened/${p}`)), data);

  // In place: beside each file; a second run does not encrypt the outputs of the first.
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "--force", "--json"]);
  assert.equal(r.code, 0, show(r));
  const doc = JSON.parse(r.stdout) as Report;
  assert.deepEqual(doc.files.map((f) => f.input).sort(), ["tree/sub/deep/y", "tree/sub/x.bin", "tree/top.txt"]);

  // A folder without -r is refused with the way out.
  r = await ws.run(["encrypt", "-k", "local:A.key", "tree", "top"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /hint: use -r/);
});

Deno.test("cli batch: one data-key cache per run (one unwrap for many files under -v), and --no-key-cache turns it off", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const names = ["1", "2", "3", "4"];
  for (const n of names) await Deno.writeFile(ws.path(n), randomBytes(100));
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-v", "--jobs", "1", ...names]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr.match(/^detail: local \S+ wrap: wrapped/gm)?.length, 1, show(r));
  r = await ws.run(["decrypt", "-k", "local:A.key", "-v", "--jobs", "1", "--force", ...names.map((n) => n + ".envl")]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr.match(/^detail: local \S+ unwrap .*: opened/gm)?.length, 1, show(r));
  assert.equal(r.stderr.match(/^detail: \S+ opened with local:/gm)?.length, 4, show(r));
  r = await ws.run([
    "decrypt",
    "-k",
    "local:A.key",
    "-v",
    "--force",
    "--no-key-cache",
    ...names.map((n) => n + ".envl"),
  ]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr.match(/^detail: local \S+ unwrap .*: opened/gm)?.length, 4, show(r));
});

Deno.test("cli: -q prints nothing but errors; -q with -v is a usage error; --json with -o - goes to stderr", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("f"), "hello");
  let r = await ws.run(["encrypt", "-q", "-k", "local:A.key", "f"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout + r.stderr, "");
  r = await ws.run(["decrypt", "-q", "-k", "local:A.key", "f.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^error: .*\[OUTPUT_EXISTS\]$/m);
  r = await ws.run(["decrypt", "-q", "-v", "f.envl"]);
  assert.equal(r.code, 2, show(r));
  r = await ws.run(["decrypt", "--json", "-k", "local:A.key", "f.envl", "-o", "-"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "hello", "stdout holds the data alone");
  const doc = JSON.parse(r.stderr) as Report;
  assert.equal(doc.files[0].output, "-");
  assert.equal(doc.files[0].bytesOut, 5);
});

Deno.test("cli --json: inspect has keys[] for every format; keygen and key-id report ids; rewrap reports the keys after", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  let r = await ws.run(["keygen", "-o", "B.key", "--json"]);
  assert.equal(r.code, 0, show(r));
  const made = JSON.parse(r.stdout) as { keys: { provider: string; keyId: string }[] };
  assert.equal(made.keys[0].provider, "local");
  r = await ws.run(["key-id", "B.key", "--json"]);
  assert.deepEqual((JSON.parse(r.stdout) as { keys: unknown[] }).keys, [
    { provider: "local", keyId: made.keys[0].keyId, file: "B.key" },
  ]);
  await Deno.writeTextFile(ws.path("f"), "x");
  r = await ws.run(["encrypt", "-k", "local:A.key", "f", "--json"]);
  const enc = JSON.parse(r.stdout) as Report;
  assert.equal(enc.files[0].format, "envelope");
  r = await ws.run(["rewrap", "f.envl", "-k", "local:B.key", "-u", "local:A.key", "--json"]);
  assert.equal(r.code, 0, show(r));
  const rw = JSON.parse(r.stdout) as Report & { added: unknown[] };
  assert.equal(rw.files[0].keys.length, 2);
  assert.equal(rw.added.length, 1);
  assert.equal(rw.files[0].bytesOut - rw.files[0].bytesIn > 0, true, "the header grew by the new entry");
  assert.equal(rw.files[0].bytesOut, (await Deno.stat(ws.path("f.envl"))).size);
  r = await ws.run(["inspect", "f.envl", "--json"]);
  assert.equal((JSON.parse(r.stdout) as { keys: unknown[] }).keys.length, 2);
  // A Nitro-format file: the same keys[] (its one KMS blob).
  const blob = new TextEncoder().encode("arn:aws:kms:us-east-1:111122223333:key/12345678-1234-1234-1234-123456789012");
  const token = "gAAAAA" + "A".repeat(94);
  const nitro = new Uint8Array([0, 0, 0, blob.length, ...blob, ...new TextEncoder().encode(token)]);
  await Deno.writeFile(ws.path("app.zip.encrypted"), nitro);
  r = await ws.run(["inspect", "app.zip.encrypted", "--json"]);
  assert.equal(r.code, 0, show(r));
  const info = JSON.parse(r.stdout) as { format: string; keys: { provider: string; keyId: string }[] };
  assert.equal(info.format, "nitro-enclave");
  assert.deepEqual(info.keys.map((k) => [k.provider, k.keyId]), [["aws-kms", "12345678-1234-1234-1234-123456789012"]]);
});

Deno.test("cli --json: encrypt, decrypt, rewrap and cat share one shape: files, failed, skipped and the byte totals", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await writeKey(ws.path("B.key"));
  await Deno.writeTextFile(ws.path("f"), "x".repeat(300_000));
  const runs = [
    ["encrypt", "-k", "local:A.key", "f", "--json"],
    ["decrypt", "-k", "local:A.key", "f.envl", "-o", "g", "--json"],
    ["rewrap", "f.envl", "-k", "local:B.key", "-u", "local:A.key", "--json"],
    ["cat", "-k", "local:B.key", "f.envl", "--json"],
    ["cat", "-k", "local:B.key", "f.envl", "--range", "0-9", "--json"],
  ];
  const size = async () => (await Deno.stat(ws.path("f.envl"))).size;
  for (const args of runs) {
    const before = await size().catch(() => 0);
    const r = await ws.run(args);
    assert.equal(r.code, 0, show(r));
    // cat writes the plaintext on stdout, so its report goes to stderr.
    const doc = JSON.parse(args[0] === "cat" ? r.stderr.slice(r.stderr.indexOf("{")) : r.stdout) as Report & {
      skipped: unknown[];
      bytesIn: number;
      bytesOut: number;
    };
    assert.deepEqual(
      [doc.command, doc.ok, doc.files.length, doc.failed, doc.skipped],
      [args[0], true, 1, [], []],
      args.join(" "),
    );
    const f = doc.files[0];
    assert.deepEqual([doc.bytesIn, doc.bytesOut], [f.bytesIn, f.bytesOut], `${args.join(" ")}: totals are the sum`);
    assert.ok(f.keys.length >= 1, `${args.join(" ")} names its keys`);
    if (args[0] === "cat" && args.includes("--range")) {
      assert.equal(f.bytesOut, 10);
      assert.ok(f.bytesIn > 0 && f.bytesIn < before, `a range reads part of the message: ${f.bytesIn} of ${before}`);
    } else if (args[0] === "cat") {
      assert.deepEqual([f.bytesIn, f.bytesOut], [before, 300_000], "cat without --range reads the whole message");
    }
  }
});

Deno.test("cli progress line: done/total, percent, rate and ETA; bytes and rate when the total is unknown", () => {
  const mib = 1024 * 1024;
  const line = progressLine("encrypting", 50 * mib, 200 * mib, 2);
  assert.match(line, /^encrypting 50\.0 MiB \/ 200\.0 MiB \[#{6}-{18}\] {2}25% 25\.0 MiB\/s ETA 0:06$/);
  assert.equal(progressLine("decrypting", 3 * mib, undefined, 1), "decrypting 3.0 MiB 3.0 MiB/s");
  assert.match(progressLine("x", 10, 10, 0), /100% 0 B\/s$/, "no ETA before a rate is known");
});

Deno.test("cli batch: -r never writes through a link planted in the tree, even with --force", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("tree/sub"), { recursive: true });
  await Deno.writeTextFile(ws.path("victim"), "keep me");
  await Deno.writeTextFile(ws.path("tree/notes"), "hello");
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree"]);
  assert.equal(r.code, 0, show(r));
  // A link where the decrypted output goes: refused, the victim untouched, with or without --force.
  await Deno.remove(ws.path("tree/notes"));
  await Deno.symlink(ws.path("victim"), ws.path("tree/notes"));
  r = await ws.run(["decrypt", "-k", "local:A.key", "-r", "tree", "--force"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /symbolic link.*\[OUTPUT_UNSAFE\]/);
  assert.equal(await Deno.readTextFile(ws.path("victim")), "keep me");
  // A linked folder on the way to an output under -o DIR: refused too.
  await Deno.mkdir(ws.path("out"));
  await Deno.mkdir(ws.path("elsewhere"));
  await Deno.writeTextFile(ws.path("tree/sub/x"), "x");
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "-o", "sealed"]);
  await Deno.symlink(ws.path("elsewhere"), ws.path("out/sub"));
  r = await ws.run(["decrypt", "-k", "local:A.key", "-r", "sealed", "-o", "out"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /reached through a symbolic link \[OUTPUT_UNSAFE\]/);
  assert.deepEqual([...Deno.readDirSync(ws.path("elsewhere"))], []);
});

Deno.test("cli: a failing --json run prints one document with ok false; batch errors name their file; keygen -o - is refused; a cut header is TRUNCATED", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  let r = await ws.run(["decrypt", "missing.envl", "--json"]);
  assert.equal(r.code, 1, show(r));
  const doc = JSON.parse(r.stdout) as { command: string; ok: boolean; error: { code: string } };
  assert.deepEqual([doc.command, doc.ok, doc.error.code], ["decrypt", false, "IO_FAILED"]);
  await Deno.writeTextFile(ws.path("a"), "a");
  await Deno.writeTextFile(ws.path("b"), "b");
  r = await ws.run(["encrypt", "-k", "local:A.key", "a", "b"]);
  assert.equal(r.code, 0, show(r));
  await Deno.writeFile(ws.path("b.envl"), (await Deno.readFile(ws.path("b.envl"))).slice(0, 100));
  r = await ws.run(["decrypt", "a.envl", "b.envl", "--force"]);
  assert.equal(r.code, 1, show(r));
  assert.match(
    r.stderr,
    /^error: b\.envl: .*\[TRUNCATED\]$/m,
    "the cut header is TRUNCATED, and the line names the file",
  );
  r = await ws.run(["keygen", "-o", "-"]);
  assert.equal(r.code, 2, show(r));
  assert.ok(!(await pathExists(ws.path("-"))));
});

Deno.test("cli: decrypt -d of a message that holds a file says so; a folder without -r is a usage error; --jobs is checked on every run", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("f"), "just a file");
  let r = await ws.run(["encrypt", "-k", "local:A.key", "f"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "-k", "local:A.key", "-d", "out", "f.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /holds a file, not a folder \[FORMAT_UNKNOWN\]/);
  assert.match(r.stderr, /hint: drop -d/);
  await Deno.mkdir(ws.path("tree"));
  r = await ws.run(["decrypt", "tree"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /it is a folder/);
  r = await ws.run(["encrypt", "-k", "local:A.key", "f", "-o", "g.envl", "--jobs", "abc"]);
  assert.equal(r.code, 2, show(r));
  r = await ws.run(["inspect", "f.envl", "--json"]);
  const info = JSON.parse(r.stdout) as { command: string; ok: boolean; format: string };
  assert.deepEqual([info.command, info.ok, info.format], ["inspect", true, "envelope"]);
});

Deno.test("cli batch: --skip-existing leaves files whose output exists and encrypts what is new; it needs several inputs or -r", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("tree"));
  await Deno.writeTextFile(ws.path("tree/old"), "old");
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree"]);
  assert.equal(r.code, 0, show(r));
  const before = await Deno.readFile(ws.path("tree/old.envl"));
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree"]);
  assert.equal(r.code, 1, "without the flag the existing output is a failure");
  await Deno.writeTextFile(ws.path("tree/new"), "new");
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "--skip-existing", "--json"]);
  assert.equal(r.code, 0, show(r));
  const doc = JSON.parse(r.stdout) as Report & { skipped: { input: string }[] };
  assert.deepEqual(doc.files.map((f) => f.input), ["tree/new"]);
  assert.deepEqual(doc.skipped.map((s) => s.input), ["tree/old"]);
  assert.deepEqual(await Deno.readFile(ws.path("tree/old.envl")), before, "the existing output is untouched");
  r = await ws.run(["encrypt", "-k", "local:A.key", "tree/new", "--skip-existing"]);
  assert.equal(r.code, 2, show(r));
});

Deno.test("runAll: weighted jobs start in order and never take more than their slots (16 small at once, a large one 4)", async () => {
  const { runAll } = await import("../src/cli/batch.ts");
  const { Tally } = await import("../src/cli/batch_tally.ts");
  // Sizes: small (1 slot) and large (4 slots) mixed; each job waits a moment so that several overlap.
  const items = Array.from({ length: 60 }, (_, i) => ({ name: `f${i}`, large: i % 7 === 3 }));
  let used = 0;
  let most = 0;
  let largeAtOnce = 0;
  let mostLarge = 0;
  const started: string[] = [];
  const tally = await runAll(items, {
    total: items.length,
    jobs: 16,
    name: (t) => t.name,
    work: async (t) => {
      started.push(t.name);
      used += t.large ? 4 : 1;
      largeAtOnce += t.large ? 1 : 0;
      most = Math.max(most, used);
      mostLarge = Math.max(mostLarge, largeAtOnce);
      await new Promise((resolve) => setTimeout(resolve, t.large ? 8 : 2));
      used -= t.large ? 4 : 1;
      largeAtOnce -= t.large ? 1 : 0;
      if (t.name === "f10") throw new Error("one failure does not stop the rest");
      return { input: t.name, output: t.name, format: "envelope", bytesIn: 0, bytesOut: 0, keys: [] };
    },
    verb: "encrypted",
    cost: (t) => (t.large ? 4 : 1),
    // Listing, as with --json: the entries come back in input order.
    tally: new Tally(true),
  });
  const result = tally.document("encrypt");
  assert.deepEqual(started, items.map((t) => t.name), "started in input order");
  assert.ok(most <= 16, `${most} slots in use at once`);
  assert.ok(most > 4, `${most} slots in use at once: small files ran more than four at a time`);
  assert.ok(mostLarge <= 4, `${mostLarge} large files at once`);
  assert.equal(result.files.length, 59);
  assert.deepEqual([tally.done, tally.failed], [59, 1]);
  assert.deepEqual(result.failed.map((f) => f.input), ["f10"]);
  assert.deepEqual(
    result.files.map((o) => o.input),
    items.map((t) => t.name).filter((n) => n !== "f10"),
    "in input order",
  );
});

Deno.test("cli batch --json: files, failed and skipped listed in input order, the document's keys as before", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  // Sizes from a few bytes to 2 MiB, so files run at once and end out of order.
  const names = Array.from({ length: 24 }, (_, i) => `f${String(i).padStart(2, "0")}`).concat(["sub/x", "sub.y"]);
  await Deno.mkdir(ws.path("tree/sub"), { recursive: true });
  for (const [i, n] of names.entries()) {
    await Deno.writeFile(ws.path(`tree/${n}`), randomBytes(i % 5 === 0 ? 2 * 1024 * 1024 - i : 100 * i + 1));
  }
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "-o", "sealed"]);
  assert.equal(r.code, 0, show(r));
  // One input cut short (fails), one output there already (skipped).
  await Deno.writeFile(ws.path("sealed/f05.envl"), (await Deno.readFile(ws.path("sealed/f05.envl"))).slice(0, 60));
  await Deno.mkdir(ws.path("back"));
  await Deno.writeTextFile(ws.path("back/f10"), "there already");
  r = await ws.run(["decrypt", "-k", "local:A.key", "-r", "sealed", "-o", "back", "--skip-existing", "--json"]);
  assert.equal(r.code, 1, show(r));
  const doc = JSON.parse(r.stdout) as Report & { skipped: { input: string; output: string }[] };
  assert.deepEqual(Object.keys(doc), ["command", "ok", "files", "failed", "skipped", "bytesIn", "bytesOut"]);
  assert.deepEqual([doc.command, doc.ok], ["decrypt", false]);
  const sorted = [...names].sort();
  assert.deepEqual(
    doc.files.map((f) => [f.input, f.output]),
    sorted.filter((n) => n !== "f05" && n !== "f10").map((n) => [`sealed/${n}.envl`, `back/${n}`]),
    "in input order, whatever order they ended in",
  );
  for (const f of doc.files) {
    assert.deepEqual(Object.keys(f), ["input", "output", "format", "bytesIn", "bytesOut", "keys"]);
    assert.equal(f.bytesOut, (await Deno.stat(ws.path(`tree/${f.output.slice("back/".length)}`))).size);
  }
  assert.deepEqual(doc.failed.map((f) => [Object.keys(f), f.input, f.code]), [
    [["input", "code", "message"], "sealed/f05.envl", "TRUNCATED"],
  ]);
  assert.deepEqual(doc.skipped, [{ input: "sealed/f10.envl", output: "back/f10" }]);
  assert.equal(doc.bytesIn, doc.files.reduce((n, f) => n + f.bytesIn, 0));
  assert.equal(doc.bytesOut, doc.files.reduce((n, f) => n + f.bytesOut, 0));
  assert.equal(await Deno.readTextFile(ws.path("back/f10")), "there already");
});

Deno.test("cli batch: the summary line and [i/N] as before: done of total, bytes, skipped and failed", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeFile(ws.path("a"), randomBytes(1000));
  await Deno.writeFile(ws.path("b"), randomBytes(3000));
  await Deno.writeTextFile(ws.path("b.envl"), "there already");
  let r = await ws.run(["encrypt", "-k", "local:A.key", "a", "missing", "b", "--skip-existing"]);
  assert.equal(r.code, 1, show(r));
  const a = (await Deno.stat(ws.path("a.envl"))).size;
  const lines = r.stdout.trimEnd().split("\n");
  // The counter counts the files that run (a skipped one is not among them), in the order they end.
  assert.deepEqual(lines.slice(0, 2).map((l) => l.slice(0, 6)), ["[1/2] ", "[2/2] "], show(r));
  assert.deepEqual(lines.slice(0, 2).map((l) => l.slice(6)).sort(), ["FAILED missing", "encrypted a to a.envl"]);
  assert.equal(
    lines[2],
    `encrypted 1 of 2 file(s), 1000 B read, ${formatBytes(a)} written; 1 skipped, their outputs exist; ` +
      "1 failed (see the error lines above)",
  );
  assert.equal(lines.length, 3, show(r));

  await Deno.mkdir(ws.path("tree/d"), { recursive: true });
  await Deno.writeFile(ws.path("tree/d/x"), randomBytes(2 * 1024 * 1024));
  await Deno.writeFile(ws.path("tree/y"), randomBytes(10));
  r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree"]);
  assert.equal(r.code, 0, show(r));
  const out = (await Deno.stat(ws.path("tree/d/x.envl"))).size + (await Deno.stat(ws.path("tree/y.envl"))).size;
  assert.equal(
    r.stdout.trimEnd().split("\n").at(-1),
    `encrypted 2 of 2 file(s), ${formatBytes(2 * 1024 * 1024 + 10)} read, ${formatBytes(out)} written`,
  );
});

Deno.test("cli batch: -o DIR inside the walked tree: what the run writes there is never taken as an input", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("tree/a"), { recursive: true });
  for (let i = 0; i < 200; i++) await Deno.writeFile(ws.path(`tree/a/${i}`), randomBytes(3000));
  // tree/sealed is there before the run (a run before this one made it), so the walk enters it after tree/a: by then
  // it holds outputs and the temporary files of the writes in flight.
  await Deno.mkdir(ws.path("tree/sealed"));
  let r = await ws.run(["encrypt", "-k", "local:A.key", "-r", "tree", "-o", "tree/sealed"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^encrypted 200 of 200 file\(s\)/m, show(r));
  assert.doesNotMatch(r.stdout, /\[\d+\/200\] \S+ tree\/sealed/, show(r));
  r = await ws.run(["decrypt", "-k", "local:A.key", "-r", "tree/sealed", "-o", "tree/sealed/back"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^decrypted 200 of 200 file\(s\)/m, show(r));
});

Deno.test("cli batch: decrypt -r whose key fails to load closes each input (no 'Too many open files' under ulimit -n 96)", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("d"));
  const files = 200;
  for (let i = 0; i < files; i++) await Deno.writeTextFile(ws.path("d", `f${i}`), `file ${i}\n`);
  const sealed = await ws.run(["encrypt", "-q", "-r", "-k", "local:A.key", "d"]);
  assert.equal(sealed.code, 0, show(sealed));
  // Every file fails at its keys, after its input was opened: 200 inputs left open would pass the limit of 96.
  const { code, stderr, errors } = await underFdLimit(ws, ["decrypt", "-r", "-k", "local:missing.key", "d"]);
  assert.equal(code, 1, stderr.slice(0, 2000));
  assert.equal(errors.length, files, stderr.slice(0, 2000));
  assert.deepEqual(errors.filter((l) => /Too many open files/.test(l)), [], "no input is left open");
  assert.ok(errors.every((l) => l.includes("missing.key")), stderr.slice(0, 2000));
});

Deno.test("cli batch: decrypt -r DIR -o DIR/sub leaves the output folder out of the walk (its outputs are never inputs)", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.mkdir(ws.path("t", "plain"), { recursive: true });
  // Files encrypted twice: their outputs end in the suffix, as decrypt's inputs do.
  for (const n of ["a1", "a2", "a3"]) {
    await Deno.writeTextFile(ws.path("t", n), n);
    for (const s of ["", ".envl"]) {
      const r = await ws.run(["encrypt", "-q", "-k", "local:A.key", `t/${n}${s}`]);
      assert.equal(r.code, 0, show(r));
    }
    await Deno.remove(ws.path("t", n));
    await Deno.remove(ws.path("t", `${n}.envl`));
  }
  const r = await ws.run(["decrypt", "-r", "-k", "local:A.key", "t", "-o", "t/plain", "--jobs", "1"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /decrypted 3 of 3 file\(s\)/, show(r));
  assert.match(r.stderr, /leaving out t\/plain under t: it is where the outputs go/, show(r));
  assert.equal(await pathExists(ws.path("t", "plain", "plain")), false, "an output was taken as an input");
  for (const n of ["a1", "a2", "a3"]) assert.ok(await pathExists(ws.path("t", "plain", `${n}.envl`)), n);
});

Deno.test("cli batch: decrypt -r of Nitro files refused before they are read (-c) closes each input under ulimit -n 96", async () => {
  await using ws = await workspace();
  await Deno.mkdir(ws.path("d"));
  const files = 200;
  // Larger than the first look at a file, so each input is still open when -c refuses it.
  const blob = new TextEncoder().encode("arn:aws:kms:us-east-1:111122223333:key/12345678-1234-1234-1234-123456789012");
  const nitro = new Uint8Array([
    0,
    0,
    0,
    blob.length,
    ...blob,
    ...new TextEncoder().encode("gAAAAA" + "A".repeat(100_000)),
  ]);
  for (let i = 0; i < files; i++) await Deno.writeFile(ws.path("d", `f${i}.encrypted`), nitro);
  const { code, stderr, errors } = await underFdLimit(ws, [
    "decrypt",
    "-r",
    "--suffix",
    ".encrypted",
    "-c",
    "a=b",
    "d",
  ]);
  assert.equal(code, 1, stderr.slice(0, 2000));
  assert.equal(errors.length, files, stderr.slice(0, 2000));
  assert.ok(
    errors.every((l) => l.endsWith("[CONTEXT_MISMATCH]")),
    errors.find((l) => !l.endsWith("[CONTEXT_MISMATCH]")),
  );
});

/** Runs the CLI in `ws` with at most 96 open files (bash's ulimit), for tests of descriptors left open per file. */
async function underFdLimit(
  ws: { dir: string; home: string },
  args: string[],
): Promise<{ code: number; stderr: string; errors: string[] }> {
  const out = await new Deno.Command("bash", {
    args: ["-c", 'ulimit -n 96 && exec "$0" "$@"', Deno.execPath(), ...cliArgv(args)],
    cwd: ws.dir,
    clearEnv: true,
    env: await cliEnv(ws.home),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, stderr, errors: stderr.split("\n").filter((l) => l.startsWith("error: ")) };
}

Deno.test("cli batch: a walked file swapped for a link or a FIFO at its turn is refused; the rest go on", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  await Deno.mkdir(ws.path("shared"));
  await Deno.mkdir(ws.path("secret"));
  await Deno.writeTextFile(ws.path("secret", "s.txt"), "TOP SECRET");
  for (const n of ["a", "b", "c"]) await Deno.writeTextFile(ws.path("shared", n), n);
  // The tree is counted; then, before b's turn, b is a link out of the tree and c a FIFO. checkTreeInput runs at each
  // file's turn, so swapping before the run starts reaches the same check.
  const { planFiles } = await import("../src/cli/batch.ts");
  const plan = await planFiles([ws.path("shared")], true, undefined, {
    command: "encrypt",
    keep: () => true,
    outputRel: (rel) => rel + ".envl",
    outputOf: (i) => i + ".envl",
    folderHint: "",
  });
  assert.equal(plan.total, 3);
  await Deno.remove(ws.path("shared", "b"));
  await Deno.symlink(ws.path("secret", "s.txt"), ws.path("shared", "b"));
  await Deno.remove(ws.path("shared", "c"));
  assert.equal((await new Deno.Command("mkfifo", { args: [ws.path("shared", "c")] }).output()).code, 0);
  const { checkTreeInput } = await import("../src/cli/batch.ts");
  await assert.rejects(checkTreeInput(ws.path("shared", "b"), ws.path("shared")), /now a symbolic link/);
  await assert.rejects(checkTreeInput(ws.path("shared", "c"), ws.path("shared")), /no longer a regular file/);
  // And through the CLI, the walk never lists them (links and special files are skipped), so nothing leaks or hangs.
  const r = await ws.run(["encrypt", "-r", "-k", "local:k.key", "shared"], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
  assert.ok(!(await pathExists(ws.path("shared", "b.envl"))));
});

Deno.test("cli batch: an input whose output cannot be named, -o -, or -o naming a file fail before anything is written", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  for (const n of ["a", "c"]) await Deno.writeTextFile(ws.path(n), n);
  assert.equal((await ws.run(["encrypt", "-k", "local:k.key", "a", "c"])).code, 0);
  await Deno.writeTextFile(ws.path("b.txt"), "b");
  let r = await ws.run(["decrypt", "--jobs", "1", "-k", "local:k.key", "a.envl", "b.txt", "c.envl", "-o", "out"]);
  assert.equal(r.code, 2, show(r));
  r = await ws.run(["decrypt", "--jobs", "1", "--force", "-k", "local:k.key", "a.envl", "b.txt", "c.envl"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /b\.txt/);
  assert.equal(await Deno.readTextFile(ws.path("a")), "a", "a was rewritten before the usage error");
  await Deno.mkdir(ws.path("t"));
  await Deno.writeTextFile(ws.path("t", "one"), "1");
  r = await ws.run(["encrypt", "-r", "-k", "local:k.key", "t", "-o", "-"]);
  assert.equal(r.code, 2, show(r));
  assert.ok(!(await pathExists(ws.path("-"))));
  await Deno.writeTextFile(ws.path("p"), "a file");
  r = await ws.run(["encrypt", "-r", "-k", "local:k.key", "t", "-o", "p"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /p failed: it is not a folder \[IO_FAILED\]/);
});

Deno.test("cli batch: overlapping folders are refused; an output that is another input of the run is not replaced, even with --force", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  await Deno.mkdir(ws.path("d", "sub"), { recursive: true });
  await Deno.writeTextFile(ws.path("d", "sub", "a"), "a");
  let r = await ws.run(["encrypt", "-r", "--force", "-k", "local:k.key", "d", "d/sub"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /d\/sub is inside d/);
  assert.ok(!(await pathExists(ws.path("d", "sub", "a.envl"))), "nothing was written");
  r = await ws.run(["encrypt", "-r", "-k", "local:k.key", "d", "./d"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /the same folder as/);

  // decrypt -r of a folder holding x.envl and x.envl.envl: x.envl.envl's output is x.envl, an input of the run.
  await Deno.mkdir(ws.path("t"));
  await Deno.writeTextFile(ws.path("t", "x"), "inner");
  assert.equal((await ws.run(["encrypt", "-k", "local:k.key", "t/x"])).code, 0);
  assert.equal((await ws.run(["encrypt", "-k", "local:k.key", "t/x.envl"])).code, 0);
  await Deno.remove(ws.path("t", "x"));
  const before = await Deno.readFile(ws.path("t", "x.envl"));
  r = await ws.run(["decrypt", "-r", "--force", "-k", "local:k.key", "t"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /another input of this run.*\[OUTPUT_EXISTS\]/);
  assert.equal(await Deno.readTextFile(ws.path("t", "x")), "inner", "x.envl itself was decrypted");
  assert.deepEqual(await Deno.readFile(ws.path("t", "x.envl")), before, "x.envl was replaced");
});
