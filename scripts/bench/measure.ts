/**
 * Timing of one child process for `scripts/bench_compare.ts`: the command
 * runs under GNU time (`/usr/bin/time -f "%M %U %S" -o FILE`), which reports
 * its peak resident size and CPU seconds (user + system, children included);
 * the wall time is taken here around it (finer than time's 10 ms). Plus the
 * small statistics the tables print: median and range over repetitions.
 *
 * @module
 */
import { join } from "node:path";

/** One measured run. */
export interface Run {
  readonly seconds: number;
  /** Peak resident set size in KiB (GNU time's %M). */
  readonly rssKiB: number;
  /** User + system CPU seconds. */
  readonly cpuSeconds: number;
  readonly stdout: string;
}

/** Where a run reads and writes. */
export interface RunOptions {
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** Kill the child after this long (default 30 minutes). */
  readonly timeoutMs?: number;
}

/** A child that failed: its command, exit code and the end of its stderr (never key material: keys travel in files). */
export class RunFailed extends Error {}

let counter = 0;

/** Runs `argv` under `/usr/bin/time`; throws {@linkcode RunFailed} on a non-zero exit. */
export async function timed(argv: readonly string[], opts: RunOptions): Promise<Run> {
  const report = join(opts.cwd, `.time-${Deno.pid}-${counter++}`);
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M %U %S", "-o", report, ...argv],
    cwd: opts.cwd,
    clearEnv: true,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30 * 60_000),
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const text = await Deno.readTextFile(report).catch(() => "");
  await Deno.remove(report).catch(() => {});
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).slice(-3000);
    throw new RunFailed(`${argv.join(" ")} failed (exit ${out.code}):\n${err}`);
  }
  // GNU time writes "Command exited with non-zero status" lines first when that happens; the numbers are last.
  const m = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(text);
  if (!m) throw new RunFailed(`could not read /usr/bin/time's report for ${argv[0]}: ${JSON.stringify(text)}`);
  return {
    seconds,
    rssKiB: Number(m[1]),
    cpuSeconds: Number(m[2]) + Number(m[3]),
    stdout: new TextDecoder().decode(out.stdout),
  };
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** `/proc/loadavg`'s three averages, e.g. "0.52 1.10 1.73". */
export async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "? ? ?");
  return text.split(" ").slice(0, 3).join(" ");
}

/** Checks that GNU time is at /usr/bin/time, installing Debian's `time` when apt-get can. */
export async function needGnuTime(): Promise<void> {
  const works = async () => {
    try {
      const out = await new Deno.Command("/usr/bin/time", { args: ["-f", "%M", "true"], stderr: "piped" }).output();
      return out.code === 0 && /^\d+\s*$/.test(new TextDecoder().decode(out.stderr));
    } catch {
      return false;
    }
  };
  if (await works()) return;
  console.error("/usr/bin/time is missing: apt-get install -y time");
  await new Deno.Command("apt-get", { args: ["install", "-y", "time"], stdout: "null", stderr: "inherit" }).output()
    .catch(() => {});
  if (!(await works())) {
    throw new RunFailed("GNU time is needed at /usr/bin/time and installing it failed; run apt-get install time");
  }
}
