/**
 * The contenders of `scripts/bench_compare.ts` that need building or
 * installing first: the EVP AES-256-GCM program (compiled with `cc -lcrypto`,
 * installing Debian's libssl-dev when the headers are missing), the AWS
 * Encryption SDK (`npm install` into a cache folder, never into deno.json),
 * envelope's npm package (built by scripts/build_npm.ts, packed and installed
 * from the tarball into the run's temporary folder, as a user installs it),
 * and the probe of the CLI's several-files mode.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..", "..");

/** The pinned SDK release the table compares against. */
export const SDK_PACKAGE = "@aws-crypto/client-node";
export const SDK_VERSION = "5.0.2";

/** A setup step that failed, with the step named and what to do. */
export class SetupFailed extends Error {}

async function run(cmd: string, args: string[], cwd: string, what: string, env?: Record<string, string>) {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new SetupFailed(`${what} failed: cannot run ${cmd} (${(e as Error).message})`);
  }
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  return { code: out.code, stdout: text, stderr: err };
}

async function must(cmd: string, args: string[], cwd: string, what: string): Promise<string> {
  const r = await run(cmd, args, cwd, what);
  if (r.code !== 0) throw new SetupFailed(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}${r.stdout}`);
  return r.stdout;
}

/**
 * Compiles scripts/bench/evp_gcm.c into `dir`; returns the program's path.
 * When OpenSSL's headers are missing it runs `apt-get install -y libssl-dev`
 * unless `install` is false (the tests never install).
 */
export async function buildEvp(dir: string, install = true): Promise<string> {
  const out = join(dir, "evp_gcm");
  const args = ["-O2", "-o", out, join(HERE, "evp_gcm.c"), "-lcrypto"];
  let r = await run("cc", args, dir, "Compiling evp_gcm.c");
  if (install && r.code !== 0 && /openssl\/evp\.h|lcrypto/.test(r.stderr)) {
    console.error("OpenSSL's headers are missing: apt-get install -y libssl-dev");
    await run("apt-get", ["install", "-y", "libssl-dev"], dir, "Installing libssl-dev");
    r = await run("cc", args, dir, "Compiling evp_gcm.c");
  }
  if (r.code !== 0) {
    throw new SetupFailed(`Compiling evp_gcm.c failed; install a C compiler and libssl-dev:\n${r.stderr}`);
  }
  return out;
}

/** Installs the pinned SDK once into node_modules/.cache/ of the repository; returns the folder (its SDK_DIR). */
export async function installSdk(): Promise<string> {
  const dir = join(ROOT, "node_modules", ".cache", "envelope-bench-compare", `aws-crypto-client-node-${SDK_VERSION}`);
  const marker = join(dir, "node_modules", "@aws-crypto", "client-node", "package.json");
  try {
    await Deno.stat(marker);
    return dir;
  } catch {
    // not installed yet
  }
  console.error(`installing ${SDK_PACKAGE}@${SDK_VERSION} into ${dir}`);
  await Deno.mkdir(dir, { recursive: true });
  await must(
    "npm",
    ["install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", `${SDK_PACKAGE}@${SDK_VERSION}`],
    dir,
    `Installing ${SDK_PACKAGE}@${SDK_VERSION} (npm)`,
  );
  return dir;
}

/** The Node contender of the SDK: node, the script, with SDK_DIR in its environment. */
export const SDK_SCRIPT: string = join(HERE, "sdk_contender.mjs");

/** SHA-256 (16 hex digits) of what the npm package is built from: mod.ts, src/, deno.json and the build script. */
async function packageSourceHash(): Promise<string> {
  const files = ["mod.ts", "deno.json", "scripts/build_npm.ts", "scripts/npm/envelope.js"];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(ROOT, rel))) {
      if (e.isDirectory) await walk(`${rel}/${e.name}`);
      else if (e.isFile) files.push(`${rel}/${e.name}`);
    }
  };
  await walk("src");
  const hash = createHash("sha256");
  for (const f of files.sort()) hash.update(f + "\0").update(await Deno.readFile(join(ROOT, f)));
  return hash.digest("hex").slice(0, 16);
}

/**
 * envelope's npm package as a Node user gets it: built by scripts/build_npm.ts
 * (into `dir`), packed, and the tarball installed into a fresh project. The
 * installed project is kept in node_modules/.cache/ under the hash of the
 * sources, so a second run on the same code skips the 30-second build (older
 * ones are removed). Returns the path of bin/envelope.js.
 */
export async function installNodeCli(dir: string): Promise<string> {
  const cache = join(ROOT, "node_modules", ".cache", "envelope-bench-compare");
  const app = join(cache, `node-cli-${await packageSourceHash()}`);
  const bin = join(app, "node_modules", "@envelope", "envelope", "bin", "envelope.js");
  try {
    await Deno.stat(join(app, "installed"));
    return bin;
  } catch {
    // not built for these sources yet
  }
  const pkg = join(dir, "pkg");
  console.error("building the npm package (scripts/build_npm.ts) ...");
  await must(Deno.execPath(), ["run", "-A", join(ROOT, "scripts", "build_npm.ts"), "--out", pkg], ROOT, "Building");
  const packed = JSON.parse(await must("npm", ["pack", "--json", "--pack-destination", dir], pkg, "npm pack"));
  const fresh = join(dir, "node-app");
  await Deno.mkdir(fresh);
  await Deno.writeTextFile(join(fresh, "package.json"), JSON.stringify({ private: true, type: "module" }) + "\n");
  await must(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, packed[0].filename)],
    fresh,
    "Installing the packed envelope package (npm)",
  );
  await Deno.writeTextFile(join(fresh, "installed"), "");
  await Deno.remove(pkg, { recursive: true });
  await Deno.mkdir(cache, { recursive: true });
  for await (const e of Deno.readDir(cache)) {
    if (e.name.startsWith("node-cli-")) await Deno.remove(join(cache, e.name), { recursive: true }).catch(() => {});
  }
  // A copy, not a rename: the temporary folder may be on another file system. Another run may have won meanwhile.
  const part = `${app}.part-${Deno.pid}`;
  const r = await run("cp", ["-r", fresh, part], dir, "Caching the npm package");
  if (r.code === 0) await Deno.rename(part, app).catch(() => {});
  await Deno.remove(part, { recursive: true }).catch(() => {});
  return (await Deno.stat(join(app, "installed")).then(() => true, () => false))
    ? bin
    : join(fresh, "node_modules", "@envelope", "envelope", "bin", "envelope.js");
}

/** How the CLI takes many files: all in one run (`encrypt -k K a b c`), or one process per file. */
export interface ManyFiles {
  readonly several: boolean;
  /** What `encrypt a` names its output: "a" + this (".envl", or ".envelope" ...). */
  readonly suffix: string;
  /** `decrypt a.envl b.envl` works too. */
  readonly severalDecrypt: boolean;
}

/**
 * Tries `argv... encrypt -k local:KEY a b` on two tiny files in a fresh
 * folder under `dir`: several inputs are supported when both outputs appear.
 * Then the same for decrypt (into a second folder, so nothing is replaced).
 */
export async function probeManyFiles(
  argv: readonly string[],
  env: Record<string, string>,
  dir: string,
  keyFile: string,
): Promise<ManyFiles> {
  const probe = join(dir, "probe");
  await Deno.mkdir(probe);
  try {
    for (const n of ["a", "b"]) await Deno.writeTextFile(join(probe, n), `probe ${n}\n`);
    const enc = await run(
      argv[0],
      [...argv.slice(1), "encrypt", "-k", `local:${keyFile}`, "a", "b"],
      probe,
      "probe",
      env,
    );
    const names: string[] = [];
    for await (const e of Deno.readDir(probe)) names.push(e.name);
    const outA = names.find((n) => n.startsWith("a.") && n !== "a");
    const outB = names.find((n) => n.startsWith("b.") && n !== "b");
    if (enc.code === 0 && outA && outB) {
      const suffix = outA.slice(1);
      await Deno.remove(join(probe, "a"));
      await Deno.remove(join(probe, "b"));
      const dec = await run(
        argv[0],
        [...argv.slice(1), "decrypt", "-k", `local:${keyFile}`, `a${suffix}`, `b${suffix}`],
        probe,
        "probe",
        env,
      );
      const back = await Deno.readTextFile(join(probe, "b")).catch(() => "");
      return { several: true, suffix, severalDecrypt: dec.code === 0 && back === "probe b\n" };
    }
    // One input only: learn the output name from a single run.
    const one = await run(argv[0], [...argv.slice(1), "encrypt", "-k", `local:${keyFile}`, "a"], probe, "probe", env);
    if (one.code !== 0) throw new SetupFailed(`The CLI probe failed (exit ${one.code}):\n${one.stderr}`);
    const after: string[] = [];
    for await (const e of Deno.readDir(probe)) after.push(e.name);
    const out = after.find((n) => n.startsWith("a.") && n !== "a");
    if (!out) throw new SetupFailed(`The CLI probe failed: encrypt a wrote no a.* file (${after.join(", ")})`);
    return { several: false, suffix: out.slice(1), severalDecrypt: false };
  } finally {
    await Deno.remove(probe, { recursive: true });
  }
}
