/** `envelope`, `envelope help` and `envelope help CMD`: help on stdout, exit 0 (issue 13). */
import assert from "node:assert/strict";
import { show, workspace } from "./support/cli.ts";

Deno.test("cli: envelope alone and envelope help print the overview and exit 0; help CMD prints that command's help", async () => {
  await using ws = await workspace();
  for (const args of [[], ["help"]]) {
    const r = await ws.run(args);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Commands:$/m);
    assert.equal(r.stderr, "");
  }
  for (const c of ["encrypt", "decrypt", "rewrap"]) {
    const [a, b] = await Promise.all([ws.run(["help", c]), ws.run([c, "--help"])]);
    assert.equal(a.code, 0, show(a));
    assert.equal(a.stdout, b.stdout, `help ${c} is ${c} --help`);
    assert.match(a.stdout, new RegExp(`^Usage: envelope ${c}`));
  }
  const bad = await ws.run(["help", "nonsense"]);
  assert.equal(bad.code, 2, show(bad));
  assert.match(bad.stderr, /\[USAGE\]/);
});

Deno.test("cli: sizes take units (64KiB, 1MiB); a bad size or unit is a usage error, exit 2", async () => {
  await using ws = await workspace();
  await Deno.writeFile(ws.path("a"), new Uint8Array(200_000));
  assert.equal((await ws.run(["keygen", "-o", "k"])).code, 0);
  let r = await ws.run(["encrypt", "a", "-k", "local:k", "--chunk-size", "64KiB", "-o", "a1.envl"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["inspect", "a1.envl", "--json"]);
  assert.equal(JSON.parse(r.stdout).chunkSize, 65536);
  r = await ws.run(["encrypt", "a", "-k", "local:k", "--chunk-size", "1M", "-o", "a2.envl"]);
  assert.equal(JSON.parse((await ws.run(["inspect", "a2.envl", "--json"])).stdout).chunkSize, 1048576, show(r));
  for (const bad of ["64 furlongs", "1.5MiB", "-1", "KiB", "99999999999TiB"]) {
    r = await ws.run(["encrypt", "a", "-k", "local:k", "--chunk-size", bad, "-o", "x.envl"]);
    assert.equal(r.code, 2, `--chunk-size ${bad}: ${show(r)}`);
    assert.match(r.stderr, /\[USAGE\]/);
  }
  r = await ws.run(["encrypt", "a", "-k", "local:k", "--chunk-size", "32", "-o", "x.envl"]);
  assert.equal(r.code, 2, `a size outside the format's limits is a usage error too: ${show(r)}`);
});

Deno.test("cli: the overview's command table is aligned and names every command envelope runs", async () => {
  await using ws = await workspace();
  const r = await ws.run([]);
  const rows = r.stdout.split("\n").slice(r.stdout.split("\n").indexOf("Commands:") + 1).filter((l) =>
    l.startsWith("  ")
  )
    .slice(0, 20);
  const table = rows.slice(0, rows.findIndex((l) => !/^ {2}\S+ {2,}\S/.test(l)) >>> 0);
  const starts = new Set(table.map((l) => l.search(/(?<=^ {2}\S+ +)\S/)));
  assert.equal(starts.size, 1, `descriptions start in one column:\n${table.join("\n")}`);
  for (const c of ["encrypt", "decrypt", "inspect", "rewrap", "cat", "keygen", "key-id", "data-key", "serve-keys"]) {
    assert.ok(table.some((l) => l.startsWith(`  ${c} `)), `${c} is listed`);
    const h = await ws.run(["help", c]);
    assert.equal(h.code, 0, `help ${c}: ${show(h)}`);
  }
});

Deno.test("cli: key-id prints the id a header names for a local key file and an age identity file, and no secret", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k"])).code, 0);
  const age = await ws.run(["keygen", "--age", "-o", "id.txt"]);
  assert.equal(age.code, 0, show(age));
  const recipient = age.stdout.trim();
  await Deno.writeTextFile(ws.path("a"), "x");
  assert.equal((await ws.run(["encrypt", "a", "-k", "local:k", "-k", recipient])).code, 0);
  const inspect = JSON.parse((await ws.run(["inspect", "a.envl", "--json"])).stdout);
  const r = await ws.run(["key-id", "k", "id.txt"]);
  assert.equal(r.code, 0, show(r));
  const local = inspect.keys.find((k: { provider: string }) => k.provider === "local").keyId;
  assert.match(r.stdout, new RegExp(`^local:${local}  k$`, "m"));
  assert.match(r.stdout, new RegExp(`^age:${recipient}  id\\.txt$`, "m"));
  const secrets = [await Deno.readTextFile(ws.path("k")), await Deno.readTextFile(ws.path("id.txt"))];
  for (const s of secrets) {
    for (const line of s.split("\n").filter((l) => /KEY/.test(l) && !l.startsWith("#"))) {
      assert.ok(!r.stdout.includes(line.trim()) && !r.stderr.includes(line.trim()), "a secret was printed");
    }
  }
  await Deno.writeTextFile(ws.path("not-a-key"), "hello");
  const bad = await ws.run(["key-id", "not-a-key"]);
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /\[INVALID_KEY\]/);
  assert.equal((await ws.run(["key-id"])).code, 2);
});

Deno.test("cli: key-id reads a few bytes of a large file, names a missing one, and takes a pipe and a leading blank line", async () => {
  await using ws = await workspace();
  const age = await ws.run(["keygen", "--age", "-o", "id.txt"]);
  assert.equal(age.code, 0, show(age));
  const recipient = age.stdout.trim();
  // 64 MiB, sparse: refused as not a key file, without being read into memory (the bound is checked by the loaders).
  const big = await Deno.open(ws.path("big"), { write: true, create: true });
  await big.truncate(64 * 1024 * 1024);
  big.close();
  let r = await ws.run(["key-id", "big"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[INVALID_KEY\]/);
  // A missing file is an I/O error that says so, not "not a key file".
  r = await ws.run(["key-id", "missing.txt"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /missing\.txt.*\[IO_FAILED\]/);
  assert.doesNotMatch(r.stderr, /not a key file/);
  // An identity file that starts with a blank line, as age accepts.
  await Deno.writeTextFile(ws.path("blank.txt"), "\n" + await Deno.readTextFile(ws.path("id.txt")), { mode: 0o600 });
  r = await ws.run(["key-id", "blank.txt"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`^age:${recipient}  blank\\.txt$`, "m"));
  // A FIFO (as <(cat id.txt) gives), read once.
  const fifo = ws.path("id.fifo");
  assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
  const feeding = (async () => {
    const w = await Deno.open(fifo, { write: true });
    await w.write(await Deno.readFile(ws.path("id.txt")));
    w.close();
  })();
  r = await ws.run(["key-id", fifo]);
  await feeding;
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`^age:${recipient}  `, "m"));
});
