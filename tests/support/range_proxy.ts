/**
 * A loopback HTTP proxy in front of an S3 endpoint that records every
 * request's method, path, `Range` (and `x-amz-copy-source-range`) and
 * conditional headers (`If-Match`, `If-None-Match`), and
 * counts the body bytes that pass each way, so tests prove which byte ranges
 * a reader fetched and how many bytes moved through the client.
 *
 * @module
 */
import { forward, serveLoopback } from "./loopback_proxy.ts";

/** One request seen. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly range?: string;
  readonly copyRange?: string;
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

/** A running proxy. */
export interface RangeProxy {
  readonly endpoint: string;
  readonly seen: SeenRequest[];
  reset(): void;
  close(): Promise<void>;
}

/** Starts a recording proxy in front of `target` (`http://127.0.0.1:PORT`). */
export async function startRangeProxy(target: string): Promise<RangeProxy> {
  const seen: SeenRequest[] = [];
  const server = await serveLoopback(async (req) => {
    const url = new URL(req.url);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array(0);
    const { res, out } = await forward(req, target, body);
    seen.push({
      method: req.method,
      path: decodeURIComponent(url.pathname),
      query: url.search,
      range: req.headers.get("range") ?? undefined,
      copyRange: req.headers.get("x-amz-copy-source-range") ?? undefined,
      ifMatch: req.headers.get("if-match") ?? undefined,
      ifNoneMatch: req.headers.get("if-none-match") ?? undefined,
      requestBytes: body.length,
      responseBytes: out.length,
    });
    const noBody = req.method === "HEAD" || [101, 204, 205, 304].includes(res.status);
    return new Response(noBody ? null : out, { status: res.status, headers: res.headers });
  });
  return { endpoint: server.endpoint, seen, reset: () => void seen.splice(0), close: () => server.close() };
}
