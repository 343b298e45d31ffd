/**
 * A small static server for the decryption page, on 127.0.0.1 only, with
 * HTTP `Range` support for the encrypted files (so `httpRangeSource` works).
 *
 * `deno task serve [--port N] [--files DIR] [--key-server URL] [--no-build]` builds the page
 * (`scripts/build_web.ts`) and serves it at `http://127.0.0.1:N/` (default
 * 8000), with the files of DIR (default: the current folder) under
 * `/files/NAME`. Open `/?src=/files/NAME.envl` to decrypt a served file.
 * `--key-server URL` lets the page's Content Security Policy reach a key
 * server (`envelope serve-keys`) on another origin.
 *
 * Tests use {@linkcode startServer} with files held in memory or generated
 * on the fly, port 0, and the request log.
 *
 * @module
 */
import { buildWeb, WEB_DIST } from "./build_web.ts";
import { join, normalize, resolve, sep } from "node:path";

/** A file the server can send: a known size and a way to read any slice. */
export interface ServedFile {
  /** Size in bytes, or `undefined` for a stream of unknown length (no ranges). */
  readonly size?: number;
  /** A stream of bytes `start` (inclusive) to `end` (exclusive). */
  open(start: number, end: number): ReadableStream<Uint8Array>;
}

/** A file held in memory. */
export function bytesFile(bytes: Uint8Array): ServedFile {
  return {
    size: bytes.length,
    open(start, end) {
      return new Blob([bytes.subarray(start, end) as Uint8Array<ArrayBuffer>]).stream();
    },
  };
}

/**
 * A file produced on demand by `make()` (a fresh stream per request), sent
 * whole with chunked transfer: no size, so `Range` is ignored.
 */
export function streamedFile(make: () => ReadableStream<Uint8Array>): ServedFile {
  return { open: () => make() };
}

/** A file on disk, read slice by slice (the file stays closed between requests). */
export async function diskFile(path: string): Promise<ServedFile> {
  const info = await Deno.stat(path);
  return {
    size: info.size,
    open(start, end) {
      let file: Deno.FsFile | undefined;
      let left = end - start;
      return new ReadableStream<Uint8Array>({
        type: "bytes",
        async pull(controller) {
          if (file === undefined) {
            file = await Deno.open(path, { read: true });
            await file.seek(start, Deno.SeekMode.Start);
          }
          if (left <= 0) {
            file.close();
            controller.close();
            return;
          }
          const buf = new Uint8Array(Math.min(left, 64 * 1024));
          const n = await file.read(buf);
          if (n === null) {
            file.close();
            controller.error(new Error(`${path} shrank while it was being sent`));
            return;
          }
          left -= n;
          controller.enqueue(buf.subarray(0, n));
        },
        cancel() {
          file?.close();
        },
      });
    },
  };
}

/** One request the server answered. */
export interface LogEntry {
  readonly method: string;
  readonly path: string;
  /** The request's `Range` header, or `null`. */
  readonly range: string | null;
  readonly status: number;
  /** Body bytes sent (planned), or -1 for a stream of unknown length. */
  readonly bytes: number;
}

/** Options for {@linkcode startServer}. */
export interface ServerOptions {
  /** The built page (index.html, app.js, envelope.js, chunk_worker.js, style.css). */
  readonly webDir: string;
  /** Files served under `/files/NAME`, by NAME. */
  readonly files?: Readonly<Record<string, ServedFile>>;
  /** A folder whose files are served under `/files/...` when not in `files`. */
  readonly filesDir?: string;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Origins the page may connect to besides its own (a key server), added to the CSP's `connect-src`. */
  readonly connectSrc?: readonly string[];
}

/** A running server. */
export interface WebServer {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Every request answered, in order. */
  readonly log: LogEntry[];
  /** Stops listening and waits for open responses to end. */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
};

/**
 * The page needs nothing but its own origin, and WebAssembly compilation
 * ('wasm-unsafe-eval'); downloads are blob: links.
 */
function pageCsp(connectSrc: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    ["connect-src 'self'", ...connectSrc.map((u) => new URL(u).origin)].join(" "),
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function contentType(path: string): string {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  return TYPES[ext] ?? "application/octet-stream";
}

/**
 * Parses a single-range `Range: bytes=...` header against `size`.
 * Returns `[start, endExclusive]`, `"unsatisfiable"`, or `null` to ignore the
 * header and send the whole file (multiple ranges, other units, bad syntax).
 *
 * @example
 * ```ts
 * import { parseRange } from "./serve.ts";
 * console.assert(JSON.stringify(parseRange("bytes=10-19", 100)) === "[10,20]");
 * console.assert(JSON.stringify(parseRange("bytes=-5", 100)) === "[95,100]");
 * console.assert(parseRange("bytes=100-", 100) === "unsatisfiable");
 * ```
 */
export function parseRange(header: string, size: number): [number, number] | "unsatisfiable" | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return [Math.max(0, size - n), size];
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Number(m[2]);
  if (m[2] !== "" && last < start) return null;
  if (start >= size) return "unsatisfiable";
  return [start, Math.min(last, size - 1) + 1];
}

/** Resolves `/files/<rel>` inside `dir`, refusing anything that would leave it. */
function insideDir(dir: string, rel: string): string | null {
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.startsWith(".") || p.includes("\\"))) return null;
  const root = resolve(dir);
  const full = normalize(join(root, ...parts));
  if (!full.startsWith(root + sep)) return null;
  // Not through a link to somewhere outside the folder.
  try {
    const real = Deno.realPathSync(full);
    return real.startsWith(Deno.realPathSync(root) + sep) ? real : null;
  } catch {
    return full; // not there: the caller answers 404
  }
}

