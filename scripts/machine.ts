/**
 * One line naming the machine a benchmark ran on: CPU model, cores, Deno and
 * V8 versions, and the date. Benchmarks print it beside their tables.
 *
 * @module
 */
import { cpus } from "node:os";

/** `machine: <cpu> x <cores>, Deno <v> (V8 <v>), <date>` */
export function machineLine(): string {
  const c = cpus();
  const model = c[0]?.model?.trim() ?? "unknown CPU";
  return `machine: ${model} x ${c.length} cores, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${
    new Date().toISOString().slice(0, 10)
  }`;
}

/**
 * The network and certificate settings of this environment (CA stores,
 * proxies), for a child run with an otherwise clean environment: the
 * start-up and first-run scripts pass them on so a download behaves as the
 * user's would.
 */
export function networkEnv(): Record<string, string> {
  const out: Record<string, string> = {};
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
    if (value !== undefined) out[name] = value;
  }
  return out;
}
