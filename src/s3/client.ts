/**
 * The S3 clients envelope builds when none is injected, and how the store's
 * failures become {@linkcode EnvelopeError}s.
 *
 * - `s3://`: the standard AWS environment, read by the SDK itself: region
 *   (`AWS_REGION`, else `AWS_DEFAULT_REGION` here, else the profile),
 *   credentials (the default chain), endpoint (`AWS_ENDPOINT_URL_S3` /
 *   `AWS_ENDPOINT_URL`, which serves MinIO, Ceph, R2, moto...), and
 *   `AWS_S3_FORCE_PATH_STYLE=true` for stores that need path-style URLs.
 * - `oss://`: Alibaba Cloud OSS through its S3-compatible API, signed with
 *   SigV4: the endpoint from `ALIBABA_CLOUD_OSS_ENDPOINT`, else
 *   `https://s3.oss-REGION.aliyuncs.com` for the region in
 *   `ALIBABA_CLOUD_OSS_REGION`, else `ALIBABA_CLOUD_REGION_ID`; credentials
 *   from `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and
 *   `ALIBABA_CLOUD_SECURITY_TOKEN` (STS). Virtual-hosted URLs, as OSS requires.
 *
 * Built clients compute request checksums only where the API requires them
 * (`requestChecksumCalculation: "WHEN_REQUIRED"`): envelope authenticates
 * every chunk itself, and the SDK's default CRC32 trailers use aws-chunked
 * uploads that OSS and several other S3-compatible stores refuse.
 *
 * @module
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { EnvelopeError } from "../errors.ts";
import { getEnv } from "../host/env.ts";
import { isConnectionReset } from "../kms/net_errors.ts";
import type { ObjectScheme } from "./url.ts";

/**
 * The AWS SDK's S3 client (`@aws-sdk/client-s3`), as {@linkcode ObjectStoreConnection.client} takes it.
 *
 * @example A client for a local S3-compatible endpoint
 * ```ts ignore
 * import { S3Client } from "@aws-sdk/client-s3";
 * const client: ObjectStoreClient = new S3Client({ region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: true });
 * const source = await s3Source("s3://bucket/key.envl", { client });
 * ```
 */
export type ObjectStoreClient = S3Client;

/** The SDK's S3 client configuration, as {@linkcode buildClient} takes overrides of it. */
export type ObjectStoreClientConfig = S3ClientConfig;

/** How a source, sink or helper reaches the store. */
export interface ObjectStoreConnection {
  /** A configured client; when given it is used as is and never destroyed here. */
  readonly client?: ObjectStoreClient;
}

/** The OSS S3-compatible endpoint and signing region from the environment. */
export function ossEndpoint(): { endpoint: string; region: string } {
  const region = getEnv("ALIBABA_CLOUD_OSS_REGION") ?? getEnv("ALIBABA_CLOUD_REGION_ID");
  let endpoint = getEnv("ALIBABA_CLOUD_OSS_ENDPOINT");
  if (endpoint === undefined) {
    if (region === undefined) {
      throw new EnvelopeError("USAGE", "Reaching OSS failed: no OSS endpoint or region is configured", {
        hint: "set ALIBABA_CLOUD_OSS_REGION (e.g. cn-hangzhou) or ALIBABA_CLOUD_OSS_ENDPOINT",
      });
    }
    endpoint = `https://s3.oss-${region}.aliyuncs.com`;
  } else if (!/^https?:\/\//.test(endpoint)) {
    endpoint = `https://${endpoint}`;
  }
  // OSS checks SigV4's region against the endpoint's (oss-cn-hangzhou -> cn-hangzhou).
  const fromHost = /oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com/.exec(endpoint)?.[1];
  return { endpoint, region: region ?? fromHost ?? "cn-hangzhou" };
}

