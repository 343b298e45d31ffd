/**
 * Alibaba Cloud credentials, found the way Alibaba Cloud's own tools find
 * them. {@linkcode AliyunCredentialChain} asks, in order:
 *
 * 1. the explicit options (`accessKeyId`, `accessKeySecret`, `securityToken`);
 * 2. the environment: `ALIBABA_CLOUD_ACCESS_KEY_ID`,
 *    `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and `ALIBABA_CLOUD_SECURITY_TOKEN`;
 *    with `ALIBABA_CLOUD_ROLE_ARN` too (and no OIDC provider), STS
 *    `AssumeRole` of that role with that AccessKey
 *    (`ALIBABA_CLOUD_ROLE_SESSION_NAME` names the session);
 * 3. OIDC (Kubernetes RRSA): `ALIBABA_CLOUD_ROLE_ARN`,
 *    `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` and `ALIBABA_CLOUD_OIDC_TOKEN_FILE`,
 *    through STS `AssumeRoleWithOIDC`;
 * 4. the profile files: `~/.alibabacloud/credentials`, then the aliyun CLI's
 *    `~/.aliyun/config.json` (see `aliyun_profiles.ts`);
 * 5. the ECS instance metadata service, only for a role named by
 *    `ALIBABA_CLOUD_ECS_METADATA` and never when
 *    `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`.
 *
 * The first source that is configured is used from then on; one that is
 * configured but broken (half an AccessKey, a missing token file, an
 * incomplete profile) is an error rather than a reason to try the next.
 * Temporary credentials are kept until a few minutes (`refreshMarginMs`,
 * default 3) before their `Expiration`, and concurrent callers share one
 * refresh. When nothing is configured, the error lists every source tried
 * and why it gave nothing. No message holds a secret or a token.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { getEnv } from "../host/env.ts";
import { ecsRoleCredentials, metadataDisabled } from "./aliyun_metadata.ts";
import { type CredentialSpec, fromCliConfig, fromCredentialsFile, type Lookup } from "./aliyun_profiles.ts";
import { assumeRole, assumeRoleWithOidc, type SourceContext } from "./aliyun_sts.ts";
import type { RetryOptions } from "./retry.ts";
import type { AliyunCredentials } from "./aliyun_rpc.ts";

export type { AliyunCredentials };

/**
 * Anything that hands out credentials for each call: an
 * {@linkcode AliyunCredentialChain}, or the caller's own.
 *
 * @example Credentials from a vault of the caller's own
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AliyunCredentialsProvider } from "./aliyun.ts";
 * const mine: AliyunCredentialsProvider = {
 *   getCredentials: () => Promise.resolve({ accessKeyId: "LTAI-example", accessKeySecret: "example" }),
 * };
 * assert.equal((await mine.getCredentials()).accessKeyId, "LTAI-example");
 * ```
 */
export interface AliyunCredentialsProvider {
  /** Credentials valid for at least the next call. */
  getCredentials(): Promise<AliyunCredentials>;
}

/** Options of {@linkcode AliyunCredentialChain}. */
export interface AliyunCredentialChainOptions {
  /** Explicit AccessKey ID; with `accessKeySecret`, the chain looks no further. */
  readonly accessKeyId?: string;
  /** Explicit AccessKey secret. */
  readonly accessKeySecret?: string;
  /** Explicit STS security token, with the two above. */
  readonly securityToken?: string;
  /** Reads a setting (default: the environment, read guarded). Tests pass their own. */
  readonly env?: (name: string) => string | undefined;
  /** The `fetch` for STS and the metadata service (default `globalThis.fetch`). */
  readonly fetch?: typeof fetch;
  /** Retry and timeout policy of those calls. */
  readonly retry?: RetryOptions;
  /** Clock in ms since the epoch (default `Date.now`), for deciding when to refresh. */
  readonly now?: () => number;
  /** Refresh temporary credentials this long before they expire (default 180000 ms). */
  readonly refreshMarginMs?: number;
}

const ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN";
const OIDC_VARS = [ROLE_ARN, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"];

function denied(message: string, hint: string): EnvelopeError {
  return new EnvelopeError("KMS_ACCESS_DENIED", message, { hint });
}

function listed(names: string[]): string {
  return names.length === 1
    ? `${names[0]} is not set`
    : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are not set`;
}

/**
 * The default Alibaba Cloud credential chain (the order is in the module
 * documentation). Nothing is read or sent until the first
 * {@linkcode AliyunCredentialChain.getCredentials}.
 *
 * @example Explicit options win over everything else
 * ```ts
 * import assert from "node:assert/strict";
 * import { AliyunCredentialChain } from "./aliyun.ts";
 * const chain = new AliyunCredentialChain({ accessKeyId: "LTAI-example", accessKeySecret: "example", env: () => undefined });
 * assert.equal((await chain.getCredentials()).accessKeyId, "LTAI-example");
 * assert.equal(chain.source, "options");
 * ```
 *
 * @example With nothing configured, the error lists what was tried
 * ```ts
 * import assert from "node:assert/strict";
 * import { AliyunCredentialChain } from "./aliyun.ts";
 * const err = await new AliyunCredentialChain({ env: () => undefined }).getCredentials().catch((e) => e);
 * assert.equal(err.code, "KMS_ACCESS_DENIED");
 * assert.match(err.message, /ALIBABA_CLOUD_ACCESS_KEY_ID/);
 * ```
 */
export class AliyunCredentialChain implements AliyunCredentialsProvider {
  readonly #options: AliyunCredentialChainOptions;
  readonly #ctx: SourceContext;
  readonly #now: () => number;
  readonly #margin: number;
  #fetch?: () => Promise<AliyunCredentials>;
  #source?: string;
  #current?: AliyunCredentials;
  #inflight?: Promise<AliyunCredentials>;

  /** A chain; `options` may hold explicit credentials and the test hooks. */
  constructor(options: AliyunCredentialChainOptions = {}) {
    this.#options = options;
    const doFetch = options.fetch;
    this.#ctx = {
      env: options.env ?? getEnv,
      fetch: doFetch ?? ((input, init) => globalThis.fetch(input, init)),
      retry: options.retry ?? {},
    };
    this.#now = options.now ?? Date.now;
    this.#margin = options.refreshMarginMs ?? 180_000;
  }

  /** Where the credentials come from (`options`, `environment`, a profile...), once found. */
  get source(): string | undefined {
    return this.#source;
  }

  /** Cached credentials while they have more than the margin left, else fresh ones (one refresh at a time). */
  getCredentials(): Promise<AliyunCredentials> {
    const c = this.#current;
    if (c && (c.expiration === undefined || c.expiration.getTime() - this.#margin > this.#now())) {
      return Promise.resolve(c);
    }
    return this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = undefined;
    });
  }

  async #refresh(): Promise<AliyunCredentials> {
    if (!this.#fetch) {
      const found = await this.#resolve();
      this.#fetch = this.#fetcher(found.spec);
      this.#source = found.source;
    }
    const c = await this.#fetch();
    this.#current = c;
    return c;
  }

  #fetcher(spec: CredentialSpec): () => Promise<AliyunCredentials> {
    const ctx = this.#ctx;
    switch (spec.kind) {
      case "access_key":
        return () => Promise.resolve(spec.credentials);
      case "ram_role_arn":
        return () => assumeRole(ctx, spec.base, spec.role);
      case "oidc_role_arn":
        return () => assumeRoleWithOidc(ctx, spec.role);
      case "ecs_ram_role":
        if (metadataDisabled(ctx.env)) {
          throw denied(
            `Getting the credentials of ECS RAM role ${spec.roleName} failed: ALIBABA_CLOUD_ECS_METADATA_DISABLED is true`,
            "unset ALIBABA_CLOUD_ECS_METADATA_DISABLED, or choose a profile that is not of type ecs_ram_role",
          );
        }
        return () => ecsRoleCredentials(ctx, spec.roleName);
    }
  }

  async #resolve(): Promise<{ spec: CredentialSpec; source: string }> {
    const env = this.#ctx.env;
    const tried: string[] = [];

    const o = this.#options;
    if (o.accessKeyId || o.accessKeySecret || o.securityToken) {
      if (!o.accessKeyId || !o.accessKeySecret) {
        throw denied(
          "Finding Alibaba Cloud credentials failed: the options give only part of an AccessKey",
          "pass accessKeyId and accessKeySecret together, or neither",
        );
      }
      return {
        spec: {
          kind: "access_key",
          credentials: {
            accessKeyId: o.accessKeyId,
            accessKeySecret: o.accessKeySecret,
            securityToken: o.securityToken,
          },
        },
        source: "options",
      };
    }
    tried.push("options: no accessKeyId and accessKeySecret given");

    const id = env("ALIBABA_CLOUD_ACCESS_KEY_ID");
    const secret = env("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    if (id || secret) {
      if (!id || !secret) {
        throw denied(
          `Finding Alibaba Cloud credentials failed: ${
            listed([id ? "ALIBABA_CLOUD_ACCESS_KEY_SECRET" : "ALIBABA_CLOUD_ACCESS_KEY_ID"])
          } though ${id ? "ALIBABA_CLOUD_ACCESS_KEY_ID" : "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} is`,
          "set both ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or neither",
        );
      }
      const base = { accessKeyId: id, accessKeySecret: secret, securityToken: env("ALIBABA_CLOUD_SECURITY_TOKEN") };
      const roleArn = env(ROLE_ARN);
      if (roleArn && !env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")) {
        const role = { roleArn, sessionName: env("ALIBABA_CLOUD_ROLE_SESSION_NAME") };
        return { spec: { kind: "ram_role_arn", base, role }, source: `environment (AssumeRole of ${roleArn})` };
      }
      return { spec: { kind: "access_key", credentials: base }, source: "environment" };
    }
    tried.push(`environment: ${listed(["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"])}`);

    const missing = OIDC_VARS.filter((n) => !env(n));
    if (missing.length === 0) {
      const [roleArn, oidcProviderArn, tokenFile] = OIDC_VARS.map((n) => env(n)!);
      return {
        spec: {
          kind: "oidc_role_arn",
          role: { roleArn, oidcProviderArn, tokenFile, sessionName: env("ALIBABA_CLOUD_ROLE_SESSION_NAME") },
        },
        source: `OIDC (AssumeRoleWithOIDC of ${roleArn})`,
      };
    }
    tried.push(`OIDC (RRSA): ${listed(missing)}`);

    for (
      const [label, lookup] of [["credentials file", fromCredentialsFile], [
        "aliyun CLI config",
        fromCliConfig,
      ]] as const
    ) {
      const r: Lookup = await lookup(env);
      if ("spec" in r) return r;
      tried.push(`${label}: ${r.skip}`);
    }

    const role = env("ALIBABA_CLOUD_ECS_METADATA");
    if (metadataDisabled(env)) {
      tried.push("ECS metadata: ALIBABA_CLOUD_ECS_METADATA_DISABLED is true");
    } else if (!role) {
      tried.push(
        "ECS metadata: ALIBABA_CLOUD_ECS_METADATA names no role, and the service is asked only for a named role",
      );
    } else {
      return { spec: { kind: "ecs_ram_role", roleName: role }, source: `ECS metadata (role ${role})` };
    }

    throw denied(
      `Finding Alibaba Cloud credentials failed: no source gave any. Tried, in order: ${
        tried.map((t, i) => `${i + 1}) ${t}`).join("; ")
      }`,
      "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, write a profile to ~/.alibabacloud/credentials, or name the ECS RAM role in ALIBABA_CLOUD_ECS_METADATA (docs/aliyun.md lists every source)",
    );
  }
}
