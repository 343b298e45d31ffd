/**
 * `envelope policy aws|aliyun`: prints the KMS policies the Nitro-enclave and
 * Alibaba setups need, as JSON.
 *
 * @module
 */
import { aliyunPolicy, awsPolicies } from "../../compat/policy.ts";
import { parseArgs, usageError } from "../args.ts";
import { say } from "../output.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "key-arn", kind: "string" },
  { name: "account", kind: "string" },
  { name: "image-sha384", kind: "string" },
  { name: "role-arn", kind: "string" },
  { name: "region", kind: "string" },
  { name: "key-id", kind: "string" },
  { name: "only", kind: "string" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

const AWS_DOCS = {
  "key-policy": "keyPolicy",
  "parent-role-policy": "parentRolePolicy",
  "encryptor-policy": "encryptorPolicy",
} as const;

function need(flags: Record<string, unknown>, name: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v === "") {
    throw usageError("policy", `Reading the command line failed: --${name} is required`);
  }
  return v;
}

/** Runs `envelope policy`; returns the exit code. */
export function policyCommand(argv: readonly string[]): Promise<number> {
  return Promise.resolve(runPolicy(argv));
}

function runPolicy(argv: readonly string[]): number {
  const { positionals, flags } = parseArgs(argv, FLAGS, "policy");
  if (flags.help) {
    say(USAGE.policy);
    return 0;
  }
  const [kind, ...extra] = positionals;
  if (extra.length > 0 || (kind !== "aws" && kind !== "aliyun")) {
    throw usageError("policy", "Reading the command line failed: give aws or aliyun");
  }
  const only = flags.only as string | undefined;
  if (kind === "aws") {
    for (const f of ["region", "key-id"]) {
      if (flags[f] !== undefined) {
        throw usageError("policy", `Reading the command line failed: --${f} is for policy aliyun`);
      }
    }
    const docs = awsPolicies({
      keyArn: need(flags, "key-arn"),
      account: need(flags, "account"),
      imageSha384: need(flags, "image-sha384"),
      roleArn: flags["role-arn"] as string | undefined,
    });
    if (only !== undefined) {
      if (!(only in AWS_DOCS)) {
        throw usageError("policy", `Reading --only failed: "${only}" is not ${Object.keys(AWS_DOCS).join(", ")}`);
      }
      say(JSON.stringify(docs[AWS_DOCS[only as keyof typeof AWS_DOCS]], null, 2));
    } else {
      say(JSON.stringify(docs, null, 2));
    }
    return 0;
  }
  for (const f of ["key-arn", "image-sha384", "role-arn", "only"]) {
    if (flags[f] !== undefined) throw usageError("policy", `Reading the command line failed: --${f} is for policy aws`);
  }
  say(
    JSON.stringify(
      aliyunPolicy({ region: need(flags, "region"), account: need(flags, "account"), keyId: need(flags, "key-id") }),
      null,
      2,
    ),
  );
  return 0;
}
