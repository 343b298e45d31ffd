/**
 * Alibaba Cloud credential profiles from the two files its tools write:
 *
 * - `~/.alibabacloud/credentials` (INI; `ALIBABA_CLOUD_CREDENTIALS_FILE`
 *   overrides the path), profile `ALIBABA_CLOUD_PROFILE` or `default`, of
 *   `type` `access_key`, `sts`, `ram_role_arn`, `ecs_ram_role` or
 *   `oidc_role_arn`;
 * - the aliyun CLI's `~/.aliyun/config.json`, profile `ALIBABA_CLOUD_PROFILE`
 *   or the file's `current`, of `mode` `AK`, `StsToken`, `RamRoleArn`,
 *   `EcsRamRole` or `OIDC` (skipped when
 *   `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`).
 *
 * A file is read (through a lazily imported `node:fs`) only when the chain
 * gets this far. A missing default file or profile is "nothing here"; a
 * chosen profile that is incomplete, or an `ALIBABA_CLOUD_CREDENTIALS_FILE`
 * that does not exist, is an error. Messages name files, profiles and
 * fields, never values.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { isWindows } from "../host/process.ts";
import type { RpcCredentials } from "./aliyun_rpc.ts";
import { type OidcRoleSpec, readSmallFile, type RoleSpec } from "./aliyun_sts.ts";

/** What a source names: credentials, or how to get them. */
export type CredentialSpec =
  | { readonly kind: "access_key"; readonly credentials: RpcCredentials }
  | { readonly kind: "ram_role_arn"; readonly base: RpcCredentials; readonly role: RoleSpec }
  | { readonly kind: "oidc_role_arn"; readonly role: OidcRoleSpec }
  | { readonly kind: "ecs_ram_role"; readonly roleName: string };

/** A source's answer: a spec (with a description of where it came from) or why it had none. */
export type Lookup = { readonly spec: CredentialSpec; readonly source: string } | { readonly skip: string };

type Env = (name: string) => string | undefined;

function home(env: Env): string | undefined {
  return env("HOME") ?? env("USERPROFILE");
}

function broken(where: string, why: string, hint: string): EnvelopeError {
  return new EnvelopeError("KMS_ACCESS_DENIED", `Reading Alibaba Cloud credentials from ${where} failed: ${why}`, {
    hint,
  });
}

/** Reads `path`; `{ skip }` when it is absent or unreadable here and `required` is false. */
async function readProfileFile(path: string, required: boolean): Promise<string | { skip: string }> {
  let text: string | undefined;
  try {
    // The file holds an AccessKey secret: say so when others can read it, as for a local key file.
    text = await readSmallFile(path, undefined, (mode) => {
      if (isWindows || (mode & 0o077) === 0) return;
      console.warn(
        `warning: the credentials file ${path} is accessible to other users (mode ${
          (mode & 0o777).toString(8).padStart(4, "0")
        }); run chmod 600 ${path}`,
      );
    });
  } catch (err) {
    if (required || !(err instanceof EnvelopeError)) throw err;
    return { skip: err.message };
  }
  if (text !== undefined) return text;
  if (required) {
    throw broken(path, "the file does not exist", "fix ALIBABA_CLOUD_CREDENTIALS_FILE or unset it");
  }
  return { skip: `${path} does not exist` };
}

/** Sections of an INI text: `[name]` then `key = value` lines; `#` and `;` start comments. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      current = new Map();
      out.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && current) {
      let value = line.slice(eq + 1).trim();
      if (/^(["']).*\1$/.test(value) && value.length >= 2) value = value.slice(1, -1);
      current.set(line.slice(0, eq).trim().toLowerCase(), value);
    }
  }
  return out;
}

function seconds(v: string | number | undefined, where: string, field: string): number | undefined {
  if (v === undefined || v === "" || v === 0) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 900 || n > 43200) {
    throw broken(where, `${field} is not a whole number of seconds from 900 to 43200`, `fix ${field}`);
  }
  return n;
}

/** The profile from the INI credentials file. */
export async function fromCredentialsFile(env: Env): Promise<Lookup> {
  const explicit = env("ALIBABA_CLOUD_CREDENTIALS_FILE");
  const h = home(env);
  if (!explicit && !h) return { skip: "no home folder (HOME is not set)" };
  const path = explicit ?? `${h}/.alibabacloud/credentials`;
  const text = await readProfileFile(path, explicit !== undefined);
  if (typeof text !== "string") return text;
  const name = env("ALIBABA_CLOUD_PROFILE") ?? "default";
  const p = parseIni(text).get(name);
  if (!p) return { skip: `${path} has no profile [${name}]` };
  const where = `profile [${name}] of ${path}`;
  if (p.get("enable")?.toLowerCase() === "false") return { skip: `${where} has enable = false` };
  const type = p.get("type") ?? "";
  const need = (...fields: string[]): string[] => {
    const missing = fields.filter((f) => !p.get(f));
    if (missing.length) {
      throw broken(where, `type ${type} needs ${missing.join(", ")}`, `add ${missing.join(", ")} to [${name}]`);
    }
    return fields.map((f) => p.get(f)!);
  };
  const role = (arn: string): RoleSpec => ({
    roleArn: arn,
    sessionName: p.get("role_session_name") || undefined,
    durationSeconds: seconds(p.get("role_session_expiration"), where, "role_session_expiration"),
    policy: p.get("policy") || undefined,
  });
  const source = `${where} (type ${type})`;
  switch (type) {
    case "access_key": {
      const [accessKeyId, accessKeySecret] = need("access_key_id", "access_key_secret");
      return { spec: { kind: "access_key", credentials: { accessKeyId, accessKeySecret } }, source };
    }
    case "sts": {
      const [accessKeyId, accessKeySecret, securityToken] = need(
        "access_key_id",
        "access_key_secret",
        "security_token",
      );
      return { spec: { kind: "access_key", credentials: { accessKeyId, accessKeySecret, securityToken } }, source };
    }
    case "ram_role_arn": {
      const [accessKeyId, accessKeySecret, roleArn] = need("access_key_id", "access_key_secret", "role_arn");
      const securityToken = p.get("security_token") || undefined;
      return {
        spec: { kind: "ram_role_arn", base: { accessKeyId, accessKeySecret, securityToken }, role: role(roleArn) },
        source,
      };
    }
    case "oidc_role_arn": {
      const [roleArn, oidcProviderArn, tokenFile] = need("role_arn", "oidc_provider_arn", "oidc_token_file_path");
      return { spec: { kind: "oidc_role_arn", role: { ...role(roleArn), oidcProviderArn, tokenFile } }, source };
    }
    case "ecs_ram_role": {
      const [roleName] = need("role_name");
      return { spec: { kind: "ecs_ram_role", roleName }, source };
    }
    default:
      throw broken(
        where,
        type ? `type ${type} is not supported` : "it has no type",
        "set type to access_key, sts, ram_role_arn, ecs_ram_role or oidc_role_arn",
      );
  }
}

