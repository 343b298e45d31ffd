/**
 * What the tests' HTTP proxies share: a server on 127.0.0.1 at a free port,
 * and forwarding a request to the real server behind (moto, the Alibaba
 * test server) without its `Host` header. The proxies (range_proxy.ts,
 * counting_proxy.ts, fault_proxy.ts, and the holding proxy of tests/s3_batch_test.ts) add
 * what they watch or hold around these.
 *
 * @module
 */

/** A running loopback server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Serves `handle` on 127.0.0.1 at a free port; resolves once it listens. */
export function serveLoopback(handle: (req: Request) => Promise<Response>): Promise<LoopbackServer> {
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => resolve({ endpoint: `http://127.0.0.1:${port}`, close: () => server.shutdown() }),
    }, handle);
  });
}

/**
 * Sends `req`, whose body the caller already read into `body`, on to
 * `target` (`http://127.0.0.1:PORT`) and reads the answer whole.
 */
export async function forward(
  req: Request,
  target: string,
  body: Uint8Array<ArrayBuffer>,
): Promise<{ res: Response; out: Uint8Array<ArrayBuffer> }> {
  const url = new URL(req.url);
  const headers = new Headers(req.headers);
  headers.delete("host");
  const res = await fetch(target + url.pathname + url.search, {
    method: req.method,
    headers,
    body: body.length ? body : undefined,
  });
  return { res, out: new Uint8Array(await res.arrayBuffer()) };
}
