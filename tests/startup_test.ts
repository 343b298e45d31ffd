/**
 * What a run loads and downloads (issue 13): the local-key path of the CLI
 * needs no npm package, so a first run from an empty Deno cache fetches
 * nothing (the AWS SDK, fflate, age and the test tools stay out of the
 * start-up graph: src/import_later.ts); the runtime's lockfile holds only the
 * runtime's packages (Deno installs every package of the lockfile as soon as
 * one is needed). No timing here: scripts/bench_startup.ts measures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MOD, REPO } from "./support/cli.ts";
import { importLater } from "../src/import_later.ts";

const dec = new TextDecoder();

/** Runs `deno run -A mod.ts ARGS` with an empty DENO_DIR and an npm registry that refuses every connection. */
async function firstRun(args: string[], denoDir: string, home: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), MOD, ...args],
    cwd: home,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      DENO_DIR: denoDir,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      // Any npm download would fail here (port 9 is discard; nothing listens on loopback), and so would the run.
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function npmCacheEntries(denoDir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const e of Deno.readDir(join(denoDir, "npm"))) found.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found;
}

Deno.test("first run: a local-key encrypt, decrypt and inspect from an empty Deno cache fetch no npm package", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-first-run-" });
  try {
    const denoDir = join(tmp, "deno_dir");
    const home = join(tmp, "home");
    await Deno.mkdir(home);
    await Deno.writeTextFile(join(home, "a.txt"), "abc");

    const enc = await firstRun(["encrypt", "a.txt"], denoDir, home);
    assert.equal(enc.code, 0, enc.stderr);
    const dec = await firstRun(["decrypt", "-o", "-", "a.txt.envl"], denoDir, home);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stdout, "abc");
    const ins = await firstRun(["inspect", "a.txt.envl"], denoDir, home);
    assert.equal(ins.code, 0, ins.stderr);
    assert.match(ins.stdout, /local:/);

    assert.deepEqual(await npmCacheEntries(denoDir), [], "nothing was put in DENO_DIR/npm");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("first run: naming an AWS key is what loads the SDK (with no registry, that run fails at the npm fetch)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-first-run-" });
  try {
    const denoDir = join(tmp, "deno_dir");
    const home = join(tmp, "home");
    await Deno.mkdir(home);
    await Deno.writeTextFile(join(home, "a.txt"), "abc");
    const r = await firstRun(["encrypt", "-k", "aws-kms:alias/none", "a.txt"], denoDir, home);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: Loading kms\/aws\.ts failed: .*npm package/m, r.stderr);
    assert.match(r.stderr, /\[IO_FAILED\]/);
    assert.match(r.stderr, /^hint: the AWS SDK and age are downloaded on their first use/m);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/**
 * What `deno run ENTRY` resolves before it runs: the modules reached by code imports, static and literal dynamic
 * ones alike (Deno's graph follows both), from `deno info --json`; type-only references are left out. With
 * `staticOnly`, what is loaded before the first line runs (a dynamic import waits until its line does).
 */
async function startupGraph(entry: string, staticOnly = false): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", join(REPO, "deno.json"), join(REPO, entry)],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  const info = JSON.parse(dec.decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const work = [...info.roots];
  while (work.length > 0) {
    const raw = work.pop()!;
    const name = info.redirects[raw] ?? raw;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const d of byName.get(name)?.dependencies ?? []) {
      if (d.code && !(staticOnly && d.isDynamic)) work.push(d.code.specifier);
    }
  }
  return [...seen].map((s) => s.replace(`file://${REPO}/`, "")).sort();
}

