/**
 * Start-up time of the CLI, as a script that calls it once per file sees it:
 * the wall time of whole runs (spawn to exit) of `envelope --version`, a
 * local-key encrypt of a 3-byte file, its decrypt and `inspect`, next to Deno
 * running an empty script (the floor for `deno run`) and Debian's `age` doing
 * the same jobs (the reference). Prints a markdown table of medians with the
 * machine, the run count and the load average before and after.
 *
 *   deno run -A scripts/bench_startup.ts [--runs 15] [--repo DIR] [--binary PATH]
 *
 * Columns: `deno run -A mod.ts` (from --repo, default this checkout, with its
 * deno.json and the real Deno cache, warm), the compiled binary (--binary, else
 * `dist/envelope` when `deno task compile` built it), and `age`. Two unmeasured
 * runs of each command come first, so caches are warm. Each cell is the median
 * of --runs runs, with the ratio to the empty `deno run` in brackets.
 *
 * The aim (issue 13): a small local-key encrypt within 1.5x of the empty start-up.
 * Nothing here is asserted: the numbers depend on the machine and its load.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { machineLine } from "./machine.ts";
import { realDenoDir } from "../tests/support/cli.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}

const HERE = fileURLToPath(new URL("..", import.meta.url));
const repo = resolve(flag("repo", HERE));
const runs = Math.max(3, Number(flag("runs", "15")));
const binaryFlag = flag("binary", "");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function loadAvg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

const tmp = await Deno.makeTempDir({ prefix: "envelope-bench-startup-" });
const home = join(tmp, "home");
await Deno.mkdir(home);
const plain = join(tmp, "small.txt");
await Deno.writeFile(plain, new TextEncoder().encode("abc"));
await Deno.writeTextFile(join(tmp, "empty.ts"), "");

const env: Record<string, string> = {
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: home,
  DENO_NO_UPDATE_CHECK: "1",
  NO_COLOR: "1",
};
// The real Deno cache (HOME is a temporary folder): the runs measure a warm start, not a download.
env.DENO_DIR = await realDenoDir();
for (
  const name of [
    "DENO_TLS_CA_STORE",
    "DENO_CERT",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
  ]
) {
  const value = Deno.env.get(name);
  if (value !== undefined) env[name] = value;
}

interface Cmd {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/** Runs once; throws with stderr when it fails (a broken benchmark must not print numbers). */
async function runOnce(c: Cmd): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(c.program, {
    args: [...c.args],
    cwd: c.cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(
      `${c.program} ${c.args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return ms;
}

async function median(c: Cmd): Promise<number> {
  await runOnce(c);
  await runOnce(c);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await runOnce(c));
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  return times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2;
}

/** Runs a setup step whose output is a file (not timed). */
async function setup(c: Cmd, stdoutTo?: string): Promise<void> {
  const out = await new Deno.Command(c.program, {
    args: [...c.args],
    cwd: c.cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`setup ${c.program} ${c.args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  if (stdoutTo) await Deno.writeFile(stdoutTo, out.stdout);
}

type Runner = (args: readonly string[]) => Cmd;

const deno = Deno.execPath();
const viaDeno: Runner = (args) => ({
  program: deno,
  args: ["run", "-A", "--quiet", join(repo, "mod.ts"), ...args],
  cwd: repo,
});
const binary = binaryFlag ? resolve(binaryFlag) : join(repo, "dist", "envelope");
const haveBinary = await exists(binary);
const viaBinary: Runner = (args) => ({ program: binary, args, cwd: tmp });

interface Row {
  readonly label: string;
  readonly cells: (number | string)[];
}

/** The envelope jobs for one way of running it: version, encrypt, decrypt, inspect. */
async function envelopeColumn(run: Runner, tag: string): Promise<number[]> {
  const sealed = join(tmp, `small.${tag}.envl`);
  // The default local key is created by the first encrypt (not timed).
  await setup(run(["encrypt", "-o", sealed, plain]));
  return [
    await median(run(["--version"])),
    await median(run(["encrypt", "-o", "-", plain])),
    await median(run(["decrypt", "-o", "-", sealed])),
    await median(run(["inspect", sealed])),
  ];
}

async function ageColumn(): Promise<(number | string)[]> {
  try {
    await setup({ program: "age", args: ["--version"], cwd: tmp });
  } catch {
    return ["n/a", "n/a", "n/a", "n/a"];
  }
  const identity = join(tmp, "age.key");
  await setup({ program: "age-keygen", args: ["-o", identity], cwd: tmp });
  const recipient = (await Deno.readTextFile(identity)).match(/public key: (age1\S+)/)![1];
  const sealed = join(tmp, "small.age");
  await setup({ program: "age", args: ["-r", recipient, "-o", sealed, plain], cwd: tmp });
  return [
    await median({ program: "age", args: ["--version"], cwd: tmp }),
    await median({ program: "age", args: ["-r", recipient, plain], cwd: tmp }),
    await median({ program: "age", args: ["-d", "-i", identity, sealed], cwd: tmp }),
    "n/a (no inspect in age 1.1)",
  ];
}

const loadBefore = await loadAvg();
let rows: Row[];
let empty: number;
try {
  empty = await median({ program: deno, args: ["run", "--quiet", join(tmp, "empty.ts")], cwd: tmp });
  const viaDenoCol = await envelopeColumn(viaDeno, "deno");
  const binCol = haveBinary ? await envelopeColumn(viaBinary, "bin") : ["n/a", "n/a", "n/a", "n/a"];
  const ageCol = await ageColumn();
  const labels = ["`--version`", "encrypt 3 B, local key", "decrypt it", "`inspect` it"];
  rows = [
    { label: "`deno run` of an empty script", cells: [empty, "", ""] },
    ...labels.map((label, i) => ({ label, cells: [viaDenoCol[i], binCol[i], ageCol[i]] })),
  ];
} finally {
  await Deno.remove(tmp, { recursive: true });
}
const loadAfter = await loadAvg();

const cell = (v: number | string) => typeof v === "number" ? `${v.toFixed(0)} ms (${(v / empty).toFixed(2)}x)` : v;
console.log(machineLine());
console.log(`repo: ${repo}`);
console.log(`median wall time of ${runs} runs (after 2 unmeasured), ratio to the empty deno run in brackets`);
console.log(`load average before: ${loadBefore}; after: ${loadAfter}`);
console.log();
console.log(`| job | deno run -A mod.ts | compiled binary | age |`);
console.log(`| --- | ---: | ---: | ---: |`);
for (const r of rows) console.log(`| ${r.label} | ${r.cells.map(cell).join(" | ")} |`);
if (!haveBinary) console.log(`\ncompiled binary: ${binary} does not exist (build it with \`deno task compile\`)`);
