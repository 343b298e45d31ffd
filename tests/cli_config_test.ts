/**
 * Defaults without flags (src/cli/config.ts): ENVELOPE_KEYS, a project's
 * `.envelope.json` found upward from the working folder, and the user's
 * `~/.config/envelope/config.json`, in that order; flags replace them; a
 * malformed file is refused, never half-read.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type InspectJson, runCli, show, workspace } from "./support/cli.ts";
import { writeKey } from "./support/cli_asserts.ts";

async function keysOf(dir: string, home: string, file: string): Promise<string[]> {
  const r = await runCli(["inspect", file, "--json"], { cwd: dir, home });
  assert.equal(r.code, 0, show(r));
  return (JSON.parse(r.stdout) as InspectJson).keys.map((k) => k.keyId).sort();
}

Deno.test("config: a project's .envelope.json (found upward) sets keys and context; -k and -c replace them", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  const b = await writeKey(ws.path("B.key"));
  const c = await writeKey(ws.path("C.key"));
  await Deno.writeTextFile(
    ws.path(".envelope.json"),
    JSON.stringify({ keys: [`local:${ws.path("A.key")}`, `local:${ws.path("B.key")}`], context: { team: "infra" } }),
  );
  const deep = ws.path("repo", "src", "deep");
  await Deno.mkdir(deep, { recursive: true });
  await Deno.writeTextFile(join(deep, "f"), "x");
  let r = await runCli(["encrypt", "f"], { cwd: deep, home: ws.home });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, new RegExp(`note: keys from ${ws.path(".envelope.json").replaceAll("/", "\\/")}`));
  assert.deepEqual(await keysOf(deep, ws.home, "f.envl"), [a.keyId, b.keyId].sort());
  r = await runCli(["inspect", "f.envl", "--json"], { cwd: deep, home: ws.home });
  assert.deepEqual((JSON.parse(r.stdout) as InspectJson).context, { team: "infra" });
  assert.ok(!(await Deno.stat(join(ws.home, ".config/envelope/local.key")).catch(() => null)), "no default key made");

  r = await runCli(["encrypt", "f", "-o", "g.envl", "-k", `local:${ws.path("C.key")}`, "-c", "a=1"], {
    cwd: deep,
    home: ws.home,
  });
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stderr, /keys from/);
  assert.deepEqual(await keysOf(deep, ws.home, "g.envl"), [c.keyId]);
  r = await runCli(["inspect", "g.envl", "--json"], { cwd: deep, home: ws.home });
  assert.deepEqual((JSON.parse(r.stdout) as InspectJson).context, { a: "1" });
});

Deno.test("config: ENVELOPE_KEYS wins over the files; the user's config.json is the last default; a bad file is CONFIG_INVALID", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  const b = await writeKey(ws.path("B.key"));
  const u = await writeKey(ws.path("U.key"));
  await Deno.mkdir(join(ws.home, ".config/envelope"), { recursive: true });
  await Deno.writeTextFile(
    join(ws.home, ".config/envelope/config.json"),
    JSON.stringify({ keys: [`local:${ws.path("U.key")}`] }),
  );
  await Deno.writeTextFile(ws.path("f"), "x");
  let r = await ws.run(["encrypt", "f"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await keysOf(ws.dir, ws.home, "f.envl"), [u.keyId]);

  r = await ws.run(["encrypt", "f", "-o", "e.envl"], {
    env: { ENVELOPE_KEYS: `local:${ws.path("A.key")}, local:${ws.path("B.key")}` },
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /note: keys from ENVELOPE_KEYS/);
  assert.deepEqual(await keysOf(ws.dir, ws.home, "e.envl"), [a.keyId, b.keyId].sort());

  await Deno.writeTextFile(ws.path(".envelope.json"), JSON.stringify({ key: ["local:A.key"] }));
  r = await ws.run(["encrypt", "f", "-o", "bad.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /"key" is not a field .*\[CONFIG_INVALID\]/);
  await Deno.writeTextFile(ws.path(".envelope.json"), "{ keys: [");
  r = await ws.run(["encrypt", "f", "-o", "bad.envl"]);
  assert.match(r.stderr, /not JSON.*\[CONFIG_INVALID\]/);
  await Deno.writeTextFile(ws.path(".envelope.json"), JSON.stringify({ context: { n: 1 } }));
  r = await ws.run(["encrypt", "f", "-o", "bad.envl"]);
  assert.match(r.stderr, /"context" is not an object of string values.*\[CONFIG_INVALID\]/);
  assert.ok(!(await Deno.stat(ws.path("bad.envl")).catch(() => null)));
});

Deno.test("config: a .envelope.json others can write, or that another user owns, is ignored with a warning", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("f"), "x");
  await Deno.writeTextFile(ws.path(".envelope.json"), JSON.stringify({ keys: [`local:${ws.path("A.key")}`] }));
  await Deno.chmod(ws.path(".envelope.json"), 0o666);
  let r = await ws.run(["encrypt", "f"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /warning: ignoring .*\.envelope\.json: others can write to it/);
  assert.doesNotMatch(r.stderr, /keys from/);
  if (Deno.uid() === 0) {
    // Root can give the file away: owned by another user, it is ignored too, even when it is not writable by others.
    await Deno.chmod(ws.path(".envelope.json"), 0o644);
    await Deno.chown(ws.path(".envelope.json"), 4242, 4242);
    r = await ws.run(["encrypt", "f", "-o", "g.envl"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /warning: ignoring .*\.envelope\.json: it belongs to another user \(uid 4242\)/);
  }
});

Deno.test("config: a .envelope.json link is not followed (a repository can ship one to /dev/stdin); a loop of links stops nothing", async () => {
  await using ws = await workspace();
  const repo = ws.path("repo");
  await Deno.mkdir(repo);
  await Deno.symlink("/dev/stdin", join(repo, ".envelope.json"));
  const secret = "MYSECRETPLAINTEXT hunter2\n";
  let r = await runCli(["encrypt", "-o", "out.envl"], {
    cwd: repo,
    home: ws.home,
    stdin: new TextEncoder().encode(secret),
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /ignoring .*\.envelope\.json: it is a symbolic link, which is not followed/);
  assert.doesNotMatch(r.stderr + r.stdout, /MYSECRET/);
  r = await runCli(["decrypt", "out.envl", "-o", "-"], { cwd: repo, home: ws.home });
  assert.equal(r.stdout, secret, show(r));

  // A loop of links another user planted: ignored with a warning, and with -k and -c not even looked at.
  await Deno.remove(join(repo, ".envelope.json"));
  await Deno.symlink(".envelope.json", join(repo, ".envelope.json"));
  await Deno.writeTextFile(join(repo, "f"), "x");
  const key = await writeKey(ws.path("k.key"));
  r = await runCli(["encrypt", "f", "-o", "a.envl", "-k", `local:${ws.path("k.key")}`, "-c", "a=b"], {
    cwd: repo,
    home: ws.home,
  });
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stderr, /ignoring/);
  r = await runCli(["encrypt", "f", "-o", "b.envl", "-k", `local:${ws.path("k.key")}`], { cwd: repo, home: ws.home });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /ignoring .*\.envelope\.json/);
  assert.deepEqual(await keysOf(repo, ws.home, "b.envl"), [key.keyId]);
});

Deno.test("config: local: paths in a config file are relative to its folder; a parse error does not quote the file", async () => {
  await using ws = await workspace();
  const repo = ws.path("repo");
  await Deno.mkdir(join(repo, "keys"), { recursive: true });
  await Deno.mkdir(join(repo, "sub"));
  const team = await writeKey(join(repo, "keys", "team.key"));
  await Deno.writeTextFile(join(repo, ".envelope.json"), JSON.stringify({ keys: ["local:keys/team.key"] }));
  await Deno.writeTextFile(join(repo, "sub", "a.txt"), "x");
  const r = await runCli(["encrypt", "a.txt"], { cwd: join(repo, "sub"), home: ws.home });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await keysOf(join(repo, "sub"), ws.home, "a.txt.envl"), [team.keyId]);
  assert.ok(!(await Deno.stat(join(repo, "sub", "keys")).catch(() => null)), "no key made beside the input");

  await Deno.writeTextFile(join(repo, ".envelope.json"), "MYSECRETPLAINTEXT not json");
  const bad = await runCli(["encrypt", "a.txt", "-o", "b.envl"], { cwd: join(repo, "sub"), home: ws.home });
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /it is not JSON.*\[CONFIG_INVALID\]/);
  assert.doesNotMatch(bad.stderr, /MYSECRET/);
});

Deno.test("config: the user's config.json may be a link (dotfiles); its local: paths are beside the file it leads to", async () => {
  await using ws = await workspace();
  const dots = ws.path("dots");
  await Deno.mkdir(dots);
  const key = await writeKey(join(dots, "k.key"));
  await Deno.writeTextFile(join(dots, "config.json"), JSON.stringify({ keys: ["local:k.key"] }));
  await Deno.mkdir(join(ws.home, ".config", "envelope"), { recursive: true });
  await Deno.symlink(join(dots, "config.json"), join(ws.home, ".config", "envelope", "config.json"));
  await Deno.writeTextFile(ws.path("f"), "x");
  const r = await runCli(["encrypt", "f"], { cwd: ws.dir, home: ws.home });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await keysOf(ws.dir, ws.home, "f.envl"), [key.keyId]);
});

Deno.test("config: --json says which file gave the keys and the context (-q silences the note, not this)", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(
    ws.path(".envelope.json"),
    JSON.stringify({ keys: [`local:${ws.path("A.key")}`], context: { team: "infra" } }),
  );
  await Deno.writeTextFile(ws.path("f"), "x");
  let r = await runCli(["encrypt", "f", "-q", "--json"], { cwd: ws.dir, home: ws.home });
  assert.equal(r.code, 0, show(r));
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.keysFrom, ws.path(".envelope.json"));
  assert.equal(doc.contextFrom, ws.path(".envelope.json"));
  assert.deepEqual(doc.files[0].keys.map((k: { keyId: string }) => k.keyId), [a.keyId]);
  assert.equal(r.stderr, "");
  // Given on the command line: no source is named.
  r = await runCli(["encrypt", "f", "-o", "g.envl", "--json", "-k", `local:${ws.path("A.key")}`, "-c", "a=b"], {
    cwd: ws.dir,
    home: ws.home,
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(JSON.parse(r.stdout).keysFrom, undefined);
});
