/**
 * Turning `-k` key specs into key providers. Cloud providers are imported
 * only when a spec names them, so local-only runs never load a cloud SDK.
 *
 * | spec | provider |
 * | --- | --- |
 * | `local:PATH` | a local key file |
 * | `aws-kms:ID`, `alias/NAME`, `arn:aws:kms:...`, a key UUID | AWS KMS |
 * | `aliyun-kms:ID` (key id, `alias/NAME` or `acs:kms:...` ARN) | Alibaba Cloud KMS |
 * | `kmstool:PATH` | the Nitro enclave's `kmstool_enclave_cli` (decrypt only) |
 * | `age1...`, `age1pq1...` | an age recipient, X25519 or mlkem768x25519 (encrypt and rewrap only) |
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import type { Header } from "../format/header.ts";
import {
  defaultLocalKeyPath,
  loadLocalKeyFile,
  type LoadLocalKeyOptions,
  loadOrCreateLocalKey,
} from "../keys/local_file.ts";
import type { KeyProvider, WrappedKey } from "../keys/provider.ts";
import type { AwsKms } from "../kms/aws.ts";
import type { AliyunKms } from "../kms/aliyun.ts";
import type { KmstoolKey } from "../kms/kmstool.ts";
import { exists } from "./files.ts";
import { warn } from "./output.ts";
import type { TrustOptions } from "./trust_flags.ts";
import { importLater } from "../import_later.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The forms `-k` accepts, for messages. */
export const KEY_FORMS =
  "local:PATH, aws-kms:ID, alias/NAME, arn:aws:kms:..., a key UUID, aliyun-kms:ID, kmstool:PATH, age1... (a recipient)";

/** Which provider a spec names, and the id or path after the prefix. */
export function classify(
  spec: string,
): { kind: "local" | "aws-kms" | "aliyun-kms" | "kmstool" | "age"; value: string } {
  const after = (p: string) => spec.slice(p.length);
  if (/^\s*AGE-SECRET-KEY-/i.test(spec)) {
    // A secret on the command line: never echoed, and not used.
    throw new EnvelopeError("USAGE", "Reading a -k key failed: it is an age identity (a secret key), not a recipient", {
      hint: "pass the identity in a file with -i FILE, and its recipient (age1...) with -k",
    });
  }
  if (spec.startsWith("age1")) return { kind: "age", value: spec };
  if (spec.startsWith("local:")) return { kind: "local", value: after("local:") };
  if (spec.startsWith("aws-kms:")) return { kind: "aws-kms", value: after("aws-kms:") };
  if (spec.startsWith("aliyun-kms:")) return { kind: "aliyun-kms", value: after("aliyun-kms:") };
  if (spec.startsWith("kmstool:")) return { kind: "kmstool", value: after("kmstool:") };
  if (spec.startsWith("alias/") || /^arn:aws[a-z-]*:kms:/.test(spec) || UUID.test(spec)) {
    return { kind: "aws-kms", value: spec };
  }
  throw new EnvelopeError("USAGE", `Reading the key "${spec}" failed: it is not a key form envelope knows`, {
    hint: `use one of: ${KEY_FORMS}`,
  });
}

/** Loads the provider a `-k` spec names. */
export async function resolveKey(spec: string): Promise<KeyProvider> {
  const { kind, value } = classify(spec);
  if (value === "") {
    throw new EnvelopeError("USAGE", `Reading the key "${spec}" failed: nothing follows the prefix`, {
      hint: `use one of: ${KEY_FORMS}`,
    });
  }
  return await providerFor(kind, value);
}

/** The kinds of key a `-k` spec names. */
export type KeyKind = ReturnType<typeof classify>["kind"];

/**
 * The provider of `kind` for `value` (a key id, a path or a recipient), its
 * module loaded on first use: the one place a classified `-k` spec becomes a
 * provider, for {@linkcode resolveKey} and for the compatibility formats'
 * commands (which call the KMS directly on a bare blob).
 */
export async function providerFor(kind: "aws-kms", value: string): Promise<AwsKms>;
export async function providerFor(kind: "aliyun-kms", value: string): Promise<AliyunKms>;
export async function providerFor(kind: "kmstool", value: string): Promise<KmstoolKey>;
export async function providerFor(kind: KeyKind, value: string): Promise<KeyProvider>;
export async function providerFor(kind: KeyKind, value: string): Promise<KeyProvider> {
  switch (kind) {
    case "local":
      return await loadLocalKeyFile(value, KEY_FILE_OPTIONS);
    case "aws-kms": {
      const { AwsKms } = await importLater<typeof import("../kms/aws.ts")>(import.meta.url, "../kms/aws.ts");
      return new AwsKms({ keyId: value });
    }
    case "aliyun-kms": {
      const { AliyunKms } = await importLater<typeof import("../kms/aliyun.ts")>(import.meta.url, "../kms/aliyun.ts");
      return new AliyunKms({ keyId: value });
    }
    case "kmstool": {
      const { KmstoolKey } = await importLater<typeof import("../kms/kmstool.ts")>(
        import.meta.url,
        "../kms/kmstool.ts",
      );
      return new KmstoolKey({ path: value });
    }
    case "age": {
      const { AgeRecipient } = await importLater<typeof import("../keys/age.ts")>(import.meta.url, "../keys/age.ts");
      return AgeRecipient.parse(value);
    }
  }
}

/** Key files others can read still load, with a `warning:` line (docs/FORMAT.md §6 says they MUST NOT be). */
const KEY_FILE_OPTIONS: LoadLocalKeyOptions = {
  onInsecurePermissions: (path, mode) =>
    warn(`the key file ${path} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${path}`, true),
};

/** Loads every `-k` spec. */
export async function resolveKeys(specs: readonly string[]): Promise<KeyProvider[]> {
  const out: KeyProvider[] = [];
  for (const s of specs) out.push(await resolveKey(s));
  return out;
}

/** The default local key for encrypting: created on first use, with a warning saying where and to back it up. */
export async function defaultEncryptKey(): Promise<KeyProvider> {
  const path = defaultLocalKeyPath();
  return await loadOrCreateLocalKey(path, (p) => {
    warn(`created a new local key at ${p}; back it up: files encrypted with it cannot be decrypted without it`, true);
  }, KEY_FILE_OPTIONS);
}

/**
 * Keys for decrypting when no `-k` was given: the header says which. The
 * default local key when the file has a `local` entry and the key file
 * exists; AWS and Alibaba Cloud discovery providers for their entries.
 */
export async function automaticKeys(
  keys: readonly Pick<WrappedKey, "provider">[] | Header["keys"],
  trust: TrustOptions = {},
): Promise<KeyProvider[]> {
  const providers = new Set(keys.map((k) => k.provider));
  const out: KeyProvider[] = [];
  if (providers.has("local")) {
    const path = defaultLocalKeyPath();
    if (await exists(path)) out.push(await loadLocalKeyFile(path, KEY_FILE_OPTIONS));
  }
  if (providers.has("aws-kms")) {
    const { AwsKms } = await importLater<typeof import("../kms/aws.ts")>(import.meta.url, "../kms/aws.ts");
    out.push(AwsKms.discovery({ filter: trust.aws }));
  }
  if (providers.has("aliyun-kms")) {
    const { AliyunKms } = await importLater<typeof import("../kms/aliyun.ts")>(import.meta.url, "../kms/aliyun.ts");
    out.push(AliyunKms.discovery({ regions: trust.aliyunRegions }));
  }
  return out;
}
