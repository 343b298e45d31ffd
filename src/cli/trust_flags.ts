/**
 * The flags that bound what an attacker-written key list can make the CLI do
 * (docs/FORMAT.md §8 step 6), shared by `decrypt` and `rewrap`: a cap on
 * unwrap attempts and the discovery filters. Each also has an environment
 * variable, so a team can set them once.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import type { AwsDiscoveryFilter } from "../kms/aws_options.ts";
import type { FlagSpec } from "./args.ts";

/** `--max-attempts N`, `--aws-account ID`, `--aws-partition P`, `--aws-region R`, `--aliyun-region R`. */
export const TRUST_FLAGS: readonly FlagSpec[] = [
  { name: "max-attempts", kind: "string" },
  { name: "aws-account", kind: "list" },
  { name: "aws-partition", kind: "string" },
  { name: "aws-region", kind: "list" },
  { name: "aliyun-region", kind: "list" },
];

/** What the trust flags say. */
export interface TrustOptions {
  /** Wrapped keys that may reach a provider (default 8). */
  readonly maxAttempts?: number;
  /** The filter for the AWS discovery provider. */
  readonly aws?: AwsDiscoveryFilter;
  /** Regions the Alibaba Cloud discovery provider may call. */
  readonly aliyunRegions?: readonly string[];
}

function env(name: string): string | undefined {
  const deno = (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno;
  try {
    return deno ? deno.env.get(name) : (globalThis as { process?: { env: Record<string, string> } }).process?.env[name];
  } catch {
    return undefined;
  }
}

const list = (flag: unknown, variable: string): string[] | undefined => {
  const given = flag as string[] | undefined;
  if (given?.length) return given.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  const text = env(variable);
  return text ? text.split(",").map((v) => v.trim()).filter(Boolean) : undefined;
};

/**
 * Reads the trust flags (falling back to ENVELOPE_MAX_ATTEMPTS,
 * ENVELOPE_AWS_ACCOUNTS, ENVELOPE_AWS_PARTITION, ENVELOPE_AWS_REGIONS and
 * ENVELOPE_ALIYUN_REGIONS); a bad count is a usage error.
 */
export function readTrustFlags(flags: Record<string, unknown>, command: string): TrustOptions {
  const text = (flags["max-attempts"] as string | undefined) ?? env("ENVELOPE_MAX_ATTEMPTS");
  let maxAttempts: number | undefined;
  if (text !== undefined) {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1024) {
      throw new EnvelopeError(
        "USAGE",
        `Reading --max-attempts failed: "${text}" is not a whole number from 1 to 1024`,
        {
          hint: `run \`envelope ${command} --help\``,
        },
      );
    }
    maxAttempts = Number(text);
  }
  const accounts = list(flags["aws-account"], "ENVELOPE_AWS_ACCOUNTS");
  for (const a of accounts ?? []) {
    if (!/^\d{12}$/.test(a)) {
      throw new EnvelopeError("USAGE", `Reading --aws-account failed: "${a}" is not a 12-digit AWS account id`, {
        hint: `run \`envelope ${command} --help\``,
      });
    }
  }
  const partition = (flags["aws-partition"] as string | undefined) ?? env("ENVELOPE_AWS_PARTITION");
  const regions = list(flags["aws-region"], "ENVELOPE_AWS_REGIONS");
  const aws = accounts || partition || regions ? { accounts, partition, regions } : undefined;
  return { maxAttempts, aws, aliyunRegions: list(flags["aliyun-region"], "ENVELOPE_ALIYUN_REGIONS") };
}