/**
 * True when the request's Host names this server (127.0.0.1 or localhost, at
 * its port): a page whose own name was rebound to 127.0.0.1 (DNS rebinding)
 * sends its own name, and is refused, so it cannot read the files folder.
 */
function ownHost(req: Request, port: number): boolean {
  const host = req.headers.get("host") ?? "";
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

function plain(status: number, text: string, extra: HeadersInit = {}): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra },
  });
}

/** Sends `file`, whole or the requested range. */
function sendFile(
  req: Request,
  file: ServedFile,
  type: string,
  note: (status: number, bytes: number) => void,
): Response {
  const headers = new Headers({
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  const head = req.method === "HEAD";
  if (file.size === undefined) {
    note(200, -1);
    return new Response(head ? null : file.open(0, Infinity), { status: 200, headers });
  }
  const size = file.size;
  headers.set("accept-ranges", "bytes");
  const rangeHeader = req.headers.get("range");
  const range = rangeHeader === null ? null : parseRange(rangeHeader, size);
  if (range === "unsatisfiable") {
    note(416, 0);
    return plain(416, "Range not satisfiable", { "content-range": `bytes */${size}` });
  }
  const [start, end] = range ?? [0, size];
  headers.set("content-length", String(end - start));
  if (range !== null) headers.set("content-range", `bytes ${start}-${end - 1}/${size}`);
  const status = range === null ? 200 : 206;
  note(status, head ? 0 : end - start);
  return new Response(head || end === start ? null : file.open(start, end), { status, headers });
}

/**
 * Starts the server on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * const server = startServer({ webDir: "/tmp/web", files: { "a.envl": bytesFile(sealed) } });
 * try {
 *   await fetch(`${server.origin}/files/a.envl`, { headers: { range: "bytes=0-99" } });
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export function startServer(options: ServerOptions): Promise<WebServer> {
  const log: LogEntry[] = [];
  const files = options.files ?? {};
  const pageFiles = new Set(["index.html", "app.js", "envelope.js", "chunk_worker.js", "style.css"]);
  // The bundle's lazily loaded parts (the age module, the chunk it shares with envelope.js), named by a hash.
  const isChunk = (name: string) => /^[a-z]+-[A-Z0-9]{8}\.js$/.test(name);

  let port = 0;
  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const record = (status: number, bytes: number) =>
      log.push({ method: req.method, path, range: req.headers.get("range"), status, bytes });
    const reply = (res: Response) => {
      record(res.status, 0);
      return res;
    };
    if (!ownHost(req, port)) return reply(plain(421, "This server answers to 127.0.0.1 and localhost only"));
    if (req.method !== "GET" && req.method !== "HEAD") {
      return reply(plain(405, "Only GET and HEAD are served", { allow: "GET, HEAD" }));
    }
    if (path.startsWith("/files/")) {
      const name = path.slice("/files/".length);
      const known = Object.hasOwn(files, name) ? files[name] : undefined;
      if (known !== undefined) return sendFile(req, known, "application/octet-stream", record);
      if (options.filesDir !== undefined) {
        const full = insideDir(options.filesDir, name);
        if (full !== null) {
          try {
            const info = await Deno.stat(full);
            if (info.isFile) return sendFile(req, await diskFile(full), "application/octet-stream", record);
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        }
      }
      return reply(plain(404, `No file ${name} here`));
    }
    const name = path === "/" ? "index.html" : path.slice(1);
    if (!pageFiles.has(name) && !isChunk(name)) return reply(plain(404, `No page file ${name} here`));
    const res = sendFile(req, await diskFile(join(options.webDir, name)), contentType(name), record);
    if (name === "index.html") res.headers.set("content-security-policy", pageCsp(options.connectSrc));
    return res;
  }

  return new Promise((resolveStart, rejectStart) => {
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        hostname: "127.0.0.1",
        port: options.port ?? 0,
        onListen(addr) {
          port = addr.port;
          resolveStart({
            origin: `http://127.0.0.1:${port}`,
            log,
            async close() {
              await server.shutdown();
              await server.finished;
            },
          });
        },
        onError(e) {
          console.error(`serve: ${e instanceof Error ? e.message : String(e)}`);
          return plain(500, "Internal error");
        },
      }, handle);
    } catch (e) {
      rejectStart(e);
    }
  });
}

function usage(): never {
  console.error("Usage: deno task serve [--port N] [--files DIR] [--key-server URL] [--no-build]");
  Deno.exit(2);
}

if (import.meta.main) {
  let port = 8000;
  let filesDir = Deno.cwd();
  let build = true;
  const connectSrc: string[] = [];
  const args = [...Deno.args];
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === "--port") port = Number(args.shift() ?? usage());
    else if (a === "--files") filesDir = args.shift() ?? usage();
    else if (a === "--key-server") connectSrc.push(args.shift() ?? usage());
    else if (a === "--no-build") build = false;
    else usage();
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage();
  if (build) await buildWeb(WEB_DIST);
  const server = await startServer({ webDir: WEB_DIST, filesDir, port, connectSrc });
  console.log(`serving the decryption page at ${server.origin}/`);
  console.log(`files of ${resolve(filesDir)} at ${server.origin}/files/NAME (open ${server.origin}/?src=/files/NAME)`);
  Deno.addSignalListener("SIGINT", () => {
    server.close().then(() => Deno.exit(0));
  });
}
