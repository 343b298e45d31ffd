/**
 * The install route from a checkout, as the README gives it:
 * `deno install -g -A -n envelope --config deno.json --frozen=false src/cli/bin.ts`,
 * into a temporary DENO_INSTALL_ROOT; the installed `envelope` then runs from
 * another folder: --version, a local-key round trip, and a folder (which
 * needs the import map: the zip code imports fflate by its bare name).
 *
 * Needs the npm registry (the install caches the runtime's npm packages): it
 * fails, never skips, without it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./support/cli.ts";
import { realDenoDir } from "./support/cli.ts";

const dec = new TextDecoder();

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, cwd, env, clearEnv: true, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("install: deno install -g from a checkout gives an envelope command that round-trips a file and a folder", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-install-" });
  try {
    const root = join(tmp, "root");
    const home = join(tmp, "home");
    await Deno.mkdir(join(home, "docs"), { recursive: true });
    const denoBin = Deno.execPath().replace(/\/[^/]+$/, "");
    const env: Record<string, string> = {
      PATH: `${join(root, "bin")}:${denoBin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      HOME: home,
      DENO_DIR: await realDenoDir(),
      DENO_INSTALL_ROOT: root,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    };
    for (const name of ["NODE_EXTRA_CA_CERTS", "DENO_CERT", "DENO_TLS_CA_STORE", "HTTPS_PROXY", "NO_PROXY"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const inst = await run(
      Deno.execPath(),
      ["install", "-g", "-A", "-n", "envelope", "--config", "deno.json", "--frozen=false", "src/cli/bin.ts"],
      REPO,
      env,
    );
    assert.equal(inst.code, 0, inst.stderr);

    const version = await run("envelope", ["--version"], home, env);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^envelope \d+\.\d+\.\d+/);

    await Deno.writeTextFile(join(home, "note.txt"), "installed");
    const enc = await run("envelope", ["encrypt", "note.txt"], home, env);
    assert.equal(enc.code, 0, enc.stderr);
    const back = await run("envelope", ["decrypt", "-o", "-", "note.txt.envl"], home, env);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, "installed");

    await Deno.writeTextFile(join(home, "docs", "a.txt"), "in a folder");
    const encDir = await run("envelope", ["encrypt", "-d", "docs", "-o", "docs.envl"], home, env);
    assert.equal(encDir.code, 0, encDir.stderr);
    await Deno.remove(join(home, "docs"), { recursive: true });
    const decDir = await run("envelope", ["decrypt", "-d", "docs", "docs.envl"], home, env);
    assert.equal(decDir.code, 0, decDir.stderr);
    assert.equal(await Deno.readTextFile(join(home, "docs", "a.txt")), "in a folder");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
