/**
 * A loopback stand-in for Alibaba Cloud KMS (API 2016-01-20, RPC style) that
 * checks what the service checks and does real cryptography, so tests of
 * the client and the provider can fail for real reasons.
 *
 * - Authentication: signature v1 (HMAC-SHA1) recomputed over every parameter
 *   from the query and the form body with the request's method; an unknown
 *   AccessKeyId, a Timestamp more than 15 minutes off, a reused
 *   SignatureNonce, a missing or wrong SecurityToken for an `STS.` AccessKey,
 *   missing common parameters and a wrong Version are all refused with the
 *   service's codes and HTTP statuses. Requests signed with v3
 *   (`ACS3-HMAC-SHA256`, Authorization header) get the same checks.
 * - Keys: each CMK is 32 random bytes with one key version. A CiphertextBlob
 *   is base64(key version id (36 ASCII bytes) || IV (12) || AES-256-GCM
 *   ciphertext and tag), with the canonical encryption context as AAD: the
 *   service treats equal string maps as the same context, so the AAD is the
 *   map re-serialised with sorted keys. A wrong context really fails.
 * - Errors are JSON `{ RequestId, HostId, Code, Message }`.
 * - STS (API 2015-04-01) at `stsEndpoint`: `AssumeRole`, signed and checked
 *   like the KMS actions, and the unsigned `AssumeRoleWithOIDC`, which checks
 *   the OIDC provider and its token. Both issue `STS.` credentials that the
 *   KMS actions then accept with their token.
 * - The ECS instance metadata service at `metadataEndpoint` in hardened mode:
 *   `PUT /latest/api/token` (with `X-aliyun-ecs-metadata-token-ttl-seconds`)
 *   hands out a token, and the RAM role list and role credentials under
 *   `/latest/meta-data/ram/security-credentials/` answer only with it.
 *
 * @module
 */
import { percentEncode, signRpc } from "../../src/kms/aliyun_sign.ts";

/** One recorded call. */
export interface AliyunCall {
  readonly action: string;
  readonly accessKeyId: string;
  readonly status: number;
  readonly code?: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface AliyunServerOptions {
  /** Clock of the server in ms (default Date.now): lets a test make requests stale. */
  readonly now?: () => number;
  /** Region id reported in key ARNs (default `cn-hangzhou`). */
  readonly regionId?: string;
  /** Lifetime of the metadata service's role credentials (default 21600 s). */
  readonly metadataCredentialSeconds?: number;
}

/** Temporary credentials the STS or metadata side issued. */
export interface IssuedCredentials extends StsCredentials {
  readonly via: "AssumeRole" | "AssumeRoleWithOIDC" | "Metadata";
  readonly roleArn: string;
  readonly sessionName?: string;
  /** The caller of AssumeRole. */
  readonly callerAccessKeyId?: string;
  readonly expiration: string;
}

/** An OIDC provider and the one token it accepts. */
export interface OidcProvider {
  readonly arn: string;
  readonly token: string;
}

export interface StsCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken: string;
}

export interface AliyunServer {
  /** `http://127.0.0.1:PORT/` */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly regionId: string;
  /** Makes a CMK (and the alias `alias/NAME` when given); returns its key id. */
  createKey(alias?: string): string;
  /** Points `alias/NAME` at `keyId`. */
  createAlias(alias: string, keyId: string): void;
  /** Issues STS credentials: an `STS.` AccessKey that needs its SecurityToken. */
  createStsCredentials(): StsCredentials;
  /** STS endpoint: `http://127.0.0.1:PORT/sts/` */
  readonly stsEndpoint: string;
  /** Metadata service base: `http://127.0.0.1:PORT` */
  readonly metadataEndpoint: string;
  /** A RAM role that STS lets any known AccessKey assume; returns its ARN `acs:ram::UID:role/NAME`. */
  createRole(name: string): string;
  /** An OIDC provider (ARN `acs:ram::UID:oidc-provider/NAME`) and the token it accepts. */
  createOidcProvider(name: string): OidcProvider;
  /** Attaches a RAM role (made with createRole) to the "instance" the metadata service describes. */
  attachInstanceRole(name: string): void;
  /** Every set of temporary credentials STS or the metadata service issued, in order. */
  readonly issued: IssuedCredentials[];
  /** The ARN of a key. */
  arn(keyId: string): string;
  /** Every request that reached the action dispatcher or failed authentication. */
  readonly calls: AliyunCall[];
  /** Calls of `action` so far (authenticated or not). */
  count(action: string): number;
  /** The next `n` authenticated calls answer `Rejected.Throttling`. */
  throttleNext(n: number): void;
  /** The next `n` calls get no answer until the client gives up (or the server closes). */
  holdNext(n: number): void;
  close(): Promise<void>;
}

