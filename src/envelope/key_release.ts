/**
 * A key-release handler: a standard `(Request) => Promise<Response>` that
 * takes a message's header in a POST body, asks the application whether the
 * caller may have its data key, unwraps it through the configured providers
 * with every check of {@linkcode releaseFromHeader}, and answers the key as
 * JSON with `Cache-Control: no-store`. It uses only web APIs, so it runs
 * under `Deno.serve`, in edge runtimes, and on Node through a small adapter.
 *
 * @module
 */
import { encodeBase64 } from "../encoding/base64.ts";
import { EnvelopeError, type ErrorCode, isEnvelopeError } from "../errors.ts";
import { type Header, tryParseHeader } from "../format/header.ts";
import { MAX_HEADER_BYTES } from "../format/limits.ts";
import type { EncryptionContext, KeyProvider } from "../keys/provider.ts";
import { describeHeader, type HeaderInfo } from "./inspect.ts";
import { releaseFromHeader } from "./release.ts";
import { requireOptions } from "./_args.ts";

/**
 * The application's decision: `false` refuses (RELEASE_REFUSED, 403); a
 * string allows and names the caller (for the rate limit and the log);
 * `true` allows an unnamed caller. Throwing an `EnvelopeError` refuses with
 * that error.
 */
export type Authorization = boolean | string;

/** One answered request, for logging. Never holds key material. */
export interface KeyReleaseEvent {
  /** The HTTP status answered. */
  readonly status: number;
  /** The error code of a refusal or failure; absent when the key was released. */
  readonly code?: ErrorCode;
  /** The caller `authorize` named, when it was called and allowed. */
  readonly caller?: string;
  /** The key that opened the data key, when one did. */
  readonly provider?: string;
  /** Its key id. */
  readonly keyId?: string;
}

/** Options of {@linkcode keyRelease}. */
export interface KeyReleaseOptions {
  /** The providers allowed to unwrap (configured KMS keys, a local key); discovery providers are best avoided here. */
  readonly keys: KeyProvider | readonly KeyProvider[];
  /**
   * Decides, before any KMS call, whether this request may have the data key
   * of this header: look at the request (a session, a token, mTLS headers set
   * by a proxy) and at the header's context and key ids (a claim until the
   * unwrap authenticates it, which happens before the key is answered).
   */
  readonly authorize: (request: Request, header: HeaderInfo) => Authorization | Promise<Authorization>;
  /** Require exactly this context (CONTEXT_MISMATCH otherwise), before any KMS call. */
  readonly context?: EncryptionContext;
  /** Release keys of signed messages (suite 2) only. */
  readonly requireSigned?: boolean;
  /** Wrapped keys that may reach a provider per request (default 4). */
  readonly maxAttempts?: number;
  /** At most `requests` releases per caller in any `windowMs` (a fixed window); off by default. */
  readonly rateLimit?: { readonly requests: number; readonly windowMs: number };
  /** Called once per request with what happened (no key material), e.g. to log it. */
  readonly onEvent?: (event: KeyReleaseEvent) => void;
  /** The clock, in milliseconds (default `Date.now`); for tests of the rate limit. */
  readonly now?: () => number;
  /**
   * How long the request body may take to bring the whole header, in
   * milliseconds (default 10,000): a client that stops sending gets 408
   * `REQUEST_TIMEOUT` instead of holding the request open.
   */
  readonly bodyTimeoutMs?: number;
}

