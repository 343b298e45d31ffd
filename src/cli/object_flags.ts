/**
 * The flags of an upload to `s3://` or `oss://` (encrypt, rewrap and convert
 * with such an `-o`): part size, parts in flight, content type, metadata and
 * server-side encryption. Loads no SDK.
 *
 * @module
 */
import { type FlagSpec, usageError } from "./args.ts";

/** `--part-size`, `--parts-in-flight`, `--content-type`, `--metadata K=V`, `--sse`, `--sse-kms-key-id`. */
export const OBJECT_FLAGS: readonly FlagSpec[] = [
  { name: "part-size", kind: "string" },
  { name: "parts-in-flight", kind: "string" },
  { name: "content-type", kind: "string" },
  { name: "metadata", kind: "list" },
  { name: "sse", kind: "string" },
  { name: "sse-kms-key-id", kind: "string" },
];

/** `-r` / `--recursive` (many files to many objects, or back) and `--jobs N` (transfers at once). */
export const BATCH_FLAGS: readonly FlagSpec[] = [
  { name: "recursive", short: "r", kind: "boolean" },
  { name: "jobs", kind: "string" },
];

/** Reads `--jobs` (1 to 64, default 4). */
export function readJobs(flags: Record<string, unknown>, command: string): number {
  const text = flags.jobs as string | undefined;
  if (text === undefined) return 4;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) {
    throw usageError(command, `Reading --jobs failed: "${text}" is not a whole number from 1 to 64`);
  }
  return Number(text);
}

/** What the upload flags say. */
export interface UploadFlags {
  readonly partSize?: number;
  readonly queueSize?: number;
  readonly contentType?: string;
  readonly metadata?: Record<string, string>;
  readonly serverSideEncryption?: string;
  readonly sseKmsKeyId?: string;
}

/** Reads the upload flags; a malformed value is a usage error. */
export function readObjectFlags(flags: Record<string, unknown>, command: string): UploadFlags {
  const num = (name: string, min: number, max: number): number | undefined => {
    const text = flags[name] as string | undefined;
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw usageError(command, `Reading --${name} failed: "${text}" is not a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
  let metadata: Record<string, string> | undefined;
  for (const pair of (flags.metadata as string[] | undefined) ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || !/^[A-Za-z0-9-_]+$/.test(pair.slice(0, eq))) {
      throw usageError(
        command,
        `Reading --metadata failed: "${pair}" is not NAME=VALUE with a name of letters, digits, - and _`,
      );
    }
    (metadata ??= {})[pair.slice(0, eq).toLowerCase()] = pair.slice(eq + 1);
  }
  const sse = flags.sse as string | undefined;
  if (sse !== undefined && !["AES256", "aws:kms", "aws:kms:dsse", "KMS", "SM4"].includes(sse)) {
    throw usageError(
      command,
      `Reading --sse failed: "${sse}" is not AES256, aws:kms or aws:kms:dsse (OSS: AES256, KMS, SM4)`,
    );
  }
  const sseKmsKeyId = flags["sse-kms-key-id"] as string | undefined;
  return {
    partSize: num("part-size", 5 * 1024 * 1024, 5 * 1024 ** 3),
    queueSize: num("parts-in-flight", 1, 64),
    contentType: flags["content-type"] as string | undefined,
    metadata,
    serverSideEncryption: sse ?? (sseKmsKeyId ? "aws:kms" : undefined),
    sseKmsKeyId,
  };
}
