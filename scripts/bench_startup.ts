/**
 * Start-up time of the CLI, as a script that calls it once per file sees it:
 * the wall time of whole runs (spawn to exit) of `envelope --version`, a
 * local-key encrypt of a 3-byte file (to stdout, and to a file it replaces:
 * temporary file, `fsync`, `rename`; and to a file in a folder of 20,000
 * files, which a script calling the CLI once per file into one folder
 * fills; and from stdin), its decrypt, `inspect` and a `rewrap` that adds a
 * key, next to Deno
 * running an empty script (the floor for `deno run`) and Debian's `age` doing
 * the same jobs (the reference). Prints a markdown table of medians with the
 * machine, the run count and the load average before and after.
 *
 *   deno run -A scripts/bench_startup.ts [--runs 15] [--repo DIR] [--compare DIR] [--binary PATH]
 *
 * Columns: `deno run -A mod.ts` (from --repo, default this checkout, with its
 * deno.json and the real Deno cache, warm), `src/cli/bin.ts` (what `deno
 * install` and `deno task envelope` run: the CLI without the library that
 * mod.ts exports), the compiled binary (--binary, else
 * `dist/envelope` when `deno task compile` built it), and `age`; --compare adds
 * a column for another checkout (say, an older commit from `git archive`). The
 * commands run round-robin, so a change of load falls on all alike; two
 * unmeasured rounds come first, so caches are warm. Each cell is the median of
 * --runs runs, with the ratio to the empty `deno run` in brackets.
 *
 * The aim (issue 13): a small local-key encrypt within 1.5x of the empty start-up.
 * Nothing here is asserted: the numbers depend on the machine and its load.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { machineLine, networkEnv } from "./machine.ts";
import { loadAverage, median } from "./bench/measure.ts";
import { realDenoDir } from "../tests/support/cli.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}

const HERE = fileURLToPath(new URL("..", import.meta.url));
const repo = resolve(flag("repo", HERE));
const runs = Math.max(3, Number(flag("runs", "15")));
const binaryFlag = flag("binary", "");
const compareFlag = flag("compare", "");
const compare = compareFlag ? resolve(compareFlag) : "";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const tmp = await Deno.makeTempDir({ prefix: "envelope-bench-startup-" });
const home = join(tmp, "home");
await Deno.mkdir(home);
const plain = join(tmp, "small.txt");
const SMALL = new TextEncoder().encode("abc");
await Deno.writeFile(plain, SMALL);
// The key a rewrap adds (a local key file of the same format as the default one).
const secondKey = join(tmp, "second.key");
await Deno.writeTextFile(join(tmp, "empty.ts"), "");
// A folder that a script calling the CLI once per file has filled: each run writes one more output into it.
const CROWD = 20_000;
const crowd = join(tmp, "crowd");
await Deno.mkdir(crowd);
for (let i = 0; i < CROWD; i++) {
  Deno.writeFileSync(join(crowd, `f${String(i).padStart(5, "0")}.envl`), new Uint8Array(0));
}
// The floor of any CLI built on Node's APIs in Deno: loading the first node: modules starts Deno's Node layer.
await Deno.writeTextFile(join(tmp, "node_apis.ts"), 'import "node:process";\nimport "node:fs/promises";\n');
// The WASM core in process: importing its module (the base64 source) and decoding, compiling, instantiating it.
await Deno.writeTextFile(
  join(tmp, "core.ts"),
  `const t0 = performance.now();
const { loadCore } = await import(${JSON.stringify(new URL("src/crypto/wasm.ts", `file://${repo}/`).href)});
const t1 = performance.now();
await loadCore();
console.log(JSON.stringify([t1 - t0, performance.now() - t1]));
`,
);

const env: Record<string, string> = {
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: home,
  DENO_NO_UPDATE_CHECK: "1",
  NO_COLOR: "1",
};
// The real Deno cache (HOME is a temporary folder): the runs measure a warm start, not a download.
env.DENO_DIR = await realDenoDir();
Object.assign(env, networkEnv());

interface Cmd {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** What to write to its stdin (closed after); none: stdin is /dev/null. */
  readonly input?: Uint8Array;
}

