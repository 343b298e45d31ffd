/**
 * Serving a web-standard handler, `(Request) => Promise<Response>`, on
 * 127.0.0.1 through `node:http`, so the same code runs under Deno and Node
 * (the "tiny adapter" docs/browser.md shows). The request body is streamed
 * to the handler, not buffered, so the handler's own size bound holds.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A running loopback server. */
export interface LoopbackServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting and closes idle connections. */
  close(): Promise<void>;
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const chunks = req[Symbol.asyncIterator]();
  const body = hasBody
    ? new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await chunks.next();
        if (r.done) controller.close();
        else controller.enqueue(new Uint8Array(r.value as Uint8Array));
      },
      cancel() {
        req.resume(); // discard the rest; the answer still goes out
      },
    })
    : undefined;
  return new Request(`http://127.0.0.1${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body,
    duplex: "half",
  } as RequestInit);
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => headers[k] = v);
  const body = new Uint8Array(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

/** Serves `handler` on 127.0.0.1:`port` (0 picks a free port). */
export function serveLoopback(
  handler: (request: Request) => Promise<Response>,
  port: number,
): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    handler(toRequest(req)).then((r) => send(res, r)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("Internal error\n");
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}
