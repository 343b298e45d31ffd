/**
 * `kmstool:PATH`: data keys opened by a Nitro enclave's `kmstool_enclave_cli`
 * (aws/aws-nitro-enclaves-sdk-c, `bin/kmstool-enclave-cli`), which attaches
 * the enclave's attestation document to KMS Decrypt through the vsock proxy.
 *
 * The tool is run directly (no shell) with `node:child_process`, so this
 * works on Deno and Node. Its arguments are its interface, including the
 * credentials: `--region` (`AWS_REGION`, else us-east-1), `--proxy-port`
 * (`ENVELOPE_KMSTOOL_PROXY_PORT`, else 8000), `--aws-access-key-id`,
 * `--aws-secret-access-key` and `--aws-session-token` (from
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, each
 * passed only when set) and `--ciphertext` (the blob in standard base64). The
 * secret therefore appears in the tool's argument list, visible to the
 * enclave's own process table, exactly as with the sample's `run.py`.
 *
 * Two generations exist. v0.3.1 and later take the subcommand `decrypt`
 * first and print `PLAINTEXT: <b64>`; older ones take no subcommand and print
 * the bare base64. This provider runs the new form first; when that fails
 * with what looks like a usage error (the old tool does not know `decrypt`),
 * it runs the old form, and remembers which form worked. Either output shape
 * is accepted from either form. Errors become `KMS_FAILED` with the tool's
 * stderr, from which the secret and session token are removed.
 *
 * The tool cannot pass an encryption context, so it opens only blobs made
 * without one.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import process from "node:process";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import type { EncryptionContext, KeyProvider, WrappedKey } from "../keys/provider.ts";

/** Options of {@linkcode KmstoolKey}. */
export interface KmstoolOptions {
  /** The path of `kmstool_enclave_cli`. */
  readonly path: string;
  /** The environment to read region, port and credentials from (default: the process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How long one run may take, in ms (default 60 s). */
  readonly timeoutMs?: number;
}

/** Which argument form a tool takes. */
export type KmstoolGeneration = "subcommand" | "legacy";

/**
 * What a tool prints when it does not understand its arguments. An old tool
 * given `decrypt` either reports an unknown option with its usage (aws-c-common
 * returns a positional argument as 0x02, which its option switch does not
 * know) or, with an older aws-c-common that stops at the first positional,
 * parses no flags at all and says `--aws-access-key-id must be set`.
 */
const USAGE_ERROR =
  /usage|unknown|unrecogni[sz]ed|invalid (option|argument|command)|illegal option|no such (option|command)|must be set/i;
/usage|unknown|unrecognized|unrecogni[sz]ed|invalid (option|argument|command)|illegal option|no such (option|command)/i;
const MAX_OUTPUT = 64 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A {@linkcode KeyProvider} that unwraps `aws-kms` keys through `kmstool_enclave_cli`; decrypt only. */
export class KmstoolKey implements KeyProvider {
  /** Always `kmstool`. */
  readonly provider = "kmstool";
  /** The tool's path. */
  readonly keyId: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #timeoutMs: number;
  #generation?: KmstoolGeneration;

