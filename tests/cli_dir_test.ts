/**
 * Directories through the CLI: `encrypt -d DIR` and `decrypt -d OUTDIR`
 * restore a tree exactly; a crafted archive with `..` or absolute entries is
 * refused with nothing written; `--max-size` bounds the extraction.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalKey } from "../src/keys/local.ts";
import { craftZip } from "./support/archive_craft.ts";
import { type CliResult, leftovers, pathExists, randomBytes, show, type Workspace, workspace } from "./support/cli.ts";

function assertFailed(r: CliResult, code: string): void {
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), show(r));
  assert.match(r.stderr, /^hint: \S/m, show(r));
}

/** Every path under `root` (relative, `/`-separated, folders ending in `/`) with each file's bytes. */
async function snapshot(root: string): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(root, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.set(p + "/", null);
        await walk(p);
      } else if (e.isFile) {
        out.set(p, await Deno.readFile(join(root, p)));
      } else {
        out.set(p + "@link", null);
      }
    }
  };
  await walk("");
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function keyed(ws: Workspace): Promise<string[]> {
  const key = await LocalKey.generate();
  await Deno.writeTextFile(ws.path("A.key"), key.toText(), { mode: 0o600 });
  return ["-k", "local:A.key"];
}

Deno.test("cli: encrypt -d and decrypt -d restore a tree exactly (nested, empty folder, empty file, unicode, 5 MiB)", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  const src = ws.path("tree");
  await Deno.mkdir(join(src, "a", "b", "c"), { recursive: true });
  await Deno.mkdir(join(src, "empty"));
  await Deno.mkdir(join(src, "données", "日本語"), { recursive: true });
  await Deno.writeFile(join(src, "a", "b", "c", "deep.txt"), new TextEncoder().encode("deep\n"));
  await Deno.writeFile(join(src, "a", "zero"), new Uint8Array(0));
  await Deno.writeFile(join(src, "données", "été €.txt"), new TextEncoder().encode("ünïcødé"));
  await Deno.writeFile(join(src, "données", "日本語", "ファイル.bin"), randomBytes(1000));
  await Deno.writeFile(join(src, "big.bin"), randomBytes(5 * 1024 * 1024));
  await Deno.writeFile(join(src, ".hidden"), new TextEncoder().encode("dot"));
  const before = await snapshot(src);

  // A trailing slash is ignored when naming the output.
  let r = await ws.run(["encrypt", "-d", "tree/", ...k, "-c", "kind=dir"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "encrypted to tree.zip.envl\n");
  assert.ok(await pathExists(ws.path("tree.zip.envl")));

  r = await ws.run(["decrypt", "tree.zip.envl", "-d", "restored", ...k, "-c", "kind=dir"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual([...(await snapshot(ws.path("restored"))).keys()], [...before.keys()]);
  assert.deepEqual(await snapshot(ws.path("restored")), before);

  // Into an existing folder holding the same names: refused without --force, nothing changed.
  await Deno.writeTextFile(ws.path("restored", ".hidden"), "changed");
  r = await ws.run(["decrypt", "tree.zip.envl", "-d", "restored", ...k]);
  assertFailed(r, "OUTPUT_EXISTS");
  assert.equal(await Deno.readTextFile(ws.path("restored", ".hidden")), "changed");
  r = await ws.run(["decrypt", "tree.zip.envl", "-d", "restored", ...k, "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await snapshot(ws.path("restored")), before);

  // The decrypted message is a zip: without -d it is written as one file.
  r = await ws.run(["decrypt", "tree.zip.envl", ...k]);
  assert.equal(r.code, 0, show(r));
  const zip = await Deno.readFile(ws.path("tree.zip"));
  assert.deepEqual([...zip.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);

  // -d with a message that is not a zip fails cleanly, saying it holds a file.
  await Deno.writeTextFile(ws.path("note.txt"), "not a zip");
  assert.equal((await ws.run(["encrypt", "note.txt", ...k])).code, 0);
  r = await ws.run(["decrypt", "note.txt.envl", "-d", "notzip", ...k]);
  assertFailed(r, "FORMAT_UNKNOWN");
  assert.match(r.stderr, /holds a file, not a folder/);
  assert.equal(await pathExists(ws.path("notzip")), false);
  // -d with something that is not a folder.
  r = await ws.run(["encrypt", "-d", "note.txt", ...k]);
  assertFailed(r, "IO_FAILED");
  assert.equal(await pathExists(ws.path("note.txt.zip.envl")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: decrypt -d refuses archives with .. or absolute entries and writes nothing anywhere", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  const outside = ws.path("evil");
  const absTarget = ws.path("abs-evil");
  const archives: Record<string, Uint8Array> = {
    "dotdot": craftZip([
      { name: "fine.txt", data: new TextEncoder().encode("fine") },
      { name: "../evil", data: new TextEncoder().encode("escaped") },
    ]),
    "nested-dotdot": craftZip([
      { name: "sub/fine.txt", data: new TextEncoder().encode("fine") },
      { name: "sub/../../evil", data: new TextEncoder().encode("escaped") },
    ]),
    "absolute": craftZip([
      { name: "fine.txt", data: new TextEncoder().encode("fine") },
      { name: absTarget, data: new TextEncoder().encode("escaped") },
    ]),
  };
  for (const [name, bytes] of Object.entries(archives)) {
    await Deno.writeFile(ws.path(`${name}.zip`), bytes);
    const r = await ws.run(["encrypt", `${name}.zip`, ...k]);
    assert.equal(r.code, 0, show(r));
  }
  // Into a new folder, and into an existing empty one.
  await Deno.mkdir(ws.path("existing"));
  const runs: [string, string][] = [["dotdot", "out1"], ["nested-dotdot", "existing"], ["absolute", "out3"]];
  for (const [name, outDir] of runs) {
    const r = await ws.run(["decrypt", `${name}.zip.envl`, "-d", outDir, ...k]);
    assertFailed(r, "UNSAFE_PATH");
    assert.equal(await pathExists(outside), false, `${name}: wrote outside OUTDIR`);
    assert.equal(await pathExists(absTarget), false, `${name}: wrote to the absolute path`);
    assert.equal(await pathExists(ws.path("..", "evil")), false);
    if (outDir === "existing") {
      assert.deepEqual([...Deno.readDirSync(ws.path("existing"))], [], `${name}: wrote inside OUTDIR`);
    } else {
      assert.equal(await pathExists(ws.path(outDir)), false, `${name}: OUTDIR was created`);
    }
    assert.deepEqual(await leftovers(ws.dir), [], `${name}: temporary files remain`);
    assert.deepEqual(await leftovers(ws.path("existing")), []);
  }
});

Deno.test("cli: decrypt -d --max-size stops an archive over the bound with ARCHIVE_TOO_LARGE", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  await Deno.mkdir(ws.path("t"));
  await Deno.writeFile(ws.path("t", "one.bin"), randomBytes(600_000));
  await Deno.writeFile(ws.path("t", "two.bin"), randomBytes(600_000));
  let r = await ws.run(["encrypt", "-d", "t", ...k]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "t.zip.envl", "-d", "small", ...k, "--max-size", "1000000"]);
  assertFailed(r, "ARCHIVE_TOO_LARGE");
  // The hint names the flag that raises the bound, and the bound in force.
  assert.match(r.stderr, /hint: if you trust the archive, raise --max-size \(now 1000000 bytes\)/);
  assert.equal(await pathExists(ws.path("small")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
  r = await ws.run(["decrypt", "t.zip.envl", "-d", "ok", ...k, "--max-size", "1200000"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await snapshot(ws.path("ok")), await snapshot(ws.path("t")));
  r = await ws.run(["decrypt", "t.zip.envl", "-d", "x", ...k, "--max-size", "1 megabyte"]);
  assert.equal(r.code, 2, show(r));
});

Deno.test("cli: encrypt -d skips links out of the folder and says so; an output inside the folder is refused", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  await Deno.writeTextFile(ws.path("outside.txt"), "not for the archive");
  await Deno.mkdir(ws.path("t", "in"), { recursive: true });
  await Deno.writeTextFile(ws.path("t", "in", "a"), "a");
  await Deno.symlink("../../outside.txt", ws.path("t", "in", "link-out"));
  let r = await ws.run(["encrypt", "-d", "t", ...k]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "t.zip.envl", "-d", "r", ...k]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(
    [...(await snapshot(ws.path("r"))).keys()],
    ["in/", "in/a"],
    "the link out of the folder is not stored",
  );
  const zip = await ws.run(["decrypt", "t.zip.envl", ...k, "-o", "-"]);
  assert.ok(!zip.stdout.includes("not for the archive"), "the link's target was archived");

  // The user must be told that something was left out.
  r = await ws.run(["encrypt", "-d", "t", ...k, "-o", "t2.zip.envl"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /^warning: .*link-out/m, `no warning names the skipped link:\n${show(r)}`);

  r = await ws.run(["encrypt", "-d", "t", ...k, "-o", "t/self.envl"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /^error: .*\[USAGE\]$/m);
  assert.deepEqual(await leftovers(ws.path("t")), []);
  assert.equal(await pathExists(ws.path("t", "self.envl")), false);
});

Deno.test("cli: -d keeps modification times both ways (files and the empty folders the archive lists)", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  await Deno.mkdir(ws.path("t", "sub", "empty"), { recursive: true });
  await Deno.writeTextFile(ws.path("t", "sub", "a.txt"), "a");
  await Deno.writeFile(ws.path("t", "big.bin"), randomBytes(3 * 1024 * 1024));
  const times: [string, number][] = [
    ["sub/a.txt", Date.UTC(2003, 4, 5, 6, 7, 9) / 1000],
    ["big.bin", Date.UTC(2015, 0, 2, 3, 4, 5) / 1000],
    ["sub/empty", Date.UTC(2010, 10, 10, 10, 10, 11) / 1000],
  ];
  for (const [p, s] of times) await Deno.utime(ws.path("t", p), s, s);
  let r = await ws.run(["encrypt", "-d", "t", ...k]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "t.zip.envl", "-d", "r", ...k]);
  assert.equal(r.code, 0, show(r));
  for (const [p, s] of times) {
    assert.equal(Math.round((await Deno.stat(ws.path("r", p))).mtime!.getTime() / 1000), s, p);
  }
});

Deno.test("cli: --symlinks chooses what becomes of links: follow, skip or store on encrypt; refuse, skip or create on decrypt", async () => {
  await using ws = await workspace();
  const k = await keyed(ws);
  await Deno.mkdir(ws.path("t", "d"), { recursive: true });
  await Deno.writeTextFile(ws.path("t", "d", "f.txt"), "target");
  await Deno.symlink("d/f.txt", ws.path("t", "to-file"));
  await Deno.symlink("d", ws.path("t", "to-dir"));
  const encrypt = async (how: string | undefined, out: string) => {
    const r = await ws.run(["encrypt", "-d", "t", ...k, "-o", out, ...(how ? ["--symlinks", how] : [])]);
    assert.equal(r.code, 0, show(r));
    return r;
  };
  const restored = async (file: string, dir: string, how?: string) => {
    const r = await ws.run(["decrypt", file, "-d", dir, ...k, ...(how ? ["--symlinks", how] : [])]);
    return { r, tree: r.code === 0 ? [...(await snapshot(ws.path(dir))).keys()] : [] };
  };
  // follow (the default): the link to a file becomes a file; the link to a folder is skipped, with a warning.
  let r = await encrypt(undefined, "follow.envl");
  assert.match(r.stderr, /^warning: .*to-dir/m, show(r));
  assert.deepEqual((await restored("follow.envl", "f")).tree, ["d/", "d/f.txt", "to-file"]);
  assert.equal(await Deno.readTextFile(ws.path("f", "to-file")), "target");
  // skip: every link is left out, as asked: one note says so, and -v lists each link (no warning per link).
  r = await encrypt("skip", "skip.envl");
  assert.equal(r.stderr.match(/^note: symbolic links are left out \(--symlinks skip\)/gm)?.length, 1, show(r));
  assert.doesNotMatch(r.stderr, /^warning:/m, show(r));
  assert.doesNotMatch(r.stderr, /to-file/, show(r));
  r = await ws.run(["encrypt", "-d", "t", ...k, "-o", "skip-v.envl", "--symlinks", "skip", "-v"]);
  assert.match(r.stderr, /^detail: .*to-file/m, show(r));
  assert.match(r.stderr, /^detail: .*to-dir/m, show(r));
  assert.deepEqual((await restored("skip.envl", "s")).tree, ["d/", "d/f.txt"]);
  // store: links are stored as links; decrypt refuses them unless asked, then skips or creates them.
  await encrypt("store", "store.envl");
  const refused = await restored("store.envl", "x");
  assertFailed(refused.r, "UNSAFE_PATH");
  assert.equal(await pathExists(ws.path("x")), false);
  const skipped = await restored("store.envl", "y", "skip");
  assert.deepEqual(skipped.tree, ["d/", "d/f.txt"]);
  assert.match(skipped.r.stderr, /^note: symbolic links are left out/m, show(skipped.r));
  assert.doesNotMatch(skipped.r.stderr, /^warning:/m, show(skipped.r));
  assert.deepEqual((await restored("store.envl", "z", "create")).tree, [
    "d/",
    "d/f.txt",
    "to-dir@link",
    "to-file@link",
  ]);
  assert.equal(await Deno.readLink(ws.path("z", "to-dir")), "d");
  assert.equal(await Deno.readTextFile(ws.path("z", "to-file")), "target");
  // Bad values, and --symlinks without -d or with -r (one object per file), are usage errors.
  for (
    const argv of [
      ["encrypt", "-d", "t", ...k, "--symlinks", "create"],
      ["decrypt", "store.envl", "-d", "w", ...k, "--symlinks", "store"],
      ["encrypt", "t/d/f.txt", ...k, "--symlinks", "skip"],
      ["encrypt", "-r", "-d", "t", "-o", "s3://bucket/prefix/", ...k, "--symlinks", "skip"],
    ]
  ) {
    r = await ws.run(argv);
    assert.equal(r.code, 2, show(r));
  }
});

Deno.test("cli -d: SIGINT during extraction into an existing folder leaves no staged plaintext; a killed run's is swept", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  // The staging folders in `dir` (none when it cannot be read: it comes and goes under the loop below).
  const staged = (dir: string): string[] => {
    try {
      return [...Deno.readDirSync(dir)].filter((e) => /^\..*\.envelope-\d+-/.test(e.name)).map((e) => e.name);
    } catch {
      return [];
    }
  };
  // A killed run's staging folder (its pid gone): swept by the next extraction into the same folder.
  await Deno.mkdir(ws.path("out"));
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  await Deno.mkdir(ws.path("out", `.out.envelope-${gone.pid}-abcdef`, "tree"), { recursive: true });
  await Deno.writeTextFile(ws.path("out", `.out.envelope-${gone.pid}-abcdef`, "tree", "secret.txt"), "plaintext");
  await Deno.mkdir(ws.path("small"));
  await Deno.writeTextFile(ws.path("small", "a.txt"), "a");
  assert.equal((await ws.run(["encrypt", "-d", "small", "-k", "local:k.key", "-o", "small.envl"])).code, 0);
  const r = await ws.run(["decrypt", "-d", "out", "-k", "local:k.key", "small.envl"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(staged(ws.path("out")), []);

  // SIGINT while files are being staged: the staging folder goes with the run. Larger trees until the signal lands
  // during extraction (bounded: three sizes).
  let caught = false;
  for (const files of [40, 120, 360]) {
    await Deno.remove(ws.path("big"), { recursive: true }).catch(() => {});
    await Deno.mkdir(ws.path("big"));
    for (let i = 0; i < files; i++) await Deno.writeFile(ws.path("big", `f${i}`), randomBytes(1024 * 1024));
    await Deno.remove(ws.path("big.envl")).catch(() => {});
    assert.equal((await ws.run(["encrypt", "-d", "big", "-k", "local:k.key", "-o", "big.envl"])).code, 0);
    await Deno.remove(ws.path("into"), { recursive: true }).catch(() => {});
    await Deno.mkdir(ws.path("into"));
    const { cliArgv, cliEnv } = await import("./support/cli.ts");
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgv(["decrypt", "-d", "into", "-k", "local:k.key", "big.envl"]),
      cwd: ws.dir,
      clearEnv: true,
      env: await cliEnv(ws.home),
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).spawn();
    let done = false;
    const status = child.status.then((s) => (done = true, s));
    while (!done) {
      const names = staged(ws.path("into"));
      const tree = names.length ? ws.path("into", names[0], "tree") : "";
      // The staging folder comes and goes under this loop: a look that fails is a look too early or too late.
      let filled = false;
      try {
        filled = tree !== "" && [...Deno.readDirSync(tree)].length > 0;
      } catch {
        filled = false;
      }
      if (filled) {
        child.kill("SIGINT");
        caught = true;
        break;
      }
      await new Promise((res) => setTimeout(res, 2));
    }
    const s = await status;
    await child.stderr.cancel();
    if (!caught) continue;
    assert.equal(s.code, 130);
    assert.deepEqual(staged(ws.path("into")), [], "the staged plaintext was left");
    assert.deepEqual([...Deno.readDirSync(ws.path("into"))], []);
    break;
  }
  assert.ok(caught, "the signal never landed during extraction");
});

Deno.test("cli -d: an entry that expands past its own declared size is damage, and the hint does not offer --max-size", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  const { encrypt } = await import("../mod.ts");
  const key = await LocalKey.fromText(await Deno.readTextFile(ws.path("k.key")));
  const { deflatedZeros } = await import("./support/archive_craft.ts");
  const zip = craftZip([{ name: "s", payload: deflatedZeros(1000), usize: 100, csize: undefined }]);
  await Deno.writeFile(ws.path("lie.envl"), await encrypt(zip, { keys: key }));
  const r = await ws.run(["decrypt", "-d", "out", "-k", "local:k.key", "lie.envl"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /declared size/);
  assert.doesNotMatch(r.stderr, /--max-size/);
});

Deno.test("cli encrypt -d: an output inside the folder through a link is refused as one typed inside it", async () => {
  await using ws = await workspace();
  assert.equal((await ws.run(["keygen", "-o", "k.key"])).code, 0);
  await Deno.mkdir(ws.path("src"));
  await Deno.writeTextFile(ws.path("src", "a.txt"), "a");
  await Deno.symlink("src", ws.path("alias"));
  const r = await ws.run(["encrypt", "-d", "src", "-k", "local:k.key", "-o", "alias/out.envl"]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /inside the directory being encrypted/);
  assert.ok(!(await pathExists(ws.path("src", "out.envl"))));
});
