/**
 * Serving a web-standard handler, `(Request) => Promise<Response>`, on
 * 127.0.0.1 through `node:http`, so the same code runs under Deno and Node
 * (the "tiny adapter" docs/browser.md shows). The request body is streamed
 * to the handler, not buffered, so the handler's own size bound holds; an
 * answer given before the body was read to its end (a refusal) closes the
 * connection instead of reading on, so a client cannot push an endless body
 * into a server that already said no. A method a web `Request` cannot carry
 * (TRACE, TRACK, CONNECT) gets 405, never an exception (it stopped the server
 * on Node).
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

/** Whether the request body was read to its end (else the connection is closed after the answer). */
interface BodyState {
  ended: boolean;
}

function toRequest(req: IncomingMessage, state: BodyState): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  state.ended = !hasBody;
  const chunks = req[Symbol.asyncIterator]();
  const body = hasBody
    ? new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await chunks.next();
        if (r.done) {
          state.ended = true;
          controller.close();
        } else controller.enqueue(new Uint8Array(r.value as Uint8Array));
      },
      // The rest is not read: the answer goes out with Connection: close, and the socket is closed after it.
    })
    : undefined;
  return new Request(`http://127.0.0.1${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body,
    duplex: "half",
  } as RequestInit);
}

async function send(req: IncomingMessage, res: ServerResponse, response: Response, state: BodyState): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => headers[k] = v);
  const body = new Uint8Array(await response.arrayBuffer());
  finish(req, res, response.status, headers, body, state);
}

/** Writes the answer; when the request body was not read to its end, closes the connection after it. */
function finish(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Uint8Array | string,
  state: BodyState,
): void {
  if (!state.ended) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body, () => {
    if (!state.ended) req.socket.destroy();
  });
}

/** Serves `handler` on 127.0.0.1:`port` (0 picks a free port). */
export function serveLoopback(
  handler: (request: Request) => Promise<Response>,
  port: number,
): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    const state: BodyState = { ended: false };
    let request: Request;
    try {
      request = toRequest(req, state);
    } catch {
      // `new Request` refuses TRACE, TRACK and CONNECT: nothing here serves them.
      return finish(req, res, 405, { allow: "POST, OPTIONS", "content-type": "text/plain" }, "Method not allowed\n", {
        ended: false,
      });
    }
    handler(request).then((r) => send(req, res, r, state)).catch(() => {
      if (res.headersSent) return void res.end();
      finish(req, res, 500, { "content-type": "text/plain" }, "Internal error\n", state);
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
