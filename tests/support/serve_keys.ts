/**
 * Runs `envelope serve-keys` as a child process (the real CLI), waits for the
 * port it prints, keeps its stderr (one line per request) and stops it with
 * SIGTERM, waiting for it to exit.
 *
 * @module
 */
import { cliArgv, cliEnv, REPO } from "./cli.ts";

/** A running key server. */
export interface KeyServer {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** What it wrote to stdout so far. */
  stdout(): string;
  /** Stops it (SIGTERM) and resolves to its exit code. */
  close(): Promise<number>;
}

/** Starts `envelope serve-keys ARGS --port 0` with `env` added to a clean environment. */
export async function startKeyServer(
  args: readonly string[],
  options: { env?: Record<string, string>; home: string },
): Promise<KeyServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgv(["serve-keys", "--port", "0", ...args]),
    cwd: REPO,
    env: await cliEnv(options.home, options.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const { promise: started, resolve, reject } = Promise.withResolvers<string>();
  const outDone = (async () => {
    for await (const t of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += t;
      const m = /serving data keys at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    }
  })();
  const errDone = (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) err += t;
  })();
  const exited = child.status.then((s) => {
    reject(new Error(`serve-keys exited with ${s.code} before it listened:\n${out}\n${err}`));
    return s.code;
  });
  let stopped: Promise<number> | undefined;
  const close = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const code = await exited;
      await Promise.all([outDone, errDone]);
      return code;
    })();
  const timer = setTimeout(() => reject(new Error(`serve-keys did not listen within 60 s:\n${out}\n${err}`)), 60_000);
  try {
    const url = await started;
    return { url, stderr: () => err, stdout: () => out, close };
  } catch (e) {
    await close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