  constructor(options: KmstoolOptions) {
    if (typeof options?.path !== "string" || options.path === "") {
      throw new EnvelopeError("USAGE", "Using kmstool_enclave_cli failed: no path was given", {
        hint: "pass -k kmstool:/path/to/kmstool_enclave_cli",
      });
    }
    this.keyId = options.path;
    this.#env = options.env ?? process.env;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The argument form that worked last, once known. */
  get generation(): KmstoolGeneration | undefined {
    return this.#generation;
  }

  /** kmstool_enclave_cli cannot wrap: it only decrypts. */
  wrap(_dataKey: Uint8Array, _context: EncryptionContext): Promise<WrappedKey> {
    return Promise.reject(
      new EnvelopeError("USAGE", "Wrapping a data key with kmstool_enclave_cli failed: it only decrypts", {
        hint: "encrypt with the AWS KMS key (-k alias/NAME or an ARN) and decrypt in the enclave with -k kmstool:PATH",
      }),
    );
  }

  /** Opens an `aws-kms` wrapped key; `null` for other providers. */
  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array | null> {
    if (wrapped.provider !== "aws-kms") return null;
    if (Object.keys(context).length > 0) {
      throw new EnvelopeError(
        "KMS_FAILED",
        "Decrypting the data key with kmstool_enclave_cli failed: the file has an encryption context, which the tool cannot pass",
        {
          hint: "files for an enclave must be encrypted without -c",
        },
      );
    }
    const key = await this.decryptBlob(wrapped.wrapped);
    if (key.length !== 32) {
      const n = key.length;
      key.fill(0);
      throw new EnvelopeError(
        "INVALID_KEY",
        `Decrypting the data key with kmstool_enclave_cli failed: it opened to ${n} bytes, not 32`,
        {
          hint: "the wrapped key was not a 32-byte data key",
        },
      );
    }
    return key;
  }

  /** Runs the tool on a raw CiphertextBlob and returns the plaintext bytes. */
  async decryptBlob(blob: Uint8Array): Promise<Uint8Array> {
    const common = this.#args(encodeBase64(blob));
    const forms: KmstoolGeneration[] = this.#generation === "legacy" ? ["legacy"] : ["subcommand", "legacy"];
    const runs: Run[] = [];
    for (const form of forms) {
      const run = await this.#run(form === "subcommand" ? ["decrypt", ...common] : common);
      if (run.code === 0) {
        const key = parsePlaintext(run.stdout);
        if (key !== undefined) {
          this.#generation = form;
          return key;
        }
        throw this.#failed(run, "its output is not a base64 plaintext");
      }
      runs.push(run);
      // Only a usage error from the new form means "try the old form"; anything else is the real failure.
      if (!(form === "subcommand" && this.#generation === undefined && isUsageError(run))) break;
    }
    // Report the run that failed for a reason other than its arguments, if there is one.
    const telling = runs.findLast((r) => !isUsageError(r)) ?? runs[0];
    throw this.#failed(telling, `it exited with code ${telling.code}`);
  }

  #args(ciphertext: string): string[] {
    const env = (name: string) => {
      const v = this.#env[name];
      return typeof v === "string" && v !== "" ? v : undefined;
    };
    const args = [
      "--region",
      env("AWS_REGION") ?? "us-east-1",
      "--proxy-port",
      env("ENVELOPE_KMSTOOL_PROXY_PORT") ?? "8000",
    ];
    const creds: [string, string][] = [
      ["--aws-access-key-id", "AWS_ACCESS_KEY_ID"],
      ["--aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"],
      ["--aws-session-token", "AWS_SESSION_TOKEN"],
    ];
    for (const [flag, name] of creds) {
      const v = env(name);
      if (v !== undefined) args.push(flag, v);
    }
    args.push("--ciphertext", ciphertext);
    return args;
  }

  #run(args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = spawn(this.keyId, args, { stdio: ["ignore", "pipe", "pipe"], shell: false });
      } catch (err) {
        reject(this.#spawnError(err));
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      child.stdout.on("data", (d: Buffer) => {
        if ((outLen += d.length) <= MAX_OUTPUT) out.push(d);
      });
      child.stderr.on("data", (d: Buffer) => {
        if ((errLen += d.length) <= MAX_OUTPUT) err.push(d);
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, this.#timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(this.#spawnError(e));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(
            new EnvelopeError(
              "KMS_TIMEOUT",
              `Decrypting the data key with ${this.keyId} failed: it did not finish within ${this.#timeoutMs} ms`,
              {
                hint: "check that the vsock proxy to KMS is running on the parent instance (--proxy-port)",
              },
            ),
          );
          return;
        }
        const stdout = Buffer.concat(out).toString("utf8");
        const stderr = Buffer.concat(err).toString("utf8");
        resolve({ code, stdout, stderr });
      });
    });
  }

  #spawnError(err: unknown): EnvelopeError {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT"
      ? "it does not exist"
      : code === "EACCES"
      ? "it is not executable"
      : String((err as Error)?.message ?? err);
    return new EnvelopeError("KMS_FAILED", `Running ${this.keyId} failed: ${why}`, {
      hint: "pass the path of kmstool_enclave_cli: -k kmstool:/app/kmstool_enclave_cli",
    });
  }

  #failed(run: Run, why: string): EnvelopeError {
    // stderr only: the plaintext key is printed on stdout (as PLAINTEXT: ..., or bare base64 by older builds).
    let text = run.stderr.trim().replace(/\s+/g, " ");
    for (const name of ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
      const v = this.#env[name];
      if (typeof v === "string" && v.length >= 4) text = text.split(v).join("[redacted]");
    }
    // Nor anything on stderr that could be a key or a token: any long base64 run.
    text = text.replace(/PLAINTEXT:\s*\S+/g, "PLAINTEXT: [redacted]").replace(
      /[A-Za-z0-9+/_-]{24,}={0,2}/g,
      (run) => /[0-9+/]/.test(run) ? "[redacted]" : run, // a word such as AccessDeniedException stays
    );
    if (text.length > 300) text = text.slice(0, 300) + "...";
    return new EnvelopeError(
      "KMS_FAILED",
      `Decrypting the data key with ${this.keyId} failed: ${why}${text ? ` (${text})` : ""}`,
      {
        hint:
          "check the enclave's credentials, the vsock proxy (--proxy-port) and that the key policy allows this enclave image",
      },
    );
  }
}

function isUsageError(run: Run): boolean {
  return USAGE_ERROR.test(run.stderr + "\n" + run.stdout);
}

/** The plaintext from either output shape: `PLAINTEXT: <b64>` lines, or bare base64. */
export function parsePlaintext(stdout: string): Uint8Array | undefined {
  const m = /(?:^|\n)\s*PLAINTEXT:\s*([A-Za-z0-9+/]+={0,2})\s*(?:\n|$)/.exec(stdout);
  const text = m ? m[1] : stdout.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    return decodeBase64(text, "optional");
  } catch {
    return undefined;
  }
}
