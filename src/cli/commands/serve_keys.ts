/**
 * `envelope serve-keys`: the key-release handler (src/envelope/key_release.ts)
 * on 127.0.0.1, out of the box: a bearer token from a file (compared in
 * constant time), CORS for the page's origin, the configured keys only (no
 * discovery), and one log line per request without key material.
 *
 * @module
 */
import process from "node:process";
import { constantTimeEqual, ready, sha256 } from "../../crypto/hash.ts";
import { errorResponse, keyRelease } from "../../envelope/key_release.ts";
import { EnvelopeError } from "../../errors.ts";
import { parseArgs, parseContext, usageError } from "../args.ts";
import { resolveKeys } from "../keyspec.ts";
import { currentVerbosity, note, report, say } from "../output.ts";
import { readSecretFile } from "../secret_file.ts";
import { readTrustFlags } from "../trust_flags.ts";
import { serveLoopback } from "../http_serve.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "key", short: "k", kind: "list" },
  { name: "token-file", kind: "string" },
  { name: "port", kind: "string" },
  { name: "origin", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "require-signed", kind: "boolean" },
  { name: "rate", kind: "string" },
  { name: "max-attempts", kind: "string" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

const enc = new TextEncoder();

/** Runs `envelope serve-keys` until SIGINT or SIGTERM; returns the exit code. */
export async function serveKeysCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "serve-keys");
  if (flags.help) {
    say(USAGE["serve-keys"]);
    return 0;
  }
  if (positionals.length > 0) {
    throw usageError("serve-keys", "Reading the command line failed: serve-keys takes no INPUT");
  }
  const specs = (flags.key as string[] | undefined) ?? [];
  if (specs.length === 0) {
    throw usageError(
      "serve-keys",
      "Reading the command line failed: give the keys to release with -k (discovery is not offered)",
    );
  }
  if (flags["token-file"] === undefined) {
    throw usageError(
      "serve-keys",
      "Reading the command line failed: give --token-file (a file holding the bearer token)",
    );
  }
  const port = Number(flags.port ?? "8001");
  if (!/^\d+$/.test(String(flags.port ?? "8001")) || port > 65535) {
    throw usageError("serve-keys", `Reading --port failed: "${flags.port}" is not a port number`);
  }
  const origins = ((flags.origin as string[] | undefined) ?? []).map((o) => {
    try {
      const u = new URL(o);
      if (u.origin === "null" || o.replace(/\/$/, "") !== u.origin) throw new Error("not an origin");
      return u.origin;
    } catch {
      throw usageError("serve-keys", `Reading --origin failed: "${o}" is not an origin like https://files.example.com`);
    }
  });
  const rateText = flags.rate as string | undefined;
  if (rateText !== undefined && (!/^\d+$/.test(rateText) || Number(rateText) < 1)) {
    throw usageError("serve-keys", `Reading --rate failed: "${rateText}" is not a whole number of requests per minute`);
  }
  const token = await readSecretFile(flags["token-file"] as string, "the token file");
  if (token.length < 16 || /\s/.test(token)) {
    throw new EnvelopeError(
      "INVALID_KEY",
      "Reading the token file failed: the token is shorter than 16 characters or has spaces",
      {
        hint: "put a long random token in it, e.g. `openssl rand -base64 32 > token && chmod 600 token`",
      },
    );
  }
  await ready();
  const tokenHash = sha256(enc.encode(token));
  const keys = await resolveKeys(specs);
  const trust = readTrustFlags({ "max-attempts": flags["max-attempts"] }, "serve-keys");
  const handler = keyRelease({
    keys,
    context: parseContext(flags.context as string[] | undefined, "serve-keys"),
    requireSigned: Boolean(flags["require-signed"]),
    maxAttempts: trust.maxAttempts,
    // The bearer token was checked before the handler ran; every holder of it is one caller.
    authorize: () => "bearer",
    rateLimit: rateText === undefined ? undefined : { requests: Number(rateText), windowMs: 60_000 },
    onEvent: (e) =>
      note(
        e.code === undefined
          ? `released a data key (${e.provider} ${e.keyId}) to ${e.caller}`
          : `refused a request: ${e.status} ${e.code}`,
      ),
  });

  const bearerOk = (req: Request): boolean => {
    const m = /^Bearer ([^\s]+)$/.exec(req.headers.get("authorization") ?? "");
    // Both sides hashed first, so the comparison is constant time whatever the lengths.
    return m !== null && constantTimeEqual(sha256(enc.encode(m[1])), tokenHash);
  };
  const serve = async (req: Request): Promise<Response> => {
    const origin = req.headers.get("origin");
    const cors: Record<string, string> = origin !== null && origins.includes(origin)
      ? { "access-control-allow-origin": origin, vary: "Origin" }
      : {};
    if (origin !== null && !origins.includes(origin)) {
      await req.body?.cancel().catch(() => {});
      note(`refused a request from the origin ${origin}, which --origin does not allow`);
      return errorResponse(
        new EnvelopeError("RELEASE_REFUSED", `Releasing the data key failed: pages from ${origin} may not ask`, {
          hint: "start serve-keys with --origin set to the page's origin",
        }),
        403,
      );
    }
    if (req.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: {
          ...cors,
          "access-control-allow-methods": "POST",
          "access-control-allow-headers": "authorization, content-type",
          "access-control-max-age": "600",
        },
      });
    }
    if (!bearerOk(req)) {
      await req.body?.cancel().catch(() => {});
      note("refused a request without the bearer token: 401 RELEASE_REFUSED");
      return errorResponse(
        new EnvelopeError("RELEASE_REFUSED", "Releasing the data key failed: the request has no valid bearer token", {
          hint: "set the key server's token in the page (or send Authorization: Bearer TOKEN)",
        }),
        401,
        { ...cors, "www-authenticate": "Bearer" },
      );
    }
    const res = await handler(req);
    for (const [k, v] of Object.entries(cors)) res.headers.set(k, v);
    return res;
  };

  const server = await serveLoopback(serve, port);
  if (currentVerbosity().json) {
    report({ command: "serve-keys", ok: true, url: `http://127.0.0.1:${server.port}/`, origins });
  } else {
    say(`serving data keys at http://127.0.0.1:${server.port}/ (POST a message's header with the bearer token)`);
    if (origins.length > 0) say(`pages from ${origins.join(", ")} may ask`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close();
  for (const k of keys) (k as { dispose?: () => void }).dispose?.();
  return 0;
}