/** Builds a client for `scheme` from the environment (see the module documentation). */
export function buildClient(
  scheme: ObjectScheme,
  config: Partial<ObjectStoreClientConfig> = {},
): ObjectStoreClient {
  const base: S3ClientConfig = {
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  if (scheme === "oss") {
    const { endpoint, region } = ossEndpoint();
    const accessKeyId = getEnv("ALIBABA_CLOUD_ACCESS_KEY_ID");
    const secretAccessKey = getEnv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    if (accessKeyId === undefined || secretAccessKey === undefined) {
      throw new EnvelopeError("USAGE", "Reaching OSS failed: no Alibaba Cloud credentials are configured", {
        hint:
          "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS)",
      });
    }
    const sessionToken = getEnv("ALIBABA_CLOUD_SECURITY_TOKEN");
    return new S3Client({
      ...base,
      endpoint,
      region,
      forcePathStyle: false,
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      ...config,
    });
  }
  const region = getEnv("AWS_REGION") ?? getEnv("AWS_DEFAULT_REGION");
  const pathStyle = getEnv("AWS_S3_FORCE_PATH_STYLE") === "true";
  return new S3Client({
    ...base,
    ...(region ? { region } : {}),
    ...(pathStyle ? { forcePathStyle: true } : {}),
    ...config,
  });
}

/** The client to use and whether it was built here (and so is destroyed here). */
export function clientFor(scheme: ObjectScheme, connection: ObjectStoreConnection = {}): {
  client: S3Client;
  owned: boolean;
} {
  return connection.client ? { client: connection.client, owned: false } : { client: buildClient(scheme), owned: true };
}

/** The fields of an SDK error read here. */
interface SdkError {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The S3 error name of `e` (`NoSuchKey`, `AccessDenied`...), or `""`. */
export function errorName(e: unknown): string {
  const x = e as SdkError | null;
  const name = typeof x?.Code === "string" ? x.Code : typeof x?.name === "string" ? x.name : "";
  return name;
}

/** The HTTP status of an SDK error, or 0. */
export function errorStatus(e: unknown): number {
  const s = (e as SdkError | null)?.$metadata?.httpStatusCode;
  return typeof s === "number" ? s : 0;
}

/**
 * The typed error for `action` ("Reading", "Writing", "Listing") on `url`
 * failing with `e`; an {@linkcode EnvelopeError} passes through. The store's
 * own message is quoted, cut short; it never holds key material.
 */
export function storeError(action: string, url: string, e: unknown): EnvelopeError {
  if (e instanceof EnvelopeError) return e;
  if (isConnectionReset(e)) {
    return new EnvelopeError("CONNECTION_RESET", `${action} ${url} failed: the connection was reset`, {
      hint: "check the network and the endpoint, then run again",
      cause: e,
    });
  }
  const name = errorName(e);
  const status = errorStatus(e);
  const text = String((e as SdkError | null)?.message ?? e).slice(0, 200);
  let why = `${name || "error"}${status ? ` (HTTP ${status})` : ""}: ${text}`;
  let hint = "check the bucket, the key and the endpoint (AWS_ENDPOINT_URL_S3, ALIBABA_CLOUD_OSS_ENDPOINT)";
  if (name === "NoSuchKey" || (status === 404 && name === "NotFound")) {
    why = "the object does not exist";
    hint = "check the key; list the bucket to see what is there";
  } else if (name === "NoSuchBucket") {
    why = "the bucket does not exist";
    hint = "check the bucket name and the region or endpoint";
  } else if (name === "AccessDenied" || status === 403) {
    why = `access denied (${text})`;
    hint = "check the credentials and that the policy allows this operation on the bucket and key";
  } else if (name === "PreconditionFailed" || status === 412) {
    why = "the object changed while it was being read";
    hint = "run again once nothing else is writing the object";
  } else if (name === "CredentialsProviderError") {
    why = "no credentials were found";
    hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where a role is available";
  } else if (/region is missing/i.test(text)) {
    why = "no region is configured";
    hint = "set AWS_REGION";
  }
  return new EnvelopeError("IO_FAILED", `${action} ${url} failed: ${why}`, { hint, cause: e });
}
