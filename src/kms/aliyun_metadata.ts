/**
 * The ECS instance metadata service's RAM-role credentials, in its hardened
 * (token) mode: `PUT /latest/api/token` with
 * `X-aliyun-ecs-metadata-token-ttl-seconds`, then
 * `GET /latest/meta-data/ram/security-credentials/<role>` with
 * `X-aliyun-ecs-metadata-token`. When the role is not found, the role list
 * (`GET /latest/meta-data/ram/security-credentials/`) says which role the
 * instance has.
 *
 * The chain calls this only for a named role, and never when
 * `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`. The address is
 * `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT` (default `http://100.100.100.200`).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import type { AliyunCredentials } from "./aliyun_rpc.ts";
import { NetworkError } from "./aliyun_errors.ts";
import { isConnectionReset } from "./net_errors.ts";
import { AttemptTimeout, withRetry } from "./retry.ts";
import { readAnswer } from "./answer_body.ts";
import type { SourceContext } from "./aliyun_sts.ts";

/** The metadata service's address on every ECS instance. */
export const ECS_METADATA_DEFAULT = "http://100.100.100.200";
const TOKEN_TTL_SECONDS = "21600";
/** The metadata service answers at once or not at all: a short timeout per attempt. */
const METADATA_TIMEOUT_MS = 5000;
/** The longest metadata answer read (a token, a role list, one role's credentials: a few hundred bytes). */
const MAX_METADATA_BYTES = 16 * 1024;

class MetadataStatus extends Error {
  constructor(readonly status: number, readonly path: string) {
    super(`${path} answered HTTP ${status}`);
  }
}

/** The metadata base URL from the settings, without a trailing slash. */
export function metadataEndpoint(env: (name: string) => string | undefined): string {
  return (env("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT") ?? ECS_METADATA_DEFAULT).replace(/\/+$/, "");
}

/** True when `ALIBABA_CLOUD_ECS_METADATA_DISABLED` is `true`. */
export function metadataDisabled(env: (name: string) => string | undefined): boolean {
  return env("ALIBABA_CLOUD_ECS_METADATA_DISABLED")?.toLowerCase() === "true";
}

async function request(
  ctx: SourceContext,
  base: string,
  method: "GET" | "PUT",
  path: string,
  headers: Record<string, string>,
): Promise<string> {
  return await withRetry(
    async (signal) => {
      let res: Response;
      try {
        res = await ctx.fetch(base + path, { method, headers, signal, redirect: "manual" });
      } catch (err) {
        if (signal.aborted && signal.reason instanceof AttemptTimeout) throw signal.reason;
        throw new NetworkError(err);
      }
      const text = await readAnswer(res, MAX_METADATA_BYTES).catch((err) => {
        if (signal.aborted && signal.reason instanceof AttemptTimeout) throw signal.reason;
        throw new NetworkError(err);
      });
      if (!res.ok) throw new MetadataStatus(res.status, path);
      if (text === undefined) {
        // Not retried: a metadata answer is a few hundred bytes.
        throw new EnvelopeError(
          "KMS_FAILED",
          `Reading ${path} from the metadata service failed: the answer is over ${MAX_METADATA_BYTES} bytes`,
          {
            hint:
              "the metadata service answers only on an ECS instance; check ALIBABA_CLOUD_ECS_METADATA and the endpoint",
          },
        );
      }
      return text;
    },
    (err) => err instanceof NetworkError || (err instanceof MetadataStatus && err.status >= 500),
    { ...ctx.retry, timeoutMs: Math.min(ctx.retry.timeoutMs ?? METADATA_TIMEOUT_MS, METADATA_TIMEOUT_MS) },
  );
}

/** Fetches the credentials of the instance's RAM role `role`. */
export async function ecsRoleCredentials(ctx: SourceContext, role: string): Promise<AliyunCredentials> {
  const what = `Getting the credentials of ECS RAM role ${role} from the instance metadata service`;
  if (!/^[\w.@+=,-]{1,64}$/.test(role)) {
    throw new EnvelopeError("KMS_ACCESS_DENIED", `${what} failed: ${JSON.stringify(role)} is not a role name`, {
      hint: "set ALIBABA_CLOUD_ECS_METADATA (or the profile's role_name) to the RAM role's name",
    });
  }
  const base = metadataEndpoint(ctx.env);
  const list = "/latest/meta-data/ram/security-credentials/";
  let text: string;
  try {
    const token = await request(ctx, base, "PUT", "/latest/api/token", {
      "X-aliyun-ecs-metadata-token-ttl-seconds": TOKEN_TTL_SECONDS,
    });
    // A token goes into a header: one that could not be a header value is refused unseen (fetch's own error would
    // quote it).
    if (!/^[\x21-\x7e]{1,1024}$/.test(token.trim())) {
      throw new EnvelopeError("KMS_FAILED", `${what} failed: the metadata service's session token is malformed`, {
        hint: "check that ALIBABA_CLOUD_ECS_METADATA's endpoint is the instance metadata service",
      });
    }
    const auth = { "X-aliyun-ecs-metadata-token": token.trim() };
    try {
      text = await request(ctx, base, "GET", list + role, auth);
    } catch (err) {
      if (!(err instanceof MetadataStatus && err.status === 404)) throw err;
      const roles = (await request(ctx, base, "GET", list, auth)).split(/\s+/).filter(Boolean);
      throw new EnvelopeError(
        "KMS_ACCESS_DENIED",
        `${what} failed: the instance has ${
          roles.length ? `the role ${roles.join(", ")}` : "no RAM role"
        }, not ${role}`,
        { hint: "attach the role to the instance, or name the instance's role in ALIBABA_CLOUD_ECS_METADATA" },
      );
    }
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    if (err instanceof MetadataStatus) {
      throw new EnvelopeError("KMS_ACCESS_DENIED", `${what} failed: ${err.message}`, {
        hint: "check that this runs on an ECS instance with that RAM role attached",
        cause: err,
      });
    }
    const code = err instanceof AttemptTimeout
      ? "KMS_TIMEOUT"
      : err instanceof NetworkError && isConnectionReset(err.cause)
      ? "CONNECTION_RESET"
      : "KMS_FAILED";
    throw new EnvelopeError(code, `${what} at ${base} failed: ${(err as Error).message}`, {
      hint:
        "the metadata service answers only on an ECS instance; elsewhere unset ALIBABA_CLOUD_ECS_METADATA (or set ALIBABA_CLOUD_ECS_METADATA_DISABLED=true)",
      cause: err,
    });
  }
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const s = (k: string) => (typeof body?.[k] === "string" ? body[k] as string : "");
  const expiration = new Date(s("Expiration"));
  if (s("Code") !== "Success" || !s("AccessKeyId") || !s("AccessKeySecret") || !s("SecurityToken")) {
    throw new EnvelopeError(
      "KMS_ACCESS_DENIED",
      `${what} failed: the answer holds no credentials${s("Code") ? ` (Code ${s("Code")})` : ""}`,
      { hint: "check the role's state in the ECS console, then retry" },
    );
  }
  if (Number.isNaN(expiration.getTime())) {
    throw new EnvelopeError("KMS_FAILED", `${what} failed: the answer has no valid Expiration`, {
      hint: "check ALIBABA_CLOUD_ECS_METADATA_ENDPOINT",
    });
  }
  return {
    accessKeyId: s("AccessKeyId"),
    accessKeySecret: s("AccessKeySecret"),
    securityToken: s("SecurityToken"),
    expiration,
  };
}