Deno.test("start-up graph: mod.ts and the encrypt, decrypt and inspect commands reach no SDK, zip, S3 or npm module", async () => {
  for (
    const entry of [
      "mod.ts",
      "src/cli/bin.ts",
      "src/cli/main.ts",
      ...["encrypt", "decrypt", "inspect"].map((c) => `src/cli/commands/${c}.ts`),
    ]
  ) {
    const graph = await startupGraph(entry);
    assert.ok(graph.includes(entry), `${entry}: ${graph.slice(0, 5)}`);
    const heavy = graph.filter((m) =>
      m.startsWith("npm:") || m.startsWith("src/archive/") || m.startsWith("src/kms/") ||
      m.startsWith("src/compat/") ||
      (m.startsWith("src/s3/") && m !== "src/s3/url.ts") || m === "src/keys/age.ts" || m === "src/cli/object_io.ts"
    );
    assert.deepEqual(heavy, [], `${entry} reaches ${heavy.join(", ")} before it runs`);
  }
  // The check can fail: a command that needs a heavy module reaches it.
  assert.ok((await startupGraph("src/kms/aws.ts")).some((m) => m.startsWith("npm:")));
});

Deno.test("start-up graph: the local-key commands reach no node: module, so a run in Deno never starts its Node layer", async () => {
  // Importing any node: module in Deno starts the Node compatibility layer, about an empty run's start-up again
  // (scripts/bench_startup.ts): the file, path and process calls of these commands go through src/host/.
  for (
    const entry of [
      "mod.ts",
      "src/cli/bin.ts",
      "src/cli/main.ts",
      ...["encrypt", "decrypt", "inspect", "rewrap", "cat", "keygen", "key_id"].map((c) => `src/cli/commands/${c}.ts`),
    ]
  ) {
    // Static imports only: a dynamic import("node:...") in a rare path (a device as output, gigabytes to collect
    // garbage for) loads only when that path runs.
    const node = (await startupGraph(entry, true)).filter((m) => m.startsWith("node:"));
    assert.deepEqual(node, [], `${entry} reaches ${node.join(", ")} before it runs`);
  }
  // The check can fail: the zip writer still reaches node:zlib.
  assert.ok((await startupGraph("src/archive/zip.ts")).includes("node:zlib"));
});

interface Lock {
  specifiers: Record<string, string>;
  npm: Record<string, { integrity: string }>;
}

Deno.test("lockfiles: deno.lock holds the runtime's packages only; deno.dev.lock adds the test tools at the same versions", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const runtime: Lock = JSON.parse(await Deno.readTextFile(join(REPO, "deno.lock")));
  const dev: Lock = JSON.parse(await Deno.readTextFile(join(REPO, "deno.dev.lock")));

  const mapped = Object.values(config.imports as Record<string, string>).filter((v) => v.startsWith("npm:")).sort();
  assert.deepEqual(Object.keys(runtime.specifiers).sort(), mapped, "deno.lock's direct packages are the import map's");
  for (const tool of ["playwright-core", "hash-wasm", "@aws-sdk/s3-request-presigner"]) {
    assert.ok(!Object.keys(runtime.npm).some((p) => p.startsWith(`${tool}@`)), `${tool} is not in deno.lock`);
    assert.ok(Object.keys(dev.npm).some((p) => p.startsWith(`${tool}@`)), `${tool} is in deno.dev.lock`);
  }
  // The tests run the code users run: every runtime package resolves to the same version and bytes in both.
  for (const [pkg, entry] of Object.entries(runtime.npm)) {
    assert.equal(dev.npm[pkg]?.integrity, entry.integrity, `${pkg} is the same in deno.dev.lock`);
  }
  assert.equal(config.lock?.frozen, true, "deno.lock is frozen, so a dev run cannot add to it");
});

Deno.test("importLater: imports relative to the caller, and a .ts specifier from a .js module gets .js (the npm build)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-import-later-" });
  try {
    await Deno.writeTextFile(join(tmp, "b.js"), "export const where = 'js';\n");
    await Deno.writeTextFile(join(tmp, "b.ts"), "export const where = 'ts';\n");
    const fromJs = await importLater<{ where: string }>(`file://${tmp}/a.js`, "./b.ts");
    assert.equal(fromJs.where, "js");
    const fromTs = await importLater<{ where: string }>(`file://${tmp}/a.ts`, "./b.ts");
    assert.equal(fromTs.where, "ts");
    await assert.rejects(importLater(`file://${tmp}/a.ts`, "./missing.ts"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
