/**
 * Alibaba Cloud STS (API version 2015-04-01, RPC style): `AssumeRole`,
 * signed with signature v1 like the KMS calls, and `AssumeRoleWithOIDC`, an
 * unsigned call that carries the OIDC token (Kubernetes RRSA). Both answer
 * temporary credentials with an `Expiration`.
 *
 * The endpoint is `ALIBABA_CLOUD_STS_ENDPOINT` (a URL or a host name), else
 * `https://sts.<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com/`, else the central
 * `https://sts.aliyuncs.com/`.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { AliyunServiceError, isTransient, mapError, NetworkError } from "./aliyun_errors.ts";
import { type AliyunCredentials, asString, type RpcCredentials, sendRpc } from "./aliyun_rpc.ts";
import { type RetryOptions, withRetry } from "./retry.ts";

/** The STS API version. */
export const ALIYUN_STS_API_VERSION = "2015-04-01";

/** How the credential sources reach the network and read their settings. */
export interface SourceContext {
  /** Reads a setting (an environment variable by default). */
  readonly env: (name: string) => string | undefined;
  /** The `fetch` to use. */
  readonly fetch: typeof fetch;
  /** Retry and timeout policy of the calls. */
  readonly retry: RetryOptions;
}

/** A role to assume. */
export interface RoleSpec {
  /** `acs:ram::UID:role/NAME`. */
  readonly roleArn: string;
  /** Names the session in the role's audit trail (default `envelope-<time>`). */
  readonly sessionName?: string;
  /** Lifetime of the credentials in seconds (default 3600; the service allows 900 up to the role's maximum). */
  readonly durationSeconds?: number;
  /** A policy (JSON text) that narrows the role's permissions. */
  readonly policy?: string;
  /** The role's external id, when its trust policy asks for one. */
  readonly externalId?: string;
}

/** A role to assume with an OIDC token read from a file at every call. */
export interface OidcRoleSpec extends RoleSpec {
  /** `acs:ram::UID:oidc-provider/NAME`. */
  readonly oidcProviderArn: string;
  /** The file holding the OIDC token (Kubernetes rotates it in place). */
  readonly tokenFile: string;
}

/** The STS endpoint URL from the settings. */
export function stsEndpoint(env: (name: string) => string | undefined): string {
  const explicit = env("ALIBABA_CLOUD_STS_ENDPOINT");
  if (explicit) return /^https?:\/\//i.test(explicit) ? explicit : `https://${explicit}/`;
  const region = env("ALIBABA_CLOUD_STS_REGION");
  if (region && /^[a-z0-9-]+$/.test(region)) return `https://sts.${region}.aliyuncs.com/`;
  return "https://sts.aliyuncs.com/";
}

function sessionParams(spec: RoleSpec): Record<string, string> {
  const p: Record<string, string> = {
    RoleArn: spec.roleArn,
    RoleSessionName: spec.sessionName ?? `envelope-${Date.now()}`,
    DurationSeconds: String(spec.durationSeconds ?? 3600),
  };
  if (spec.policy) p.Policy = spec.policy;
  if (spec.externalId) p.ExternalId = spec.externalId;
  return p;
}

/** Turns an STS answer into credentials, or says what is missing. */
function parseCredentials(r: Record<string, unknown>, what: string): AliyunCredentials {
  const c = r.Credentials as Record<string, unknown> | undefined;
  const accessKeyId = asString(c?.AccessKeyId);
  const accessKeySecret = asString(c?.AccessKeySecret);
  const securityToken = asString(c?.SecurityToken);
  const expiration = new Date(asString(c?.Expiration));
  if (!accessKeyId || !accessKeySecret || !securityToken || Number.isNaN(expiration.getTime())) {
    const id = asString(r.RequestId);
    throw new EnvelopeError(
      "KMS_FAILED",
      `${what} failed: the answer has no complete Credentials${id ? `, request id ${id}` : ""}`,
      { hint: "check that ALIBABA_CLOUD_STS_ENDPOINT points at Alibaba Cloud STS" },
    );
  }
  return { accessKeyId, accessKeySecret, securityToken, expiration };
}