/** The JSON body of a released key. */
export interface KeyReleaseAnswer {
  /** The 32-byte data key as standard base64. */
  readonly dataKey: string;
  /** The provider of the wrapped key that opened (as in the header). */
  readonly provider: string;
  /** The key id of the wrapped key that opened (as in the header). */
  readonly keyId: string;
  /** For a signed message: its verification key (base64), to pass to `decrypt` as `verificationKey`. */
  readonly verificationKey?: string;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  FORMAT_UNKNOWN: 400,
  HEADER_INVALID: 400,
  UNSUPPORTED_VERSION: 400,
  LIMIT_EXCEEDED: 413,
  TRUNCATED: 400,
  REQUEST_TIMEOUT: 408,
  RELEASE_REFUSED: 403,
  RATE_LIMITED: 429,
  CONTEXT_MISMATCH: 422,
  SIGNATURE_REQUIRED: 422,
  SIGNATURE_INVALID: 422,
  NO_KEY_MATCHED: 422,
  KEY_COMMITMENT_MISMATCH: 422,
  HEADER_AUTH_FAILED: 422,
  KEY_LIMIT: 422,
  KMS_ACCESS_DENIED: 502,
  KMS_KEY_NOT_FOUND: 502,
  KMS_FAILED: 502,
  KMS_THROTTLED: 503,
  KMS_TIMEOUT: 504,
  CONNECTION_RESET: 502,
};

const NO_STORE = { "cache-control": "no-store", "content-type": "application/json" };

/** A typed JSON refusal: `{ "error": { code, message, hint } }`. */
export function errorResponse(e: EnvelopeError, status?: number, headers: HeadersInit = {}): Response {
  const body = { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
  return new Response(JSON.stringify(body), {
    status: status ?? STATUS[e.code] ?? 500,
    headers: { ...NO_STORE, ...headers },
  });
}

/**
 * Reads the POST body up to the header's end, refusing more than the
 * format's header limit, and a body whose header has not arrived within
 * `timeoutMs`.
 */
async function readHeader(request: Request, timeoutMs: number): Promise<Header> {
  const tooLarge = () =>
    new EnvelopeError("LIMIT_EXCEEDED", `Reading the header failed: the request is over ${MAX_HEADER_BYTES} bytes`, {
      hint: "post only the message's header (its first bytes), not the whole file",
    });
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_HEADER_BYTES) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = request.body?.getReader();
  let buf = new Uint8Array(0);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EnvelopeError("REQUEST_TIMEOUT", `Reading the header failed: it did not arrive within ${timeoutMs} ms`, {
            hint: "post the message's header in one request, at once",
          }),
        ),
      timeoutMs,
    );
  });
  late.catch(() => {});
  try {
    for (;;) {
      const parsed = buf.length > 0 ? tryParseHeader(buf) : 1;
      if (typeof parsed !== "number") return parsed;
      const r = reader ? await Promise.race([reader.read(), late]) : { done: true as const, value: undefined };
      if (r.done) {
        throw new EnvelopeError("TRUNCATED", "Reading the header failed: the request ends inside the header", {
          hint: "post the message's first bytes, the whole header",
        });
      }
      if (buf.length + r.value.length > MAX_HEADER_BYTES) throw tooLarge();
      const next = new Uint8Array(buf.length + r.value.length);
      next.set(buf);
      next.set(r.value, buf.length);
      buf = next;
    }
  } finally {
    clearTimeout(timer);
    await reader?.cancel().catch(() => {});
  }
}

/**
 * Makes the handler. Per request: POST only (405), the body read up to the
 * end of the header and at most the format's header limit (413), the header
 * parsed (400), `authorize` asked (403), the caller's rate limit (429), and
 * only then the providers; the answer is `{ dataKey, provider, keyId,
 * verificationKey? }` with `Cache-Control: no-store`. Refusals are JSON
 * `{ error: { code, message, hint } }`. Nothing is logged; `onEvent` sees
 * each outcome without key material. Authentication and CORS are the
 * application's (the `authorize` callback, or a wrapper such as
 * `envelope serve-keys`).
 *
 * @example A key server in a few lines (Deno)
 * ```ts ignore
 * import { keyRelease } from "@envelope/envelope";
 * import { AwsKms } from "@envelope/envelope/aws";
 * const handler = keyRelease({
 *   keys: new AwsKms({ keyId: "alias/reports" }),
 *   authorize: (req, header) => req.headers.get("x-user") === "alice" && header.context.team === "finance" && "alice",
 * });
 * Deno.serve({ hostname: "127.0.0.1", port: 8001 }, handler);
 * ```
 *
 * @example Refusing before any key is used
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, keyRelease, LocalKey } from "../../mod.ts";
 * const kek = await LocalKey.generate();
 * const sealed = await encrypt(new Uint8Array(3), { keys: kek, context: { team: "a" } });
 * const handler = keyRelease({ keys: kek, authorize: (_req, header) => header.context.team === "b" });
 * const res = await handler(new Request("http://x/", { method: "POST", body: sealed }));
 * assert.equal(res.status, 403);
 * assert.equal((await res.json()).error.code, "RELEASE_REFUSED");
 * ```
 */
