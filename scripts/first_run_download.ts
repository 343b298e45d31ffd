/**
 * What a first run downloads: `deno run -A mod.ts encrypt` of a 3-byte file
 * with a fresh, empty DENO_DIR (so nothing is cached), once with the default
 * local key and once naming an AWS KMS key (no credentials: the run fails at
 * the KMS call, after the SDK was fetched and loaded). Prints a markdown table
 * of the bytes left in DENO_DIR, in its npm cache, the npm packages fetched
 * and the wall time, with the load average.
 *
 *   deno run -A scripts/first_run_download.ts [--repo DIR]
 *
 * --repo runs another checkout (an older commit exported with `git archive`,
 * for a before/after comparison). Needs the npm registry for the AWS row.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { machineLine, networkEnv } from "./machine.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}

const repo = resolve(flag("repo", fileURLToPath(new URL("..", import.meta.url))));

/** Bytes of regular files under `dir` (0 when it does not exist). */
async function du(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) total += await du(p);
      else if (e.isFile) total += (await Deno.stat(p)).size;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return total;
}

/** `name@version` of every package in Deno's global npm cache under `dir`. */
async function packages(dir: string): Promise<string[]> {
  const root = join(dir, "npm", "registry.npmjs.org");
  const found: string[] = [];
  const versions = async (path: string, name: string) => {
    for await (const v of Deno.readDir(path)) if (v.isDirectory) found.push(`${name}@${v.name}`);
  };
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory) continue;
      if (e.name.startsWith("@")) {
        for await (const s of Deno.readDir(join(root, e.name))) {
          if (s.isDirectory) await versions(join(root, e.name, s.name), `${e.name}/${s.name}`);
        }
      } else {
        await versions(join(root, e.name), e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found.sort();
}

async function loadAvg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

interface Row {
  readonly label: string;
  readonly code: number;
  readonly total: number;
  readonly npm: number;
  readonly pkgs: string[];
  readonly ms: number;
}

async function firstRun(label: string, extraArgs: string[], extraEnv: Record<string, string>): Promise<Row> {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-first-run-" });
  try {
    const denoDir = join(tmp, "deno_dir");
    const home = join(tmp, "home");
    await Deno.mkdir(home);
    const plain = join(tmp, "small.txt");
    await Deno.writeTextFile(plain, "abc");
    const env: Record<string, string> = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      DENO_DIR: denoDir,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      ...extraEnv,
    };
    Object.assign(env, networkEnv());
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(repo, "mod.ts"), "encrypt", ...extraArgs, "-o", join(tmp, "out.envl"), plain],
      cwd: repo,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(300_000),
    }).output();
    const ms = performance.now() - t0;
    return {
      label,
      code: out.code,
      total: await du(denoDir),
      npm: await du(join(denoDir, "npm")),
      pkgs: await packages(denoDir),
      ms,
    };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const loadBefore = await loadAvg();
const rows = [
  await firstRun("encrypt 3 B, default local key", [], {}),
  await firstRun("encrypt 3 B, -k aws-kms:alias/none (no credentials)", ["-k", "aws-kms:alias/none"], {
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
  }),
];
const loadAfter = await loadAvg();

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
console.log(machineLine());
console.log(`repo: ${repo}`);
console.log(`fresh DENO_DIR per row; load average before: ${loadBefore}; after: ${loadAfter}`);
console.log();
console.log("| first run | exit | DENO_DIR | of which npm | npm packages | top-level names | wall |");
console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
for (const r of rows) {
  const top = [...new Set(r.pkgs.map((p) => p.replace(/@[^@]+$/, "").split("/")[0]))];
  console.log(
    `| ${r.label} | ${r.code} | ${mb(r.total)} | ${mb(r.npm)} | ${r.pkgs.length} | ${top.join(" ") || "none"} | ${
      (r.ms / 1000).toFixed(1)
    } s |`,
  );
}
