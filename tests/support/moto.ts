/**
 * A moto server (`python3 -m moto.server`) on 127.0.0.1 for tests that talk
 * to AWS KMS with the real SDK.
 *
 * `startMoto()` starts a fresh server on a free port (moto binds port 0 and
 * prints the port it got, so there is no race for the port), waits until it
 * answers, and `close()` stops it and waits for the process to end, so Deno's
 * sanitizers see nothing leaked. Each server has its own empty state: start one
 * per test. Credentials are dummies passed in the client config; the process
 * environment is never changed. Use {@linkcode Moto.env} to point a child
 * process (the CLI, a script) at the server through the standard AWS
 * variables.
 *
 * It throws, never skips, when python3 or moto is missing.
 *
 * @example
 * ```ts ignore
 * const moto = await startMoto();
 * try {
 *   const arn = await moto.createKey();
 *   const kms = new AwsKms({ keyId: arn, client: moto.client() });
 * } finally {
 *   await moto.close();
 * }
 * ```
 *
 * @module
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient, type KMSClientConfig } from "@aws-sdk/client-kms";

/** The region moto clients use unless told otherwise. */
export const MOTO_REGION = "us-east-1";
/** The dummy credentials moto accepts. */
export const MOTO_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

/** A running moto server. */
export interface Moto {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** The region of {@linkcode Moto.client} (moto keeps keys per region). */
  readonly region: string;
  /**
   * A KMS client for this server (dummy credentials, `maxAttempts: 1`). The
   * first call builds a shared client; pass `config` for a new one. All are
   * destroyed by {@linkcode Moto.close}.
   */
  client(config?: Partial<KMSClientConfig>): KMSClient;
  /** Creates a symmetric key; returns its ARN. */
  createKey(description?: string): Promise<string>;
  /** Points `alias/NAME` (the prefix may be given or not) at `keyId`; returns `alias/NAME`. */
  createAlias(name: string, keyId: string): Promise<string>;
  /**
   * Environment variables that point an AWS SDK in a child process at this
   * server: AWS_ENDPOINT_URL_KMS, AWS_REGION, dummy credentials, and
   * AWS_EC2_METADATA_DISABLED so the SDK never probes the instance metadata
   * address.
   */
  env(): Record<string, string>;
  /** The server's last log lines, for failure messages. */
  log(): string;
  /** Stops the server and waits for it to exit. Safe to call twice. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode startMoto}. */
export interface StartMotoOptions {
  /** Region of the clients (default us-east-1). */
  readonly region?: string;
  /** How long to wait for the server to answer (default 30 s). */
  readonly startTimeoutMs?: number;
}

const READY = /Running on http:\/\/127\.0\.0\.1:(\d+)/;
const LOG_LINES = 40;

/** Starts moto on 127.0.0.1 and waits until it answers. */
export async function startMoto(options: StartMotoOptions = {}): Promise<Moto> {
  const region = options.region ?? MOTO_REGION;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("python3", {
      args: ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { PYTHONUNBUFFERED: "1" },
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "Starting moto failed: python3 is not on PATH; install python3 and moto (pip install 'moto[server]')",
      );
    }
    throw err;
  }

  const lines: string[] = [];
  const { promise: portFound, resolve: port } = Promise.withResolvers<number>();
  // Drain stderr for the server's whole life: werkzeug logs every request there and would block on a full pipe.
  const drained = (async () => {
    let pending = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(line);
        if (lines.length > LOG_LINES) lines.shift();
        const m = READY.exec(line);
        if (m) port(Number(m[1]));
      }
    }
    if (pending) lines.push(pending);
  })();
  const log = () => lines.join("\n");

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, 5000);
    try {
      await child.status;
      await drained;
    } finally {
      clearTimeout(timer);
    }
  };

  let endpoint: string;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      portFound.then((p) => ({ port: p })),
      child.status.then((s) => ({ exited: s.code })),
      new Promise<{ late: true }>((resolve) => timer = setTimeout(() => resolve({ late: true }), startTimeoutMs)),
    ]);
    if ("exited" in outcome) {
      await drained;
      const missing = /No module named/.test(log()) ? " (moto is not installed: pip install 'moto[server]')" : "";
      throw new Error(
        `Starting moto failed: python3 -m moto.server exited with code ${outcome.exited}${missing}\n${log()}`,
      );
    }
    if ("late" in outcome) {
      throw new Error(`Starting moto failed: it did not report its port within ${startTimeoutMs} ms\n${log()}`);
    }
    endpoint = `http://127.0.0.1:${outcome.port}`;
    await waitUntilAnswering(endpoint, startTimeoutMs, log);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const clients: KMSClient[] = [];
  let shared: KMSClient | undefined;
  const makeClient = (config: Partial<KMSClientConfig> = {}) => {
    const c = new KMSClient({ region, endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1, ...config });
    clients.push(c);
    return c;
  };
  const client = (config?: Partial<KMSClientConfig>) => {
    if (config) return makeClient(config);
    return shared ??= makeClient();
  };

  const close = async () => {
    for (const c of clients.splice(0)) c.destroy();
    await stop();
  };

  return {
    endpoint,
    region,
    client,
    async createKey(description = "envelope test key") {
      const out = await client().send(new CreateKeyCommand({ Description: description }));
      const arn = out.KeyMetadata?.Arn;
      if (!arn) throw new Error("moto CreateKey returned no ARN");
      return arn;
    },
    async createAlias(name, keyId) {
      const alias = name.startsWith("alias/") ? name : `alias/${name}`;
      await client().send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      return alias;
    },
    env() {
      return {
        AWS_ENDPOINT_URL_KMS: endpoint,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: "true",
      };
    },
    log,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Polls moto's own API until it answers 200. */
async function waitUntilAnswering(endpoint: string, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 2000);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: abort.signal });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    } finally {
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Starting moto failed: ${endpoint} did not answer within ${timeoutMs} ms (${last})\n${log()}`);
}