/** The profile from the aliyun CLI's `~/.aliyun/config.json`. */
export async function fromCliConfig(env: Env): Promise<Lookup> {
  if (env("ALIBABA_CLOUD_CLI_PROFILE_DISABLED")?.toLowerCase() === "true") {
    return { skip: "ALIBABA_CLOUD_CLI_PROFILE_DISABLED is true" };
  }
  const h = home(env);
  if (!h) return { skip: "no home folder (HOME is not set)" };
  const path = `${h}/.aliyun/config.json`;
  const text = await readProfileFile(path, false);
  if (typeof text !== "string") return text;
  let config: { current?: unknown; profiles?: unknown };
  try {
    config = JSON.parse(text);
  } catch {
    return { skip: `${path} is not JSON` };
  }
  const name = env("ALIBABA_CLOUD_PROFILE") ??
    (typeof config?.current === "string" && config.current ? config.current : "default");
  const profiles = Array.isArray(config?.profiles) ? config.profiles as Record<string, unknown>[] : [];
  const p = profiles.find((x) => x && typeof x === "object" && x.name === name);
  if (!p) return { skip: `${path} has no profile ${JSON.stringify(name)}` };
  const where = `profile ${JSON.stringify(name)} of ${path}`;
  const mode = typeof p.mode === "string" ? p.mode : "";
  const get = (f: string) => (typeof p[f] === "string" && p[f] ? p[f] as string : undefined);
  const need = (...fields: string[]): string[] => {
    const missing = fields.filter((f) => !get(f));
    if (missing.length) throw broken(where, `mode ${mode} needs ${missing.join(", ")}`, "run aliyun configure again");
    return fields.map((f) => get(f)!);
  };
  const role = (arn: string): RoleSpec => ({
    roleArn: arn,
    sessionName: get("ram_session_name"),
    durationSeconds: seconds(p.expired_seconds as number | undefined, where, "expired_seconds"),
  });
  const source = `${where} (mode ${mode})`;
  switch (mode) {
    case "AK": {
      const [accessKeyId, accessKeySecret] = need("access_key_id", "access_key_secret");
      return { spec: { kind: "access_key", credentials: { accessKeyId, accessKeySecret } }, source };
    }
    case "StsToken": {
      const [accessKeyId, accessKeySecret, securityToken] = need("access_key_id", "access_key_secret", "sts_token");
      return { spec: { kind: "access_key", credentials: { accessKeyId, accessKeySecret, securityToken } }, source };
    }
    case "RamRoleArn": {
      const [accessKeyId, accessKeySecret, roleArn] = need("access_key_id", "access_key_secret", "ram_role_arn");
      return {
        spec: {
          kind: "ram_role_arn",
          base: { accessKeyId, accessKeySecret, securityToken: get("sts_token") },
          role: role(roleArn),
        },
        source,
      };
    }
    case "EcsRamRole": {
      const [roleName] = need("ram_role_name");
      return { spec: { kind: "ecs_ram_role", roleName }, source };
    }
    case "OIDC": {
      const [roleArn, oidcProviderArn, tokenFile] = need("ram_role_arn", "oidc_provider_arn", "oidc_token_file");
      return { spec: { kind: "oidc_role_arn", role: { ...role(roleArn), oidcProviderArn, tokenFile } }, source };
    }
    default:
      throw broken(
        where,
        mode ? `mode ${mode} is not supported here` : "it has no mode",
        "use a profile of mode AK, StsToken, RamRoleArn, EcsRamRole or OIDC, or set ALIBABA_CLOUD_PROFILE",
      );
  }
}
