/**
 * Helpers for the compatibility interop tests: run the real CLI (`deno run -A
 * mod.ts`) and the Python replicas as subprocesses with a controlled
 * environment, make scratch folders, and compare folder trees.
 *
 * Every subprocess gets a clean environment: PATH, a temporary HOME (so the
 * default local key is never the real one), the Deno cache of this process,
 * and what the test adds (moto's or the Alibaba server's variables). Runs are
 * bounded: a child still running after two minutes is killed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "../../src/crypto/random.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SUPPORT = new URL(".", import.meta.url).pathname;
const MOD = join(ROOT, "mod.ts");
const CONFIG = join(ROOT, "deno.json");

/** The path of a file in tests/support. */
export function supportFile(name: string): string {
  return join(SUPPORT, name);
}

/** What a subprocess did. */
export interface RunResult {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
  readonly out: string;
}

function baseEnv(home: string): Record<string, string> {
  const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    DENO_DIR: denoDir,
    NO_COLOR: "1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
  };
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; home: string; env?: Record<string, string>; stdin?: Uint8Array },
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    clearEnv: true,
    env: { ...baseEnv(opts.home), ...opts.env },
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    // Feed stdin while stdout and stderr drain, so neither side blocks on a full pipe. A run that fails
    // before reading all of its input (a malformed token is refused at the first bad character) closes
    // the pipe: that broken pipe is the child's answer, not the test's failure.
    const fed = opts.stdin
      ? (async () => {
        const w = child.stdin.getWriter();
        await w.write(opts.stdin!).catch(() => {});
        await w.close().catch(() => {});
      })()
      : Promise.resolve();
    const [out] = await Promise.all([child.output(), fed]);
    return {
      code: out.code,
      stdout: out.stdout,
      stderr: new TextDecoder().decode(out.stderr),
      out: new TextDecoder().decode(out.stdout),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `deno run -A mod.ts ...args` in `cwd`. */
export function runCli(
  args: string[],
  opts: { cwd: string; home: string; env?: Record<string, string>; stdin?: Uint8Array },
): Promise<RunResult> {
  return run(Deno.execPath(), ["run", "-A", "--config", CONFIG, MOD, ...args], opts);
}

/** Runs `python3 tests/support/<script> ...args` in `cwd`. */
export function runPy(
  script: string,
  args: string[],
  opts: { cwd: string; home: string; env?: Record<string, string> },
): Promise<RunResult> {
  return run("python3", [supportFile(script), ...args], opts);
}

/** Asserts exit code 0, showing stderr otherwise. */
export function ok(r: RunResult, what: string): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}${r.out}`);
}

/** Asserts a failure with the `[CODE]` the CLI prints. */
export function failsWith(r: RunResult, code: string, what: string): void {
  assert.notEqual(r.code, 0, `${what} should have failed:\n${r.out}`);
  assert.match(r.stderr, new RegExp(`\\[${code}\\]`), `${what}: expected ${code}, got:\n${r.stderr}`);
}

/** A new scratch folder; remove it with `Deno.remove(path, { recursive: true })`. */
export function scratch(prefix: string): Promise<string> {
  return Deno.makeTempDir({ prefix: `envelope-${prefix}-` });
}

/**
 * The tree under `dir` as sorted lines: `d name/` for folders (so empty ones
 * count), `f name sha256` for files.
 */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const name = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.push(`d ${name}/`);
        await walk(name);
      } else {
        out.push(`f ${name} ${createHash("sha256").update(await readFile(join(dir, name))).digest("hex")}`);
      }
    }
  }
  await walk("");
  return out.sort();
}

/** Writes a small application tree with nested and empty folders, a binary and an empty file. */
export async function makeAppTree(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "lib", "deep", "er"), { recursive: true });
  await Deno.mkdir(join(dir, "empty"), { recursive: true });
  await Deno.mkdir(join(dir, "lib", "empty-inner"), { recursive: true });
  await Deno.writeTextFile(join(dir, "print-hello.py"), 'print("hello from the enclave")\n');
  await Deno.writeTextFile(join(dir, "lib", "util.py"), "X = 1\n".repeat(1000));
  await Deno.writeTextFile(join(dir, "lib", "deep", "er", "data.txt"), "deep\n");
  await Deno.writeFile(join(dir, "lib", "model.bin"), randomBytes(50_000));
  await Deno.writeFile(join(dir, "empty.txt"), new Uint8Array(0));
  await Deno.writeTextFile(join(dir, "ünïcode name.txt"), "utf-8 names\n");
}

/** The names in `dir` (to check that a failure left nothing behind). */
export async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}
