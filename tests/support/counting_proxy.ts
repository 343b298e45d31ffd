/**
 * A loopback HTTP proxy that forwards every request to `target` and counts
 * AWS JSON-protocol calls by `X-Amz-Target` (e.g. `TrentService.Decrypt`),
 * so tests and benchmarks count KMS calls at the server side of the SDK.
 *
 * @module
 */
import { forward, serveLoopback } from "./loopback_proxy.ts";

/** A running proxy. */
export interface CountingProxy {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** Calls of an operation so far (`GenerateDataKey`, `Decrypt`, ...). */
  count(operation: string): number;
  /** Resets every count to zero. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts a proxy in front of `target` (`http://127.0.0.1:PORT`). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const server = await serveLoopback(async (req) => {
    const op = (req.headers.get("x-amz-target") ?? "").replace(/^TrentService\./, "");
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const { res, out } = await forward(req, target, new Uint8Array(await req.arrayBuffer()));
    return new Response(out, { status: res.status, headers: res.headers });
  });
  return {
    endpoint: server.endpoint,
    count: (op) => counts.get(op) ?? 0,
    reset: () => counts.clear(),
    close: () => server.close(),
  };
}