/** Runs once; throws with stderr when it fails (a broken benchmark must not print numbers). */
async function runOnce(c: Cmd): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(c.program, {
    args: [...c.args],
    cwd: c.cwd,
    clearEnv: true,
    env,
    stdin: c.input ? "piped" : "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (c.input) {
    const w = child.stdin.getWriter();
    await w.write(c.input);
    await w.close();
  }
  const out = await child.output();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(
      `${c.program} ${c.args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return ms;
}

/**
 * Times every command `runs` times, round-robin (one run of each per round),
 * so a change of the machine's load during the benchmark falls on all of
 * them alike; two unmeasured rounds first. Resolves to each one's median.
 */
async function medians(cmds: Cmd[]): Promise<number[]> {
  const times: number[][] = cmds.map(() => []);
  for (let round = -2; round < runs; round++) {
    for (const [i, c] of cmds.entries()) {
      const ms = await runOnce(c);
      if (round >= 0) times[i].push(ms);
    }
  }
  return times.map(median);
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
/**
 * `deno run -A ENTRY` in `dir`: `mod.ts` (the library and the CLI), or `src/cli/bin.ts` (the installed command's
 * entry, `deno install` and `deno task envelope`: the CLI without the library).
 */
const viaDenoIn = (dir: string, entry = "mod.ts"): Runner => (args) => ({
  program: deno,
  args: ["run", "-A", "--quiet", join(dir, entry), ...args],
  cwd: dir,
});
const binary = binaryFlag ? resolve(binaryFlag) : join(repo, "dist", "envelope");
const haveBinary = await exists(binary);
const viaBinary: Runner = (args) => ({ program: binary, args, cwd: tmp });

/**
 * The eight jobs of one column (version, encrypt to stdout, encrypt to a file, decrypt, inspect, encrypt to a file in
 * a crowded folder, encrypt from stdin, rewrap), after the untimed encrypt and keygen they need. The file is replaced at each run (`--force`): a temporary file
 * beside it, `fsync`, `rename`.
 */
async function envelopeJobs(run: Runner, tag: string): Promise<Cmd[]> {
  const sealed = join(tmp, `small.${tag}.envl`);
  // The default local key is created by the first encrypt (not timed), and the key a rewrap adds by keygen.
  await setup(run(["encrypt", "-o", sealed, plain]));
  if (!(await exists(secondKey))) await setup(run(["keygen", "-o", secondKey]));
  return [
    run(["--version"]),
    run(["encrypt", "-o", "-", plain]),
    run(["encrypt", "--force", "-o", join(tmp, `again.${tag}.envl`), plain]),
    run(["decrypt", "-o", "-", sealed]),
    run(["inspect", sealed]),
    run(["encrypt", "--force", "-o", join(crowd, `again.${tag}.envl`), plain]),
    { ...run(["encrypt", "-o", "-"]), input: SMALL },
    run(["rewrap", sealed, "-k", `local:${secondKey}`, "--force", "-o", join(tmp, `rewrapped.${tag}.envl`)]),
  ];
}

async function ageJobs(): Promise<(Cmd | null)[] | null> {
  try {
    await setup({ program: "age", args: ["--version"], cwd: tmp });
  } catch {
    return null;
  }
  const identity = join(tmp, "age.key");
  await setup({ program: "age-keygen", args: ["-o", identity], cwd: tmp });
  const recipient = (await Deno.readTextFile(identity)).match(/public key: (age1\S+)/)![1];
  const sealed = join(tmp, "small.age");
  await setup({ program: "age", args: ["-r", recipient, "-o", sealed, plain], cwd: tmp });
  return [
    { program: "age", args: ["--version"], cwd: tmp },
    { program: "age", args: ["-r", recipient, plain], cwd: tmp },
    { program: "age", args: ["-r", recipient, "-o", join(tmp, "again.age"), plain], cwd: tmp },
    { program: "age", args: ["-d", "-i", identity, sealed], cwd: tmp },
    null, // age has no inspect
    { program: "age", args: ["-r", recipient, "-o", join(crowd, "again.age"), plain], cwd: tmp },
    { program: "age", args: ["-r", recipient], cwd: tmp, input: SMALL },
    null, // nor a rewrap
  ];
}

const NA = ["n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"];

/** Medians of the in-process times the core.ts script prints: [import of wasm.ts, loadCore()]. */
async function coreTimes(): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = await new Deno.Command(deno, {
      args: ["run", "-A", "--quiet", join(tmp, "core.ts")],
      cwd: repo,
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const [x, y] = JSON.parse(new TextDecoder().decode(out.stdout)) as [number, number];
    a.push(x);
    b.push(y);
  }
  return [median(a), median(b)];
}
const loadBefore = await loadAverage();
const columns: { head: string; cells: (number | string)[] }[] = [];
let empty: number;
let nodeApis: number;
let core: [number, number];
try {
  const emptyJob: Cmd = { program: deno, args: ["run", "--quiet", join(tmp, "empty.ts")], cwd: tmp };
  const nodeApisJob: Cmd = { program: deno, args: ["run", "-A", "--quiet", join(tmp, "node_apis.ts")], cwd: tmp };
  const groups: { head: string; jobs: (Cmd | null)[] | null }[] = [
    { head: `deno run -A mod.ts${compare ? " (repo)" : ""}`, jobs: await envelopeJobs(viaDenoIn(repo), "deno") },
  ];
  if (await exists(join(repo, "src", "cli", "bin.ts"))) {
    groups.push({
      head: "src/cli/bin.ts (installed command)",
      jobs: await envelopeJobs(viaDenoIn(repo, join("src", "cli", "bin.ts")), "entry"),
    });
  }
  if (compare) {
    groups.push({ head: "deno run -A mod.ts (compare)", jobs: await envelopeJobs(viaDenoIn(compare), "cmp") });
  }
  groups.push({ head: "compiled binary", jobs: haveBinary ? await envelopeJobs(viaBinary, "bin") : null });
  groups.push({ head: "age", jobs: await ageJobs() });
  const all = [emptyJob, nodeApisJob, ...groups.flatMap((g) => (g.jobs ?? []).filter((j) => j !== null))];
  const got = await medians(all);
  empty = got[0];
  nodeApis = got[1];
  let at = 2;
  for (const g of groups) {
    if (g.jobs === null) {
      columns.push({ head: g.head, cells: NA });
      continue;
    }
    const cells: (number | string)[] = g.jobs.map((j) => j === null ? "n/a" : got[at++]);
    while (cells.length < NA.length) cells.push("n/a");
    columns.push({ head: g.head, cells });
  }
  core = await coreTimes();
} finally {
  await Deno.remove(tmp, { recursive: true });
}
const loadAfter = await loadAverage();

const labels = [
  "`--version`",
  "encrypt 3 B, local key",
  "encrypt 3 B to a file",
  "decrypt it",
  "`inspect` it",
  `encrypt 3 B to a file in a folder of ${CROWD.toLocaleString("en-US")} files`,
  "encrypt 3 B from stdin",
  "rewrap it, adding a second local key",
];
const cell = (v: number | string) => typeof v === "number" ? `${v.toFixed(0)} ms (${(v / empty).toFixed(2)}x)` : v;
console.log(machineLine());
console.log(`repo: ${repo}${compare ? `; compare: ${compare}` : ""}`);
console.log(
  `median wall time of ${runs} runs (round-robin over all commands, after 2 unmeasured rounds), ratio to the empty deno run in brackets`,
);
console.log(`load average before: ${loadBefore}; after: ${loadAfter}`);
console.log();
console.log(`| job | ${columns.map((c) => c.head).join(" | ")} |`);
console.log(`| --- |${columns.map(() => " ---: |").join("")}`);
console.log(`| \`deno run\` of an empty script | ${cell(empty)} |${columns.slice(1).map(() => " |").join("")}`);
console.log(
  `| \`deno run\` of \`import "node:process"; import "node:fs/promises"\` | ${cell(nodeApis)} |${
    columns.slice(1).map(() => " |").join("")
  }`,
);
for (const [i, label] of labels.entries()) {
  console.log(`| ${label} | ${columns.map((c) => cell(c.cells[i])).join(" | ")} |`);
}
console.log(
  `\nWASM core, in process (median of ${runs}): importing src/crypto/wasm.ts ${core[0].toFixed(1)} ms; ` +
    `decoding, compiling and instantiating it (loadCore) ${core[1].toFixed(1)} ms`,
);
if (!haveBinary) console.log(`\ncompiled binary: ${binary} does not exist (build it with \`deno task compile\`)`);
