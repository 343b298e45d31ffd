/**
 * The KMS policies the sample setups need, as JSON documents.
 *
 * AWS (the Nitro-enclave sample's "Key Policy" and "IAM Policy" sections):
 * a key policy that lets the account administer the key, allows Decrypt for
 * the parent instance's role (kmstool_enclave_cli calls KMS with the parent's
 * credentials), and denies Decrypt unless the request carries an attestation
 * document whose `ImageSha384` is the enclave image's measurement; the
 * parent role's IAM policy allowing Decrypt on the key; and the encryptor's
 * IAM policy (Encrypt and GenerateDataKey).
 *
 * Alibaba Cloud (the Alibaba sample's RAM policy): Encrypt, Decrypt and
 * GenerateDataKey on one key.
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";

/** Inputs of {@linkcode awsPolicies}. */
export interface AwsPolicyInput {
  /** `arn:aws:kms:REGION:ACCOUNT:key/ID`. */
  readonly keyArn: string;
  /** The account that owns the key (12 digits). */
  readonly account: string;
  /** The enclave image's PCR0 measurement: SHA-384, 96 hex digits. */
  readonly imageSha384: string;
  /** The parent instance's IAM role; default the account root. */
  readonly roleArn?: string;
}

/** The three AWS documents. */
export interface AwsPolicies {
  readonly keyPolicy: unknown;
  readonly parentRolePolicy: unknown;
  readonly encryptorPolicy: unknown;
}

function bad(what: string, why: string, hint: string): EnvelopeError {
  return new EnvelopeError("USAGE", `Reading ${what} failed: ${why}`, { hint });
}

const KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/[\w+=,.@\/-]+$/;

/** Builds the AWS documents; throws `USAGE` for malformed inputs. */
export function awsPolicies(input: AwsPolicyInput): AwsPolicies {
  const key = KEY_ARN.exec(input.keyArn ?? "");
  if (!key) {
    throw bad(
      "--key-arn",
      `"${input.keyArn}" is not a KMS key ARN`,
      "give arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (an alias ARN does not work in a key policy's resource)",
    );
  }
  if (!/^\d{12}$/.test(input.account ?? "")) {
    throw bad("--account", `"${input.account}" is not a 12-digit AWS account id`, "give the account that owns the key");
  }
  if (!/^[0-9a-fA-F]{96}$/.test(input.imageSha384 ?? "")) {
    throw bad(
      "--image-sha384",
      `it is ${input.imageSha384?.length ?? 0} characters, not 96 hex digits`,
      "give PCR0 of the enclave image (nitro-cli describe-eif, 96 hex digits)",
    );
  }
  const partition = key[1];
  let role = `arn:${partition}:iam::${input.account}:root`;
  if (input.roleArn !== undefined) {
    const r = ROLE_ARN.exec(input.roleArn);
    if (!r) {
      throw bad(
        "--role-arn",
        `"${input.roleArn}" is not an IAM role ARN`,
        "give arn:aws:iam::ACCOUNT:role/NAME of the parent instance's role",
      );
    }
    role = input.roleArn;
  }
  const sha = input.imageSha384.toLowerCase();
  const keyPolicy = {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "Enable IAM policies of the key's account",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${input.account}:root` },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "Required by kmstool-enclave-cli: the parent instance calls Decrypt for the enclave",
        Effect: "Allow",
        Principal: { AWS: role },
        Action: "kms:Decrypt",
        Resource: "*",
      },
      {
        Sid: "Decrypt only from the enclave image with this measurement",
        Effect: "Deny",
        Principal: { AWS: role },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringNotEqualsIgnoreCase: { "kms:RecipientAttestation:ImageSha384": sha } },
      },
    ],
  };
  const parentRolePolicy = {
    Version: "2012-10-17",
    Statement: [{
      Sid: "RequiredByKmstoolEnclaveCliToAllowDecryptionFromTheEnclave",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: input.keyArn,
    }],
  };
  const encryptorPolicy = {
    Version: "2012-10-17",
    Statement: [{
      Sid: "AllowEncryptionUsingKey",
      Effect: "Allow",
      Action: ["kms:Encrypt", "kms:GenerateDataKey"],
      Resource: input.keyArn,
    }],
  };
  return { keyPolicy, parentRolePolicy, encryptorPolicy };
}

/** Inputs of {@linkcode aliyunPolicy}. */
export interface AliyunPolicyInput {
  readonly region: string;
  /** The Alibaba Cloud account id (digits). */
  readonly account: string;
  readonly keyId: string;
}

/** The RAM policy of the Alibaba sample; throws `USAGE` for malformed inputs. */
export function aliyunPolicy(input: AliyunPolicyInput): unknown {
  if (!/^[a-z]{2,}(-[a-z0-9]+)+$/.test(input.region ?? "")) {
    throw bad("--region", `"${input.region}" is not an Alibaba Cloud region id`, "give an id such as cn-beijing");
  }
  if (!/^\d{6,20}$/.test(input.account ?? "")) {
    throw bad(
      "--account",
      `"${input.account}" is not an Alibaba Cloud account id`,
      "give the numeric account (UID) that owns the key",
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/.test(input.keyId ?? "")) {
    throw bad("--key-id", `"${input.keyId}" is not a KMS key id`, "give the key's id (not an alias or an ARN)");
  }
  return {
    Version: "1",
    Statement: [
      {
        Effect: "Allow",
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
        Resource: [`acs:kms:${input.region}:${input.account}:key/${input.keyId}`],
      },
    ],
  };
}