const VERSION = "2016-01-20";
const STS_VERSION = "2015-04-01";
const METADATA_CREDENTIALS = "/latest/meta-data/ram/security-credentials/";
const MAX_SKEW_MS = 15 * 60 * 1000;
const COMMON = [
  "Action",
  "Version",
  "AccessKeyId",
  "Signature",
  "SignatureMethod",
  "SignatureVersion",
  "SignatureNonce",
  "Timestamp",
];

class Fail extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
function unb64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    const bin = atob(text);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}
function randomHex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The canonical form of an EncryptionContext parameter ("" when absent or empty). */
function canonicalContext(text: string | undefined, name: string): string {
  if (text === undefined || text === "") return "";
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Fail(400, "InvalidParameter", `The specified parameter "${name}" is not valid.`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new Fail(400, "InvalidParameter", `The specified parameter "${name}" is not valid.`);
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.some(([, x]) => typeof x !== "string") || text.length > 8192) {
    throw new Fail(400, "InvalidParameter", `The specified parameter "${name}" is not valid.`);
  }
  if (entries.length === 0) return "";
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

interface Cmk {
  readonly keyId: string;
  readonly versionId: string;
  readonly raw: Uint8Array<ArrayBuffer>;
}

function aesKey(k: Cmk): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", k.raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

export function startAliyunServer(options: AliyunServerOptions = {}): Promise<AliyunServer> {
  const now = options.now ?? Date.now;
  const regionId = options.regionId ?? "cn-hangzhou";
  const uid = "1234567890123456";
  const accessKeyId = "LTAI" + randomHex(10);
  const accessKeySecret = randomHex(15);
  const secrets = new Map<string, string>([[accessKeyId, accessKeySecret]]);
  const tokens = new Map<string, string>();
  const keys = new Map<string, Cmk>();
  const versions = new Map<string, Cmk>();
  const aliases = new Map<string, string>();
  const nonces = new Set<string>();
  const calls: AliyunCall[] = [];
  const roles = new Set<string>();
  const oidcProviders = new Map<string, string>();
  const metadataTokens = new Map<string, number>();
  const issued: IssuedCredentials[] = [];
  let instanceRole: string | undefined;
  let throttle = 0;
  let hold = 0;
  const closing = new AbortController();
  const enc = new TextEncoder();

  function resolveKey(id: string | undefined, name: string): Cmk {
    if (!id) throw new Fail(400, "MissingParameter", `The parameter "${name}" is needed but not provided.`);
    let bare = id;
    const arn = /^acs:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/.exec(id);
    if (arn) bare = arn[3] === "alias" ? "alias/" + arn[4] : arn[4];
    if (bare.startsWith("alias/")) {
      const target = aliases.get(bare);
      if (!target) throw new Fail(404, "Forbidden.AliasNotFound", "The specified Alias is not found.");
      bare = target;
    }
    const k = keys.get(bare);
    if (!k) throw new Fail(404, "Forbidden.KeyNotFound", "The specified Key is not found.");
    return k;
  }

  async function seal(k: Cmk, plaintext: Uint8Array<ArrayBuffer>, context: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: enc.encode(context) },
        await aesKey(k),
        plaintext,
      ),
    );
    const blob = new Uint8Array(36 + 12 + ct.length);
    blob.set(enc.encode(k.versionId), 0);
    blob.set(iv, 36);
    blob.set(ct, 48);
    return b64(blob);
  }

  async function open(
    blobText: string | undefined,
    context: string,
    name: string,
  ): Promise<{ k: Cmk; plaintext: Uint8Array<ArrayBuffer> }> {
    if (!blobText) throw new Fail(400, "MissingParameter", `The parameter "${name}" is needed but not provided.`);
    const blob = unb64(blobText);
    if (!blob || blob.length < 36 + 12 + 16) {
      throw new Fail(400, "InvalidParameter", `The specified parameter "${name}" is not valid.`);
    }
    const versionId = new TextDecoder().decode(blob.subarray(0, 36));
    const k = versions.get(versionId);
    if (!k) throw new Fail(404, "Forbidden.KeyNotFound", "The specified Key is not found.");
    try {
      const pt = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: blob.slice(36, 48), additionalData: enc.encode(context) },
        await aesKey(k),
        blob.slice(48),
      );
      return { k, plaintext: new Uint8Array(pt) };
    } catch {
      // The public reference lists no dedicated code for this; the service's
      // documented code for a bad parameter value is InvalidParameter (400).
      throw new Fail(400, "InvalidParameter", `The specified parameter "${name}" is not valid.`);
    }
  }

  async function authenticate(method: string, p: Record<string, string>, version = VERSION): Promise<void> {
    for (const name of COMMON) {
      if (!p[name]) throw new Fail(400, "MissingParameter", `The parameter "${name}" is needed but not provided.`);
    }
    if (p.Version !== version) throw new Fail(400, "InvalidVersion", "Specified parameter Version is not valid.");
    if (p.SignatureMethod !== "HMAC-SHA1" || p.SignatureVersion !== "1.0") {
      throw new Fail(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.");
    }
    const secret = secrets.get(p.AccessKeyId);
    if (secret === undefined) {
      throw new Fail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    }
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(p.Timestamp) || Number.isNaN(Date.parse(p.Timestamp))) {
      throw new Fail(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.");
    }
    if (Math.abs(now() - Date.parse(p.Timestamp)) > MAX_SKEW_MS) {
      throw new Fail(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
    }
    const expected = await signRpc(method, p, secret);
    if (!timingSafeEqual(expected, p.Signature)) {
      // The real service echoes its string to sign; this one does not, since
      // an Encrypt request's string to sign holds the plaintext.
      throw new Fail(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.");
    }
    const token = tokens.get(p.AccessKeyId);
    if (token !== undefined) {
      if (!p.SecurityToken) throw new Fail(400, "InvalidSecurityToken.Malformed", "The Security Token is missing.");
      if (!timingSafeEqual(token, p.SecurityToken)) {
        throw new Fail(
          400,
          "InvalidSecurityToken.MismatchWithAccessKey",
          "The Security Token does not match the AccessKey.",
        );
      }
    } else if (p.SecurityToken) {
      throw new Fail(
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "A Security Token was sent with a permanent AccessKey.",
      );
    }
    if (nonces.has(p.SignatureNonce)) {
      throw new Fail(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
    }
    nonces.add(p.SignatureNonce);
  }

  /**
   * ACS3-HMAC-SHA256 (the v3 signature of the newer SDKs): an Authorization
   * header `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`
   * over the canonical request
   * `METHOD\nPATH\nQUERY\nname:value\n...\nSIGNED_HEADERS\nhex(sha256(body))`;
   * string to sign `ACS3-HMAC-SHA256\nhex(sha256(canonical request))`;
   * signature hex(HMAC-SHA256(secret, that)). `host`, `content-type` (when
   * sent) and every `x-acs-*` header must be signed; `x-acs-content-sha256`
   * must be the body's hash. Action, Version, time, nonce and STS token come
   * from the `x-acs-*` headers.
   */
  async function authenticateV3(
    req: Request,
    url: URL,
    body: Uint8Array<ArrayBuffer>,
    p: Record<string, string>,
  ): Promise<void> {
    const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(
      req.headers.get("authorization")!,
    );
    if (!m) throw new Fail(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.");
    const [, ak, signedHeaders, signature] = m;
    const h = (name: string) => req.headers.get(name) ?? undefined;
    for (
      const name of ["x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
    ) {
      if (!h(name)) throw new Fail(400, "MissingParameter", `The parameter "${name}" is needed but not provided.`);
    }
    p.Action = h("x-acs-action")!;
    p.Version = h("x-acs-version")!;
    p.AccessKeyId = ak;
    if (p.Version !== VERSION) throw new Fail(400, "InvalidVersion", "Specified parameter Version is not valid.");
    const secret = secrets.get(ak);
    if (secret === undefined) throw new Fail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    const date = h("x-acs-date")!;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(date) || Number.isNaN(Date.parse(date))) {
      throw new Fail(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.");
    }
    if (Math.abs(now() - Date.parse(date)) > MAX_SKEW_MS) {
      throw new Fail(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
    }
    const names = signedHeaders.split(";");
    const mustSign = ["host", ...[...req.headers.keys()].filter((n) => n.startsWith("x-acs-") || n === "content-type")];
    if (mustSign.some((n) => !names.includes(n)) || names.some((n) => n !== n.toLowerCase())) {
      throw new Fail(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.");
    }
    if (hex(await crypto.subtle.digest("SHA-256", body)) !== h("x-acs-content-sha256")) {
      throw new Fail(400, "SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the body.");
    }
    const query = [...url.searchParams]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join("&");
    const headers = [...names].sort().map((n) => `${n}:${(n === "host" ? url.host : h(n) ?? "").trim()}\n`).join("");
    const canonical = [req.method, url.pathname || "/", query, headers, signedHeaders, h("x-acs-content-sha256")].join(
      "\n",
    );
    const toSign = "ACS3-HMAC-SHA256\n" + hex(await crypto.subtle.digest("SHA-256", enc.encode(canonical)));
    const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const expected = hex(await crypto.subtle.sign("HMAC", key, enc.encode(toSign)));
    if (!timingSafeEqual(expected, signature)) {
      throw new Fail(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.");
    }
    const token = tokens.get(ak);
    const sent = h("x-acs-security-token");
    if (token !== undefined) {
      if (!sent) throw new Fail(400, "InvalidSecurityToken.Malformed", "The Security Token is missing.");
      if (!timingSafeEqual(token, sent)) {
        throw new Fail(
          400,
          "InvalidSecurityToken.MismatchWithAccessKey",
          "The Security Token does not match the AccessKey.",
        );
      }
      p.SecurityToken = sent;
    } else if (sent) {
      throw new Fail(
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "A Security Token was sent with a permanent AccessKey.",
      );
    }
    const nonce = h("x-acs-signature-nonce")!;
    if (nonces.has(nonce)) throw new Fail(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
    nonces.add(nonce);
    p.SignatureNonce = nonce;
  }

  async function dispatch(p: Record<string, string>): Promise<Record<string, unknown>> {
    switch (p.Action) {
      case "GenerateDataKey": {
        const k = resolveKey(p.KeyId, "KeyId");
        const ctx = canonicalContext(p.EncryptionContext, "EncryptionContext");
        let n = 32;
        if (p.NumberOfBytes !== undefined) {
          n = Number(p.NumberOfBytes);
          if (!Number.isInteger(n) || n < 1 || n > 1024) {
            throw new Fail(400, "InvalidParameter", 'The specified parameter "NumberOfBytes" is not valid.');
          }
        } else if (p.KeySpec === "AES_128") n = 16;
        else if (p.KeySpec !== undefined && p.KeySpec !== "AES_256") {
          throw new Fail(400, "InvalidParameter", 'The specified parameter "KeySpec" is not valid.');
        }
        const dk = crypto.getRandomValues(new Uint8Array(n));
        return {
          KeyId: k.keyId,
          KeyVersionId: k.versionId,
          Plaintext: b64(dk),
          CiphertextBlob: await seal(k, dk, ctx),
        };
      }
      case "Encrypt": {
        const k = resolveKey(p.KeyId, "KeyId");
        const ctx = canonicalContext(p.EncryptionContext, "EncryptionContext");
        const pt = p.Plaintext === undefined ? null : unb64(p.Plaintext);
        if (!pt || pt.length === 0 || pt.length > 6144) {
          throw new Fail(400, "InvalidParameter", 'The specified parameter "Plaintext" is not valid.');
        }
        return { KeyId: k.keyId, KeyVersionId: k.versionId, CiphertextBlob: await seal(k, pt, ctx) };
      }
      case "Decrypt": {
        const ctx = canonicalContext(p.EncryptionContext, "EncryptionContext");
        const { k, plaintext } = await open(p.CiphertextBlob, ctx, "CiphertextBlob");
        return { KeyId: k.keyId, KeyVersionId: k.versionId, Plaintext: b64(plaintext) };
      }
      case "ReEncrypt": {
        const dest = resolveKey(p.DestinationKeyId, "DestinationKeyId");
        const src = canonicalContext(p.SourceEncryptionContext, "SourceEncryptionContext");
        const dst = canonicalContext(p.DestinationEncryptionContext, "DestinationEncryptionContext");
        const { plaintext } = await open(p.CiphertextBlob, src, "CiphertextBlob");
        const blob = await seal(dest, plaintext, dst);
        plaintext.fill(0);
        return { KeyId: dest.keyId, KeyVersionId: dest.versionId, CiphertextBlob: blob };
      }
      default:
        throw new Fail(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.");
    }
  }

  function rpcTime(ms: number): string {
    return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function issue(
    via: IssuedCredentials["via"],
    roleArn: string,
    seconds: number,
    extra: { sessionName?: string; callerAccessKeyId?: string } = {},
  ): IssuedCredentials {
    const c: IssuedCredentials = {
      ...api.createStsCredentials(),
      via,
      roleArn,
      expiration: rpcTime(now() + seconds * 1000),
      ...extra,
    };
    issued.push(c);
    return c;
  }

  /** The checks STS makes of the role, the session name and the duration. */
  function sessionOf(p: Record<string, string>): { role: string; session: string; seconds: number } {
    if (!p.RoleArn) throw new Fail(400, "MissingParameter", 'The parameter "RoleArn" is needed but not provided.');
    const m = /^acs:ram::(\d+):role\/(.+)$/.exec(p.RoleArn);
    if (!m || m[1] !== uid || !roles.has(m[2])) throw new Fail(404, "EntityNotExist.Role", "The role not exists.");
    const session = p.RoleSessionName ?? "";
    if (!/^[a-zA-Z0-9.@_-]{2,64}$/.test(session)) {
      throw new Fail(400, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.");
    }
    const seconds = p.DurationSeconds === undefined ? 3600 : Number(p.DurationSeconds);
    if (!Number.isInteger(seconds) || seconds < 900 || seconds > 3600) {
      throw new Fail(400, "InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.");
    }
    return { role: m[2], session, seconds };
  }

  function stsAnswer(c: IssuedCredentials, role: string, session: string): Record<string, unknown> {
    return {
      AssumedRoleUser: { Arn: `acs:ram::${uid}:role/${role}/${session}`, AssumedRoleId: `3${randomHex(8)}:${session}` },
      Credentials: {
        AccessKeyId: c.accessKeyId,
        AccessKeySecret: c.accessKeySecret,
        SecurityToken: c.securityToken,
        Expiration: c.expiration,
      },
    };
  }

  /** STS: AssumeRole is signed (v1, checked like KMS); AssumeRoleWithOIDC is not, and carries the token. */
  async function sts(req: Request, p: Record<string, string>): Promise<Record<string, unknown>> {
    if (req.method !== "POST" && req.method !== "GET") {
      throw new Fail(403, "UnsupportedHTTPMethod", "This http method is not supported.");
    }
    if (p.Action === "AssumeRoleWithOIDC") {
      if (p.Version !== STS_VERSION) throw new Fail(400, "InvalidVersion", "Specified parameter Version is not valid.");
      if (!p.Timestamp) {
        throw new Fail(400, "MissingParameter", 'The parameter "Timestamp" is needed but not provided.');
      }
      const { role, session, seconds } = sessionOf(p);
      const expected = oidcProviders.get(p.OIDCProviderArn ?? "");
      if (expected === undefined) {
        throw new Fail(404, "EntityNotExist.OIDCProvider", "The specified OIDC provider does not exist.");
      }
      if (!p.OIDCToken) {
        throw new Fail(400, "MissingParameter", 'The parameter "OIDCToken" is needed but not provided.');
      }
      if (!timingSafeEqual(expected, p.OIDCToken)) {
        throw new Fail(400, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token is invalid.");
      }
      return stsAnswer(issue("AssumeRoleWithOIDC", p.RoleArn, seconds, { sessionName: session }), role, session);
    }
    await authenticate(req.method, p, STS_VERSION);
    if (p.Action !== "AssumeRole") {
      throw new Fail(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.");
    }
    const { role, session, seconds } = sessionOf(p);
    const c = issue("AssumeRole", p.RoleArn, seconds, { sessionName: session, callerAccessKeyId: p.AccessKeyId });
    return stsAnswer(c, role, session);
  }

  /** The metadata service in hardened mode: a token first, then only requests that carry it. */
  function metadata(req: Request, url: URL): Response {
    const text = (status: number, body: string, code?: string) => {
      calls.push({ action: `Metadata ${req.method} ${url.pathname}`, accessKeyId: "", status, code, params: {} });
      return new Response(body, { status, headers: { "content-type": "text/plain" } });
    };
    if (url.pathname === "/latest/api/token") {
      if (req.method !== "PUT") return text(405, "Method Not Allowed", "MethodNotAllowed");
      const ttl = Number(req.headers.get("x-aliyun-ecs-metadata-token-ttl-seconds"));
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return text(400, "Bad Request", "InvalidTtl");
      const token = randomHex(24);
      metadataTokens.set(token, now() + ttl * 1000);
      return text(200, token);
    }
    if (req.method !== "GET") return text(405, "Method Not Allowed", "MethodNotAllowed");
    const token = req.headers.get("x-aliyun-ecs-metadata-token");
    const until = token ? metadataTokens.get(token) : undefined;
    if (until === undefined || until < now()) return text(401, "Unauthorized", token ? "InvalidToken" : "MissingToken");
    if (url.pathname === METADATA_CREDENTIALS) {
      return instanceRole ? text(200, instanceRole) : text(404, "Not Found", "NoRole");
    }
    if (url.pathname.startsWith(METADATA_CREDENTIALS)) {
      const role = url.pathname.slice(METADATA_CREDENTIALS.length);
      if (!instanceRole || role !== instanceRole) return text(404, "Not Found", "NoSuchRole");
      const c = issue("Metadata", `acs:ram::${uid}:role/${role}`, options.metadataCredentialSeconds ?? 21600);
      const body = JSON.stringify({
        AccessKeyId: c.accessKeyId,
        AccessKeySecret: c.accessKeySecret,
        Expiration: c.expiration,
        SecurityToken: c.securityToken,
        LastUpdated: rpcTime(now()),
        Code: "Success",
      });
      calls.push({ action: "Metadata credentials", accessKeyId: c.accessKeyId, status: 200, params: {} });
      return new Response(body, { status: 200, headers: { "content-type": "text/plain" } });
    }
    return text(404, "Not Found", "NotFound");
  }

  function reply(status: number, body: Record<string, unknown>): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json;charset=utf-8" },
    });
  }

  async function handle(req: Request): Promise<Response> {
    const requestId = crypto.randomUUID().toUpperCase();
    const url = new URL(req.url);
    if (url.pathname.startsWith("/latest/")) {
      await req.body?.cancel();
      return metadata(req, url);
    }
    const p: Record<string, string> = {};
    for (const [k, v] of url.searchParams) p[k] = v;
    const bodyBytes = new Uint8Array(await req.arrayBuffer());
    const bodyText = new TextDecoder().decode(bodyBytes);
    if (req.method === "POST" && bodyText) {
      for (const [k, v] of new URLSearchParams(bodyText)) p[k] = v;
    }
    const v3 = req.headers.get("authorization")?.startsWith("ACS3-") ?? false;
    if (v3) {
      p.Action = req.headers.get("x-acs-action") ?? "";
      p.AccessKeyId = /Credential=([^,]*)/.exec(req.headers.get("authorization")!)?.[1] ?? "";
    }
    const action = p.Action ?? "";
    const record = (status: number, code?: string) =>
      calls.push({ action, accessKeyId: p.AccessKeyId ?? "", status, code, params: { ...p } });
    try {
      if (req.method !== "GET" && req.method !== "POST") {
        throw new Fail(403, "UnsupportedHTTPMethod", "This http method is not supported.");
      }
      if (url.pathname === "/sts/") {
        const body = await sts(req, p);
        record(200);
        return reply(200, { ...body, RequestId: requestId });
      }
      if (v3) await authenticateV3(req, url, bodyBytes, p);
      else await authenticate(req.method, p);
      if (hold > 0) {
        hold--;
        record(0, "Held");
        await held();
        return reply(503, {
          RequestId: requestId,
          HostId: url.host,
          Code: "ServiceUnavailableTemporary",
          Message: "Held by the test server.",
        });
      }
      if (throttle > 0) {
        throttle--;
        // The per-action references list throttling as HTTP 400; SDK retry
        // helpers match the code Rejected.Throttling.
        throw new Fail(400, "Rejected.Throttling", "QPS Limit Exceeded");
      }
      const body = await dispatch(p);
      record(200);
      return reply(200, { ...body, RequestId: requestId });
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      record(err.status, err.code);
      return reply(err.status, { RequestId: requestId, HostId: url.host, Code: err.code, Message: err.message });
    }
  }

  /** Holds a request until the server closes; bounded at 10 s in any case. */
  function held(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        closing.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, 10_000);
      closing.signal.addEventListener("abort", done);
    });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const port = (server.addr as Deno.NetAddr).port;

  const api: AliyunServer = {
    endpoint: `http://127.0.0.1:${port}/`,
    accessKeyId,
    accessKeySecret,
    regionId,
    createKey(alias?: string): string {
      const cmk: Cmk = {
        keyId: crypto.randomUUID(),
        versionId: crypto.randomUUID(),
        raw: crypto.getRandomValues(new Uint8Array(32)),
      };
      keys.set(cmk.keyId, cmk);
      versions.set(cmk.versionId, cmk);
      if (alias) api.createAlias(alias, cmk.keyId);
      return cmk.keyId;
    },
    createAlias(alias: string, keyId: string): void {
      const name = alias.startsWith("alias/") ? alias : "alias/" + alias;
      if (!keys.has(keyId)) throw new Error(`no key ${keyId}`);
      aliases.set(name, keyId);
    },
    createStsCredentials(): StsCredentials {
      const creds = {
        accessKeyId: "STS." + randomHex(12),
        accessKeySecret: randomHex(15),
        securityToken: "CAIS" + randomHex(40),
      };
      secrets.set(creds.accessKeyId, creds.accessKeySecret);
      tokens.set(creds.accessKeyId, creds.securityToken);
      return creds;
    },
    stsEndpoint: `http://127.0.0.1:${port}/sts/`,
    metadataEndpoint: `http://127.0.0.1:${port}`,
    createRole(name: string): string {
      roles.add(name);
      return `acs:ram::${uid}:role/${name}`;
    },
    createOidcProvider(name: string): OidcProvider {
      const p = { arn: `acs:ram::${uid}:oidc-provider/${name}`, token: `eyJ${randomHex(60)}` };
      oidcProviders.set(p.arn, p.token);
      return p;
    },
    attachInstanceRole(name: string): void {
      if (!roles.has(name)) throw new Error(`no role ${name}`);
      instanceRole = name;
    },
    issued,
    arn(keyId: string): string {
      return `acs:kms:${regionId}:${uid}:key/${keyId}`;
    },
    calls,
    count(action: string): number {
      return calls.filter((c) => c.action === action).length;
    },
    throttleNext(n: number): void {
      throttle = n;
    },
    holdNext(n: number): void {
      hold = n;
    },
    async close(): Promise<void> {
      closing.abort();
      await server.shutdown();
    },
  };
  return Promise.resolve(api);
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}
