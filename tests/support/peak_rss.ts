/**
 * Runs a command and reports its peak resident size (Linux `VmHWM`, read
 * from `/proc/PID/status` every 20 ms while it runs; it only ever grows, so
 * the last reading is the peak up to then) and its wall time. Used by the
 * flat-memory tests and by `scripts/bench_nitro.ts`.
 *
 * @module
 */

/** What a measured run did. */
export interface MeasuredRun {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
  /** Peak resident size in bytes (0 where /proc is missing). */
  readonly peakRss: number;
  readonly seconds: number;
}

async function hwm(pid: number): Promise<number> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await Deno.readTextFile(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs `cmd args` (stdout and stderr piped; keep large outputs in files) and measures it. */
export async function runMeasured(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<MeasuredRun> {
  const start = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  let running = true;
  const poll = (async () => {
    while (running) {
      peak = Math.max(peak, await hwm(child.pid));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const out = await child.output();
  running = false;
  await poll;
  return {
    code: out.code,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
    peakRss: peak,
    seconds: (performance.now() - start) / 1000,
  };
}
