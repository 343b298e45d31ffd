/**
 * The AWS KMS provider's public shapes: the SDK client type it takes, its
 * provider name, the discovery key id, its options, and the results of its
 * raw calls. Importing the SDK here is type-only, so this module loads
 * nothing.
 *
 * @module
 */
import type { KMSClient } from "@aws-sdk/client-kms";
import type { RetryOptions } from "./retry.ts";

/**
 * The AWS SDK's KMS client (`@aws-sdk/client-kms`), as {@linkcode AwsKmsConnection.client} takes it.
 *
 * @example Passing a client configured elsewhere (for instance against a local emulator)
 * ```ts
 * import { KMSClient } from "@aws-sdk/client-kms";
 * import { AwsKms, type AwsKmsClient } from "./aws.ts";
 * const client: AwsKmsClient = new KMSClient({ region: "eu-west-1", endpoint: "http://127.0.0.1:4566" });
 * const kms = new AwsKms({ keyId: "alias/app", client });
 * kms.close(); // leaves a client passed in open
 * client.destroy();
 * ```
 */
export type AwsKmsClient = KMSClient;

/**
 * The provider name written into headers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AWS_KMS_PROVIDER, AwsKms } from "./aws.ts";
 * assert.equal(new AwsKms({ keyId: "alias/app", region: "eu-west-1" }).provider, AWS_KMS_PROVIDER);
 * ```
 */
export const AWS_KMS_PROVIDER = "aws-kms";

/**
 * The `keyId` a discovery provider reports: it has no key of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AWS_KMS_ANY_KEY, AwsKms } from "./aws.ts";
 * assert.equal(AwsKms.discovery({ region: "eu-west-1" }).keyId, AWS_KMS_ANY_KEY);
 * ```
 */
export const AWS_KMS_ANY_KEY = "*";
/** How to reach AWS KMS; shared by {@linkcode AwsKmsOptions} and {@linkcode AwsKms.discovery}. */
export interface AwsKmsConnection {
  /** A configured client; when given, `region` and `endpoint` are ignored and `close()` leaves it open. */
  readonly client?: AwsKmsClient;
  /** The region, overriding the environment and the key ARN. */
  readonly region?: string;
  /** The endpoint URL, overriding `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** Attempts, backoff and per-attempt timeout (see {@linkcode RetryOptions}). */
  readonly retry?: RetryOptions;
  /** Grant tokens sent with every call. */
  readonly grantTokens?: readonly string[];
}

/**
 * Which keys a discovery provider may call (docs/FORMAT.md §8 step 6): a
 * file's key list is attacker-controlled, and each entry names the key, region
 * and account a discovery Decrypt goes to. Entries outside the filter are
 * "not mine", with no call. An empty filter allows any key.
 */
export interface AwsDiscoveryFilter {
  /** AWS account ids whose keys may be called. */
  readonly accounts?: readonly string[];
  /** The partition (`aws`, `aws-cn`, `aws-us-gov`, ...); required with `accounts` in the SDK's discovery keyring. */
  readonly partition?: string;
  /** Regions whose keys may be called. */
  readonly regions?: readonly string[];
}

/** Options of {@linkcode AwsKms.discovery}. */
export interface AwsDiscoveryOptions extends AwsKmsConnection {
  /** Limits the keys this provider calls. */
  readonly filter?: AwsDiscoveryFilter;
}

/** Options of {@linkcode AwsKms}. */
export interface AwsKmsOptions extends AwsKmsConnection {
  /** The KMS key: key id, key ARN, `alias/NAME` or alias ARN. */
  readonly keyId: string;
}

/**
 * A data key from {@linkcode AwsKms.generateDataKeyRaw}: KMS's answer as is.
 * (Named apart from the main entry's `RawDataKey` class, a key provider.)
 */
export interface AwsGeneratedDataKey {
  /** The plaintext data key. The caller wipes it after use. */
  readonly plaintext: Uint8Array;
  /** KMS's CiphertextBlob for it. */
  readonly ciphertextBlob: Uint8Array;
  /** The ARN of the key KMS used. */
  readonly keyId: string;
}

/** A blob opened by {@linkcode AwsKms.decryptRaw}. */
export interface RawPlaintext {
  /** The plaintext. The caller wipes it after use. */
  readonly plaintext: Uint8Array;
  /** The ARN of the key KMS used. */
  readonly keyId: string;
}

/**
 * The former name of {@linkcode AwsGeneratedDataKey}, which clashed with the
 * main entry's `RawDataKey` class.
 *
 * @deprecated Use {@linkcode AwsGeneratedDataKey}.
 */
export type RawDataKey = AwsGeneratedDataKey;
