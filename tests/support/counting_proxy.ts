/**
 * A loopback HTTP proxy that forwards every request to `target` and counts
 * AWS JSON-protocol calls by `X-Amz-Target` (e.g. `TrentService.Decrypt`),
 * so tests and benchmarks count KMS calls at the server side of the SDK.
 *
 * @module
 */

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
export function startCountingProxy(target: string): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          endpoint: `http://127.0.0.1:${port}`,
          count: (op) => counts.get(op) ?? 0,
          reset: () => counts.clear(),
          close: () => server.shutdown(),
        }),
    }, async (req) => {
      const op = (req.headers.get("x-amz-target") ?? "").replace(/^TrentService\./, "");
      counts.set(op, (counts.get(op) ?? 0) + 1);
      const url = new URL(req.url);
      const body = await req.arrayBuffer();
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(target + url.pathname + url.search, {
        method: req.method,
        headers,
        body: body.byteLength ? body : undefined,
      });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    });
  });
}