export function keyRelease(options: KeyReleaseOptions): (request: Request) => Promise<Response> {
  requireOptions(options, "keyRelease()");
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number }>();
  const limit = options.rateLimit;
  if (limit && !(limit.requests >= 1 && limit.windowMs > 0)) {
    throw new RangeError("rateLimit needs requests >= 1 and windowMs > 0");
  }
  const allowRate = (caller: string): boolean => {
    if (!limit) return true;
    const t = now();
    for (const [k, w] of windows) if (t - w.start >= limit.windowMs) windows.delete(k); // bounded by live callers
    const w = windows.get(caller) ?? { start: t, count: 0 };
    windows.set(caller, w);
    return ++w.count <= limit.requests;
  };

  return async (request: Request): Promise<Response> => {
    let caller: string | undefined;
    const done = (res: Response, event: Omit<KeyReleaseEvent, "status" | "caller"> = {}) => {
      options.onEvent?.({ status: res.status, ...(caller !== undefined ? { caller } : {}), ...event });
      return res;
    };
    try {
      if (request.method !== "POST") {
        await request.body?.cancel().catch(() => {});
        const e = new EnvelopeError("INVALID_ARGUMENT", `Releasing a data key failed: ${request.method} is not POST`, {
          hint: "POST the message's header as the request body",
        });
        return done(errorResponse(e, 405, { allow: "POST" }), { code: e.code });
      }
      const header = await readHeader(request, options.bodyTimeoutMs ?? 10_000);
      const allowed = await options.authorize(request, describeHeader(header));
      if (allowed === false || (typeof allowed !== "string" && allowed !== true)) {
        throw new EnvelopeError("RELEASE_REFUSED", "Releasing the data key failed: this caller may not have it", {
          hint: "ask the key server's operator for access to files with this context",
        });
      }
      caller = typeof allowed === "string" ? allowed : "anonymous";
      if (!allowRate(caller)) {
        const e = new EnvelopeError("RATE_LIMITED", "Releasing the data key failed: too many requests", {
          hint: "wait a little and try again",
        });
        const retry = Math.ceil(limit!.windowMs / 1000);
        return done(errorResponse(e, 429, { "retry-after": String(retry) }), { code: e.code });
      }
      const released = await releaseFromHeader(header, {
        keys: options.keys,
        context: options.context,
        requireSigned: options.requireSigned,
        maxAttempts: options.maxAttempts ?? 4,
      });
      const answer: KeyReleaseAnswer = {
        dataKey: encodeBase64(released.dataKey),
        provider: released.provider,
        keyId: released.keyId,
        ...(released.verificationKey ? { verificationKey: released.verificationKey } : {}),
      };
      released.dataKey.fill(0);
      return done(new Response(JSON.stringify(answer), { status: 200, headers: NO_STORE }), {
        provider: released.provider,
        keyId: released.keyId,
      });
    } catch (e) {
      const err = isEnvelopeError(e)
        ? e
        : new EnvelopeError("KMS_FAILED", "Releasing the data key failed: a key provider failed unexpectedly", {
          hint: "see the key server's own log",
          cause: e,
        });
      return done(errorResponse(err), { code: err.code });
    }
  };
}
