/**
 * Runs the real CLI (`deno run -A mod.ts ...`) in a child process, the way a
 * user would, for the `tests/cli_*_test.ts` suites and `scripts/bench_cli.ts`.
 *
 * Every run gets a clean environment: only PATH, a temporary HOME (so the
 * default local key is never the real one), DENO_DIR pointing at the real
 * Deno cache (so npm packages are not fetched again per run), NO_COLOR=1,
 * and whatever the caller passes. No AWS_* or ALIBABA_CLOUD_* variable is
 * inherited from the test process.
 *
 * @example
 * ```ts ignore
 * const ws = await workspace();
 * try {
 *   const r = await runCli(["encrypt", "a.txt"], { cwd: ws.dir, home: ws.home });
 *   assert.equal(r.code, 0, r.stderr);
 * } finally {
 *   await ws.remove();
 * }
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two folders up from this file). */
export const REPO = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
/** The CLI's entry point. */
export const MOD = join(REPO, "mod.ts");

/** What a run printed and its exit code. */
export interface CliResult {
  readonly code: number;
  /** stdout decoded as UTF-8. */
  readonly stdout: string;
  /** stdout as bytes (for binary output with `-o -`). */
  readonly stdoutBytes: Uint8Array;
  readonly stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Extra environment variables (the environment is otherwise clean). */
  readonly env?: Record<string, string>;
  /** Bytes for stdin (default: stdin is empty). */
  readonly stdin?: Uint8Array;
  /** Working folder (default: the repository root). */
  readonly cwd?: string;
  /** HOME of the run (default: a fresh empty folder, removed afterwards). */
  readonly home?: string;
  /** Kill the run after this long (default 120 s). */
  readonly timeoutMs?: number;
}

let denoDir: Promise<string> | undefined;

/** The real Deno cache folder: $DENO_DIR, else what `deno info --json` says, else ~/.cache/deno. */
export function realDenoDir(): Promise<string> {
  return denoDir ??= (async () => {
    const fromEnv = Deno.env.get("DENO_DIR");
    if (fromEnv) return fromEnv;
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json"],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      const dir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
      if (typeof dir === "string" && dir) return dir;
    } catch {
      // fall through to the default
    }
    return join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  })();
}

/** The clean environment of a run (exported for scripts that run the CLI under another program). */
export async function cliEnv(home: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    DENO_DIR: await realDenoDir(),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    ...extra,
  };
}

/** The argv that runs the CLI with `args` (`deno run -A --config deno.json mod.ts ...`). */
export function cliArgv(args: readonly string[]): string[] {
  return ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), MOD, ...args];
}

/** Runs the CLI with `args`; never throws for a non-zero exit. */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const home = options.home ?? await Deno.makeTempDir({ prefix: "envelope-cli-home-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgv(args),
      cwd: options.cwd ?? REPO,
      clearEnv: true,
      env: await cliEnv(home, options.env),
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
    }).spawn();
    // Feed stdin while stdout and stderr are drained, so neither side blocks
    // on a full pipe; the CLI may exit before reading everything (an error):
    // a broken pipe is ignored.
    const fed = options.stdin
      ? (async () => {
        const w = child.stdin.getWriter();
        await w.write(options.stdin!).catch(() => {});
        await w.close().catch(() => {});
      })()
      : Promise.resolve();
    const [out] = await Promise.all([child.output(), fed]);
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stdoutBytes: out.stdout,
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    if (options.home === undefined) await Deno.remove(home, { recursive: true });
  }
}

/** What `envelope inspect --json` prints for an envelope file. */
export interface InspectJson {
  readonly format: string;
  readonly version: number;
  readonly suite: number;
  readonly chunkSize: number;
  readonly context: Record<string, string>;
  readonly keys: readonly { readonly provider: string; readonly keyId: string; readonly wrappedBytes: number }[];
  readonly headerLength: number;
}

/** A temporary folder for one test, with an empty HOME inside it. */
export interface Workspace {
  readonly dir: string;
  readonly home: string;
  /** `join(dir, ...parts)` */
  path(...parts: string[]): string;
  /** Runs the CLI in `dir` with HOME `home`. */
  run(args: readonly string[], options?: Omit<RunCliOptions, "cwd" | "home">): Promise<CliResult>;
  remove(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Makes a fresh workspace; `remove()` (or `await using`) deletes it. */
export async function workspace(): Promise<Workspace> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "envelope-cli-" }));
  const home = join(dir, "home");
  await Deno.mkdir(home);
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    dir,
    home,
    path: (...parts) => join(dir, ...parts),
    run: (args, options = {}) => runCli(args, { ...options, cwd: dir, home }),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/** Asserts-friendly summary of a run for failure messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;
}

/**
 * The names in `dir` that look like temporary outputs the CLI left: `.*.part` files and `.NAME.envelope-<pid>-XXXXXX`
 * folders (and the older `.envelope-extract-*`, `.NAME.extract-*` forms).
 */
export async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (/^\..*(\.part$|extract-|\.envelope-\d+-[A-Za-z0-9]{6}$)/.test(e.name)) {
      out.push(e.name);
    }
  }
  return out.sort();
}

/** True when something is at `path` (not following a final link). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** `n` random bytes (any length). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
