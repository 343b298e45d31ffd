/**
 * `envelope rewrap` in place when the file is swapped while the keys load (a
 * review found it): the run is held on an age identity read from a FIFO,
 * after the header was read and before anything is written, and meanwhile
 * another file (or a link to one) takes the input's name. The rewrap must
 * fail with INPUT_CHANGED and leave both files as they were: before, a small
 * file was replaced by the rewrapped old one, a large one got the old header
 * on the new payload, and a link's target was overwritten.
 *
 * Also: `-o` naming the input by another spelling is in place (the mode kept).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgv, cliEnv, leftovers, randomBytes, show, type Workspace, workspace } from "./support/cli.ts";

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

/** An age identity file and its recipient. */
async function ageIdentity(ws: Workspace, name: string): Promise<string> {
  const r = await ws.run(["keygen", "--age", "-o", name]);
  assert.equal(r.code, 0, show(r));
  const recipient = /age1[02-9ac-hj-np-z]{58}/.exec(r.stdout + r.stderr)?.[0];
  assert.ok(recipient, show(r));
  return recipient;
}

/**
 * Runs `rewrap A.env -i FIFO -k local:b.key` in `ws`, calls `meanwhile` once the
 * run is reading the identity (the header was read, nothing written), then
 * gives it the identity.
 */
async function heldRewrap(ws: Workspace, args: string[], meanwhile: () => Promise<void>) {
  const fifo = ws.path("id.fifo");
  await mkfifo(fifo);
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgv(["rewrap", "A.env", "-i", fifo, ...args]),
    cwd: ws.dir,
    clearEnv: true,
    env: await cliEnv(ws.home),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).spawn();
  // Opening the FIFO to write waits until the rewrap opens it to read: it is then past its header read.
  const w = await Deno.open(fifo, { write: true });
  await meanwhile();
  await w.write(await Deno.readFile(ws.path("id1.txt")));
  w.close();
  const out = await child.output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stdoutBytes: out.stdout, stderr: td.decode(out.stderr) };
}

for (const size of [10_000, 300_000]) {
  const kind = size <= 131072 ? "read whole" : "streamed";

  Deno.test(`cli rewrap race: another file moved over the input meanwhile is left alone (${kind})`, async () => {
    await using ws = await workspace();
    const r1 = await ageIdentity(ws, "id1.txt");
    assert.equal((await ws.run(["keygen", "-o", "b.key"])).code, 0);
    await Deno.writeFile(ws.path("a"), randomBytes(size));
    await Deno.writeFile(ws.path("b"), randomBytes(size));
    assert.equal((await ws.run(["encrypt", "-k", r1, "-o", "A.env", "a"])).code, 0);
    assert.equal((await ws.run(["encrypt", "-k", r1, "-o", "B.env", "b"])).code, 0);
    const bBytes = await Deno.readFile(ws.path("B.env"));

    const r = await heldRewrap(ws, ["-k", "local:b.key"], () => Deno.rename(ws.path("B.env"), ws.path("A.env")));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /no longer the file that was read.*\[INPUT_CHANGED\]/, show(r));
    assert.deepEqual(await Deno.readFile(ws.path("A.env")), bBytes, "the file moved in is untouched");
    const back = await ws.run(["decrypt", "-i", "id1.txt", "A.env", "-o", "b.back"]);
    assert.equal(back.code, 0, show(back));
    assert.deepEqual(await Deno.readFile(ws.path("b.back")), await Deno.readFile(ws.path("b")));
    assert.deepEqual(await leftovers(ws.dir), []);
  });

  Deno.test(`cli rewrap race: a link swapped in for the input does not lead the write to its target (${kind})`, async () => {
    await using ws = await workspace();
    const r1 = await ageIdentity(ws, "id1.txt");
    assert.equal((await ws.run(["keygen", "-o", "b.key"])).code, 0);
    await Deno.writeFile(ws.path("a"), randomBytes(size));
    assert.equal((await ws.run(["encrypt", "-k", r1, "-o", "A.env", "a"])).code, 0);
    await Deno.mkdir(ws.path("victim"));
    await Deno.writeTextFile(ws.path("victim", "v.conf"), "precious settings\n");

    const r = await heldRewrap(ws, ["-k", "local:b.key"], async () => {
      await Deno.rename(ws.path("A.env"), ws.path("A.moved"));
      await Deno.symlink(join("victim", "v.conf"), ws.path("A.env"));
    });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /\[INPUT_CHANGED\]/, show(r));
    assert.equal(await Deno.readTextFile(ws.path("victim", "v.conf")), "precious settings\n");
    assert.ok((await Deno.lstat(ws.path("A.env"))).isSymlink);
    assert.deepEqual(await leftovers(ws.dir), []);
  });
}

Deno.test("cli rewrap: -o naming the input by another spelling is in place, and keeps its mode", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "a.key"])).code, 0);
  assert.equal((await ws.run(["keygen", "-o", "b.key"])).code, 0);
  await Deno.writeFile(ws.path("f"), randomBytes(5000));
  assert.equal((await ws.run(["encrypt", "-k", "local:a.key", "f"])).code, 0);
  await Deno.chmod(ws.path("f.envl"), 0o600);
  // Another name of the same file (a hard link here) is replaced only with --force.
  await Deno.link(ws.path("f.envl"), ws.path("g.envl"));
  const linked = await ws.run(["rewrap", "f.envl", "-u", "local:a.key", "-k", "local:b.key", "-o", "g.envl"]);
  assert.equal(linked.code, 1, show(linked));
  assert.match(linked.stderr, /\[OUTPUT_EXISTS\]/);
  await Deno.remove(ws.path("g.envl"));
  const r = await ws.run(["rewrap", "f.envl", "-u", "local:a.key", "-k", "local:b.key", "-o", "./f.envl", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.equal((await Deno.stat(ws.path("f.envl"))).mode! & 0o777, 0o600);
  const back = await ws.run(["decrypt", "-k", "local:b.key", "f.envl", "-o", "f.back"]);
  assert.equal(back.code, 0, show(back));
});
