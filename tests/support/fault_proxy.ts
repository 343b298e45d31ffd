/**
 * A loopback fault-injecting proxy for KMS tests: in front of moto (AWS KMS)
 * or the Alibaba test server, it forwards each request or, as a plan says,
 * resets the connection, holds the request unanswered until the client gives
 * up, or answers with a status and body of its choosing (5xx, throttling,
 * garbage).
 *
 * Two layers: a TCP front on 127.0.0.1 decides per connection; every answer
 * carries `Connection: close`, so each request comes on its own connection
 * and "per connection" is "per request". A reset reads a few bytes of the
 * request and closes the socket with the rest unread, so the kernel sends an
 * RST (a real `ECONNRESET` on the client). Other requests are piped to an
 * inner HTTP server that applies the HTTP-level faults and forwards the rest
 * to the target, like {@linkcode startCountingProxy}.
 *
 * @module
 */
import { forward } from "./loopback_proxy.ts";

/** What the proxy does with one request. */
export type Fault =
  | { readonly kind: "pass" }
  | { readonly kind: "reset" }
  | { readonly kind: "hang" }
  | { readonly kind: "answer"; readonly status: number; readonly body: string; readonly headers?: HeadersInit };

/** One request the proxy saw, and what it did. */
export interface ProxiedCall {
  /** 0, 1, 2... in arrival order. */
  readonly n: number;
  readonly fault: Fault["kind"];
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** Chooses the fault for request `n` (0-based, counted since the last `reset()`). Default: pass everything. */
  plan(fn: (n: number) => Fault): void;
  /** The requests seen since the last `reset()`. */
  readonly calls: readonly ProxiedCall[];
  /** Clears the calls and the count (and keeps the plan). */
  reset(): void;
  /** Stops accepting, answers held requests by closing them, and waits for everything to end. */
  close(): Promise<void>;
}

export const PASS: Fault = { kind: "pass" };
export const RESET: Fault = { kind: "reset" };
export const HANG: Fault = { kind: "hang" };

/** Starts a proxy in front of `target` (`http://127.0.0.1:PORT`, with or without a trailing slash). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const base = target.replace(/\/$/, "");
  let planFn: (n: number) => Fault = () => PASS;
  let calls: ProxiedCall[] = [];
  /** The fault chosen for each piped connection, by the port the front connected to the inner server from. */
  const byPort = new Map<number, Fault>();
  const closing = Promise.withResolvers<void>();
  const tasks = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>) => {
    tasks.add(p);
    p.finally(() => tasks.delete(p)).catch(() => {});
    return p;
  };

  const listening = Promise.withResolvers<void>();
  const inner: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => listening.resolve(),
  }, async (req, info) => {
    const fault = byPort.get(info.remoteAddr.port) ?? PASS;
    const body = await req.arrayBuffer();
    if (fault.kind === "hang") {
      // Hold until the proxy closes (at most a minute): the client's own timeout is what ends the call.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closing.promise, new Promise((r) => timer = setTimeout(r, 60_000))]);
      clearTimeout(timer);
      return new Response("held", { status: 504, headers: { connection: "close" } });
    }
    if (fault.kind === "answer") {
      const headers = new Headers(fault.headers);
      headers.set("connection", "close");
      return new Response(fault.body, { status: fault.status, headers });
    }
    const { res, out } = await forward(req, base, new Uint8Array(body));
    const headers = new Headers(res.headers);
    headers.set("connection", "close");
    return new Response(out, { status: res.status, headers });
  });
  await listening.promise;

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const closeQuietly = (c: Deno.Conn) => {
    conns.delete(c);
    try {
      c.close();
    } catch { /* already closed */ }
  };

  async function handle(conn: Deno.Conn): Promise<void> {
    conns.add(conn);
    const n = calls.length;
    const fault = planFn(n);
    calls.push({ n, fault: fault.kind });
    if (fault.kind === "reset") {
      // Read a little of the request and close with the rest unread: the kernel answers with an RST.
      await conn.read(new Uint8Array(16)).catch(() => null);
      await new Promise((r) => setTimeout(r, 5));
      closeQuietly(conn);
      return;
    }
    let up: Deno.TcpConn;
    try {
      up = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
    } catch {
      closeQuietly(conn);
      return;
    }
    conns.add(up);
    byPort.set((up.localAddr as Deno.NetAddr).port, fault);
    const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
      const buf = new Uint8Array(16 * 1024);
      try {
        for (;;) {
          const k = await from.read(buf);
          if (k === null) break;
          let o = 0;
          while (o < k) o += await to.write(buf.subarray(o, k));
        }
      } catch { /* either side went away */ }
      closeQuietly(to);
      closeQuietly(from);
    };
    await Promise.all([pipe(conn, up), pipe(up, conn)]);
    byPort.delete((up.localAddr as Deno.NetAddr).port);
  }

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed
      }
      track(handle(conn));
    }
  })();

  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    plan(fn) {
      planFn = fn;
    },
    get calls() {
      return calls;
    },
    reset() {
      calls = [];
    },
    async close() {
      closing.resolve();
      listener.close();
      await accepting;
      for (const c of [...conns]) closeQuietly(c);
      await Promise.allSettled([...tasks]);
      await inner.shutdown();
    },
  };
}