async function callSts(
  ctx: SourceContext,
  action: string,
  params: Record<string, string>,
  what: string,
  credentials?: RpcCredentials,
): Promise<AliyunCredentials> {
  const endpoint = stsEndpoint(ctx.env);
  let r: Record<string, unknown>;
  try {
    r = await withRetry(
      (signal) =>
        sendRpc(ctx.fetch, { endpoint, action, version: ALIYUN_STS_API_VERSION, params, credentials }, signal),
      (err) => err instanceof NetworkError || (err instanceof AliyunServiceError && isTransient(err)),
      ctx.retry,
    );
  } catch (err) {
    const mapped = mapError(err, what);
    // A refusal of STS means no credentials: access denied, whatever its code.
    if (err instanceof AliyunServiceError && !isTransient(err) && mapped.code === "KMS_FAILED") {
      throw new EnvelopeError("KMS_ACCESS_DENIED", mapped.message, {
        hint: "check the role ARN, the role's trust policy and the caller's sts:AssumeRole permission",
        cause: err,
      });
    }
    throw mapped;
  }
  return parseCredentials(r, what);
}

/** STS `AssumeRole` with the given AccessKey (permanent or STS). */
export function assumeRole(ctx: SourceContext, base: RpcCredentials, spec: RoleSpec): Promise<AliyunCredentials> {
  return callSts(
    ctx,
    "AssumeRole",
    sessionParams(spec),
    `Alibaba Cloud STS AssumeRole of ${spec.roleArn}`,
    base,
  );
}

/** Reads a small text file (the OIDC token), lazily loading `node:fs`; `undefined` when it does not exist. */
export async function readSmallFile(
  path: string,
  limit = 1 << 20,
  onMode?: (mode: number) => void,
): Promise<string | undefined> {
  const g = globalThis as {
    Deno?: { permissions?: { querySync?(d: { name: "read"; path: string }): { state: string } } };
  };
  if ((g.Deno?.permissions?.querySync?.({ name: "read", path }).state ?? "granted") !== "granted") {
    throw new EnvelopeError("IO_FAILED", `Reading ${path} failed: this run may not read files`, {
      hint: "run Deno with --allow-read (or -A)",
    });
  }
  let fs: typeof import("node:fs/promises");
  try {
    fs = await import("node:fs/promises");
  } catch {
    throw new EnvelopeError("IO_FAILED", `Reading ${path} failed: this runtime has no file system`, {
      hint: "pass credentials to the constructor instead",
    });
  }
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(path, "r");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw new EnvelopeError("IO_FAILED", `Reading ${path} failed: ${(err as Error).message}`, {
      hint: "check the file's permissions",
      cause: err,
    });
  }
  try {
    if (onMode) onMode((await handle.stat()).mode);
    const buf = new Uint8Array(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > limit) {
      throw new EnvelopeError("IO_FAILED", `Reading ${path} failed: it is larger than ${limit} bytes`, {
        hint: "point the setting at the right file",
      });
    }
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    await handle.close();
  }
}

/** STS `AssumeRoleWithOIDC`: unsigned, carrying the token read from `spec.tokenFile` now. */
export async function assumeRoleWithOidc(ctx: SourceContext, spec: OidcRoleSpec): Promise<AliyunCredentials> {
  const what = `Alibaba Cloud STS AssumeRoleWithOIDC of ${spec.roleArn}`;
  const token = (await readSmallFile(spec.tokenFile))?.trim();
  if (token === undefined) {
    throw new EnvelopeError(
      "KMS_ACCESS_DENIED",
      `${what} failed: the OIDC token file ${spec.tokenFile} does not exist`,
      { hint: "check ALIBABA_CLOUD_OIDC_TOKEN_FILE (or the profile's token file) and the pod's RRSA volume" },
    );
  }
  if (token === "") {
    throw new EnvelopeError("KMS_ACCESS_DENIED", `${what} failed: the OIDC token file ${spec.tokenFile} is empty`, {
      hint: "check that the token file is the one the pod's RRSA volume provides",
    });
  }
  return callSts(ctx, "AssumeRoleWithOIDC", {
    ...sessionParams(spec),
    OIDCProviderArn: spec.oidcProviderArn,
    OIDCToken: token,
  }, what);
}
