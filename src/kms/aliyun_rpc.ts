/**
 * One Alibaba Cloud RPC-style request over `fetch`, shared by the KMS client
 * and the STS calls: the common parameters, signature v1 (HMAC-SHA1) when
 * credentials are given (an anonymous call such as `AssumeRoleWithOIDC`
 * sends none), POST with an `application/x-www-form-urlencoded` body, and
 * the JSON answer, or an {@linkcode AliyunServiceError} /
 * {@linkcode NetworkError} / `AttemptTimeout` for the caller's retry loop.
 *
 * @module
 */
import { encodeForm, rpcTimestamp, signRpc } from "./aliyun_sign.ts";
import { AliyunServiceError, NetworkError } from "./aliyun_errors.ts";
import { AttemptTimeout } from "./retry.ts";
import { readAnswer } from "./answer_body.ts";

/** The longest KMS or STS answer read (they are a few KiB). */
const MAX_ANSWER_BYTES = 256 * 1024;

/** What signs a request: an AccessKey pair, plus a security token for STS credentials. */
export interface RpcCredentials {
  /** AccessKey ID (`STS.` first for temporary credentials). */
  readonly accessKeyId: string;
  /** AccessKey secret. */
  readonly accessKeySecret: string;
  /** STS security token, for temporary credentials. */
  readonly securityToken?: string;
}

/** An AccessKey pair, with a security token and an expiry for temporary (STS) credentials. */
export interface AliyunCredentials {
  /** AccessKey ID (`STS.` first for temporary credentials). */
  readonly accessKeyId: string;
  /** AccessKey secret. */
  readonly accessKeySecret: string;
  /** STS security token, for temporary credentials. */
  readonly securityToken?: string;
  /** When temporary credentials stop working. */
  readonly expiration?: Date;
}

/** One RPC request. */
export interface RpcRequest {
  /** Full endpoint URL. */
  readonly endpoint: string;
  /** The API action, e.g. `Decrypt`. */
  readonly action: string;
  /** The API version, e.g. `2016-01-20`. */
  readonly version: string;
  /** The action's own parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** Signs the request; without them it is sent unsigned. */
  readonly credentials?: RpcCredentials;
}

/** `v` when it is a string, else `""`. */
export function asString(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function clip(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > 200 ? t.slice(0, 200) + "..." : t;
}

/**
 * Sends `req` once with a fresh nonce and timestamp (a retry is a new
 * request) and returns the parsed JSON object of a 2xx answer.
 */
export async function sendRpc(
  doFetch: typeof fetch,
  req: RpcRequest,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const all: Record<string, string> = {
    ...req.params,
    Action: req.action,
    Version: req.version,
    Format: "JSON",
    Timestamp: rpcTimestamp(new Date()),
  };
  const creds = req.credentials;
  if (creds) {
    all.AccessKeyId = creds.accessKeyId;
    all.SignatureMethod = "HMAC-SHA1";
    all.SignatureVersion = "1.0";
    all.SignatureNonce = crypto.randomUUID();
    if (creds.securityToken) all.SecurityToken = creds.securityToken;
    all.Signature = await signRpc("POST", all, creds.accessKeySecret);
  }
  let res: Response;
  try {
    res = await doFetch(req.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: encodeForm(all),
      signal,
      // Never followed: the body carries the data key (Encrypt's Plaintext) and the credentials' token.
      redirect: "manual",
    });
  } catch (err) {
    if (signal.aborted && signal.reason instanceof AttemptTimeout) throw signal.reason;
    throw new NetworkError(err);
  }
  if ((res.status >= 300 && res.status < 400) || res.type === "opaqueredirect") {
    await res.body?.cancel().catch(() => {});
    throw new AliyunServiceError(
      req.action,
      res.status,
      "MalformedResponse",
      "the endpoint answered with a redirect, which is not followed (the request carries keys and credentials)",
      "",
    );
  }
  let text: string | undefined;
  try {
    text = await readAnswer(res, MAX_ANSWER_BYTES);
  } catch (err) {
    if (signal.aborted && signal.reason instanceof AttemptTimeout) throw signal.reason;
    throw new NetworkError(err);
  }
  if (text === undefined) {
    throw new AliyunServiceError(
      req.action,
      res.status,
      "MalformedResponse",
      `the answer is over ${MAX_ANSWER_BYTES} bytes`,
      "",
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const obj = body !== null && typeof body === "object" && !Array.isArray(body)
    ? body as Record<string, unknown>
    : undefined;
  if (res.ok && obj) return obj;
  if (res.ok) {
    throw new AliyunServiceError(req.action, res.status, "MalformedResponse", "the answer is not a JSON object", "");
  }
  throw new AliyunServiceError(
    req.action,
    res.status,
    asString(obj?.Code) || `HTTP${res.status}`,
    clip(asString(obj?.Message) || text || res.statusText),
    asString(obj?.RequestId),
  );
}
