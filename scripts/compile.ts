/**
 * Builds the single-file `envelope` binary with `deno compile` and smoke-tests
 * it: `--version`, then a local-key encrypt and decrypt of a small file in a
 * temporary HOME, which must give the bytes back.
 *
 *   deno task compile [--out dist/envelope] [--no-smoke]
 *
 * `deno compile` joins the program to `denort`, Deno's runtime without the
 * CLI, for the target (here linux-x64, Deno 2.9.6). It downloads denort from
 * dl.deno.land unless `DENORT_BIN` names a local copy. Where neither works
 * (no route to that host, and no npm package ships denort: npm has the full
 * CLI as `@deno/linux-x64-glibc`, which is not a runtime for compiled
 * programs), this exits 3 with that explanation, so CI can tell "cannot be
 * built here" from "built and broken" (exit 1).
 *
 * The CLI loads its commands, cloud providers, zip and age code with
 * `importLater` (src/import_later.ts), out of sight of the module graph, so
 * those folders are passed to `--include`.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Exit status when denort cannot be had: nothing was built, nothing is broken. */
export const NO_DENORT = 3;
/** The folders whose modules load through importLater and must be in the binary. */
const INCLUDE = ["src/cli", "src/keys", "src/kms", "src/s3", "src/archive", "src/compat", "src/io", "src/envelope"];

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}

const out = resolve(ROOT, flag("out", "dist/envelope"));
const smoke = !Deno.args.includes("--no-smoke");
const dec = new TextDecoder();

function fail(message: string, hint: string, status = 1): never {
  console.error(`error: ${message}`);
  console.error(`hint: ${hint}`);
  Deno.exit(status);
}

async function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const o = await new Deno.Command(cmd, { args, cwd: opts.cwd, env: opts.env, stdout: "piped", stderr: "piped" })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

await Deno.mkdir(dirname(out), { recursive: true });
const denort = Deno.env.get("DENORT_BIN");
const built = await run(Deno.execPath(), [
  "compile",
  "-A",
  "--quiet",
  "--config",
  join(ROOT, "deno.json"),
  ...INCLUDE.flatMap((d) => ["--include", join(ROOT, d)]),
  "--output",
  out,
  join(ROOT, "src", "cli", "bin.ts"), // the CLI without the library mod.ts exports
], { cwd: ROOT });
if (built.code !== 0) {
  const text = built.stderr + built.stdout;
  if (!denort && /dl\.deno\.land|dns error|lookup address|error sending request|Connect/i.test(text)) {
    fail(
      `Compiling ${out} failed: deno compile could not download denort ${Deno.version.deno} (the runtime it joins ` +
        `the program to) from dl.deno.land, which this machine cannot reach, and no npm package ships denort`,
      `set DENORT_BIN to a denort ${Deno.version.deno} binary for ${Deno.build.target} (from a Deno release's ` +
        `denort-${Deno.build.target}.zip) and run again; the full deno binary does not work in its place`,
      NO_DENORT,
    );
  }
  fail(
    `Compiling ${out} failed (deno compile exited ${built.code}): ${text.trim()}`,
    "see the deno compile output above",
  );
}
console.log(`built ${out} (${((await Deno.stat(out)).size / 1e6).toFixed(1)} MB)`);
if (!smoke) Deno.exit(0);

const version = await run(out, ["--version"]);
if (!version.stdout.startsWith("envelope ")) {
  fail(
    `The smoke test of ${out} failed: --version printed ${JSON.stringify(version.stdout.trim())}`,
    denort
      ? `DENORT_BIN (${denort}) is not denort ${Deno.version.deno}: the full deno binary runs as the deno CLI`
      : "run the binary by hand to see what it does",
  );
}
const tmp = await Deno.makeTempDir({ prefix: "envelope-compile-smoke-" });
try {
  const env = { HOME: tmp, NO_COLOR: "1" };
  await Deno.writeTextFile(join(tmp, "a.txt"), "smoke");
  const enc = await run(out, ["encrypt", "a.txt"], { cwd: tmp, env });
  const dcr = await run(out, ["decrypt", "-o", "-", "a.txt.envl"], { cwd: tmp, env });
  if (enc.code !== 0 || dcr.code !== 0 || dcr.stdout !== "smoke") {
    fail(
      `The smoke test of ${out} failed: encrypt exited ${enc.code}, decrypt exited ${dcr.code} ` +
        `and gave ${JSON.stringify(dcr.stdout)}: ${enc.stderr}${dcr.stderr}`,
      "run the binary by hand in an empty folder to see what it does",
    );
  }
  console.log(`smoke test passed: ${version.stdout.trim()}, a local-key encrypt and decrypt round trip`);
} finally {
  await Deno.remove(tmp, { recursive: true });
}
