/**
 * A small Alibaba Cloud KMS client (API version 2016-01-20, RPC style) over
 * `fetch`: signature v1 (HMAC-SHA1), POST with the signed parameters as an
 * `application/x-www-form-urlencoded` body, JSON responses, bounded retries
 * with jitter on throttling and server errors, and a timeout on every call.
 *
 * Configuration comes from the constructor or, for what is not given, from
 * the conventional environment variables `ALIBABA_CLOUD_REGION_ID` and
 * `ALIBABA_CLOUD_KMS_ENDPOINT`. Credentials come from `credentials`, else
 * from an {@linkcode AliyunCredentialChain} (explicit options, the
 * environment, OIDC, the profile files, a named ECS RAM role), asked before
 * each call. Reading the environment is guarded, and files are read through
 * a lazily imported `node:fs`, so the module loads in a browser too.
 *
 * Encryption contexts are passed as strings, byte for byte: the caller
 * decides the JSON text (the Alibaba sample format needs exactly that).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { type RetryOptions, withRetry } from "./retry.ts";
import { AliyunServiceError, isTransient, mapError, NetworkError } from "./aliyun_errors.ts";
import { AliyunCredentialChain, type AliyunCredentialsProvider } from "./aliyun_credentials.ts";
import { getEnv } from "../host/env.ts";
import { asString, sendRpc } from "./aliyun_rpc.ts";

export { AliyunServiceError } from "./aliyun_errors.ts";
export { getEnv } from "../host/env.ts";

/** The KMS API version this client speaks. */
export const ALIYUN_KMS_API_VERSION = "2016-01-20";

/** The provider's name in messages. */
const SERVICE = "Alibaba Cloud KMS";

/** How to reach and authenticate to Alibaba Cloud KMS. */
export interface AliyunClientOptions {
  /** AccessKey ID; with `accessKeySecret`, no other source is asked (default: the credential chain). */
  readonly accessKeyId?: string;
  /** AccessKey secret, with `accessKeyId`. */
  readonly accessKeySecret?: string;
  /** STS security token, with the two above. */
  readonly securityToken?: string;
  /**
   * Where credentials come from for each call (default: an
   * {@linkcode AliyunCredentialChain} over the three options above, the
   * environment, the profile files and a named ECS RAM role).
   */
  readonly credentials?: AliyunCredentialsProvider;
  /** Region, e.g. `cn-hangzhou` (default `ALIBABA_CLOUD_REGION_ID`, else taken from an `acs:kms:REGION:...` key ARN). */
  readonly regionId?: string;
  /** Full endpoint URL (default `ALIBABA_CLOUD_KMS_ENDPOINT`, else `https://kms.<RegionId>.aliyuncs.com/`). */
  readonly endpoint?: string;
  /** The `fetch` to use (default `globalThis.fetch`). */
  readonly fetch?: typeof fetch;
  /** Retry and timeout policy (see {@linkcode RetryOptions}). */
  readonly retry?: RetryOptions;
}

/** GenerateDataKey input. */
export interface GenerateDataKeyInput {
  /** The key to generate under: id, alias or ARN. */
  readonly keyId: string;
  /** The data key's length by name (the service's default is AES_256). */
  readonly keySpec?: "AES_256" | "AES_128";
  /** The data key's length in bytes, instead of `keySpec`. */
  readonly numberOfBytes?: number;
  /** JSON text of a string map, sent as given. */
  readonly encryptionContext?: string;
}
/** GenerateDataKey output. */
export interface GenerateDataKeyOutput {
  /** The id of the key the service used. */
  readonly keyId: string;
  /** The id of the key version the service used. */
  readonly keyVersionId: string;
  /** The data key. */
  readonly plaintext: Uint8Array;
  /** The wrapped data key, base64 text exactly as the service returned it. */
  readonly ciphertextBlob: string;
  /** The service's request id, for support cases. */
  readonly requestId: string;
}
/** Decrypt input. */
export interface DecryptInput {
  /** The wrapped data as the service returned it (base64 text). */
  readonly ciphertextBlob: string;
  /** JSON text of the context it was wrapped with, sent as given. */
  readonly encryptionContext?: string;
  /** Only for messages: the key the caller believes wrapped the blob. */
  readonly keyIdHint?: string;
}
/** Decrypt output. */
export interface DecryptOutput {
  /** The id of the key that opened the blob. */
  readonly keyId: string;
  /** The id of the key version that opened the blob. */
  readonly keyVersionId: string;
  /** The plaintext. The caller wipes it after use. */
  readonly plaintext: Uint8Array;
  /** The service's request id, for support cases. */
  readonly requestId: string;
}
/** Encrypt input. */
export interface EncryptInput {
  /** The key to encrypt under: id, alias or ARN. */
  readonly keyId: string;
  /** The plaintext as base64 text (what the API takes). */
  readonly plaintext: string;
  /** JSON text of a string map, sent as given. */
  readonly encryptionContext?: string;
}
/** Encrypt and ReEncrypt output. */
export interface EncryptOutput {
  /** The id of the key the service used. */
  readonly keyId: string;
  /** The id of the key version the service used. */
  readonly keyVersionId: string;
  /** The wrapped data, base64 text exactly as the service returned it. */
  readonly ciphertextBlob: string;
  /** The service's request id, for support cases. */
  readonly requestId: string;
}
/** ReEncrypt input (parameter names per the 2016-01-20 ReEncrypt reference). */
export interface ReEncryptInput {
  /** The wrapped data as the service returned it (base64 text). */
  readonly ciphertextBlob: string;
  /** The key to wrap under instead: id, alias or ARN. */
  readonly destinationKeyId: string;
  /** JSON text of the context the blob was wrapped with, sent as given. */
  readonly sourceEncryptionContext?: string;
  /** JSON text of the context to wrap with, sent as given. */
  readonly destinationEncryptionContext?: string;
  /** Only for messages: the key the caller believes wrapped the blob. */
  readonly keyIdHint?: string;
}

/**
 * The region in an `acs:kms:REGION:UID:key/ID` (or `:alias/NAME`) ARN, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionFromArn } from "./aliyun.ts";
 * assert.equal(regionFromArn("acs:kms:cn-hangzhou:123456:key/1234abcd"), "cn-hangzhou");
 * assert.equal(regionFromArn("alias/backup"), undefined);
 * ```
 */
export function regionFromArn(keyId: string): string | undefined {
  const m = /^acs:kms:([a-z0-9-]+):[^:]*:(?:key|alias)\//.exec(keyId);
  return m ? m[1] : undefined;
}

function decodeB64(text: string): Uint8Array | null {
  try {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * The Alibaba Cloud KMS RPC client.
 *
 * @example A signed GenerateDataKey call (here answered by a stand-in `fetch`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { AliyunKmsClient } from "./aliyun.ts";
 * const client = new AliyunKmsClient({
 *   accessKeyId: "id",
 *   accessKeySecret: "secret",
 *   regionId: "cn-hangzhou",
 *   fetch: (url, init) => {
 *     const form = new URLSearchParams(String(init?.body));
 *     assert.equal(String(url), "https://kms.cn-hangzhou.aliyuncs.com/");
 *     assert.equal(form.get("Action"), "GenerateDataKey");
 *     assert.equal(form.get("SignatureMethod"), "HMAC-SHA1");
 *     const key = btoa(String.fromCharCode(...new Uint8Array(32)));
 *     return Promise.resolve(Response.json({ KeyId: "k", KeyVersionId: "v", Plaintext: key, CiphertextBlob: btoa("blob"), RequestId: "r" }));
 *   },
 * });
 * const out = await client.generateDataKey({ keyId: "k", keySpec: "AES_256" });
 * assert.equal(out.plaintext.length, 32);
 * assert.equal(out.ciphertextBlob, btoa("blob"));
 * ```
 */
export class AliyunKmsClient {
  readonly #credentials: AliyunCredentialsProvider;
  readonly #regionId?: string;
  readonly #endpoint?: string;
  readonly #fetch?: typeof fetch;
  readonly #retry: RetryOptions;

  /** Explicit options win; the region and endpoint are read from the environment now, credentials at each call. */
  constructor(options: AliyunClientOptions = {}) {
    this.#credentials = options.credentials ?? new AliyunCredentialChain({
      accessKeyId: options.accessKeyId,
      accessKeySecret: options.accessKeySecret,
      securityToken: options.securityToken,
      fetch: options.fetch,
      retry: options.retry,
    });
    this.#regionId = options.regionId ?? getEnv("ALIBABA_CLOUD_REGION_ID");
    this.#endpoint = options.endpoint ?? getEnv("ALIBABA_CLOUD_KMS_ENDPOINT");
    this.#fetch = options.fetch;
    this.#retry = options.retry ?? {};
  }

  /** The endpoint URL calls for `keyId` go to (throws when neither endpoint nor region is known). */
  endpointFor(keyId?: string): string {
    if (this.#endpoint) return this.#endpoint;
    const region = this.#regionId ?? (keyId ? regionFromArn(keyId) : undefined);
    if (!region) {
      throw new EnvelopeError("INVALID_ARGUMENT", `Calling ${SERVICE} failed: no region is set`, {
        hint:
          "set ALIBABA_CLOUD_REGION_ID (or pass regionId), use a key ARN acs:kms:REGION:..., or set ALIBABA_CLOUD_KMS_ENDPOINT",
      });
    }
    if (!/^[a-z0-9-]+$/.test(region)) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `Calling ${SERVICE} failed: the region ${JSON.stringify(region)} is not a region id`,
        {
          hint: "use an id such as cn-hangzhou",
        },
      );
    }
    return `https://kms.${region}.aliyuncs.com/`;
  }

  /** GenerateDataKey: a fresh data key and its wrapped form. */
  async generateDataKey(input: GenerateDataKeyInput): Promise<GenerateDataKeyOutput> {
    const params: Record<string, string> = { KeyId: input.keyId };
    if (input.keySpec !== undefined) params.KeySpec = input.keySpec;
    if (input.numberOfBytes !== undefined) params.NumberOfBytes = String(input.numberOfBytes);
    if (input.encryptionContext !== undefined) params.EncryptionContext = input.encryptionContext;
    const r = await this.call("GenerateDataKey", params, input.keyId);
    return {
      keyId: asString(r.KeyId),
      keyVersionId: asString(r.KeyVersionId),
      plaintext: this.#plaintext(r, "GenerateDataKey", input.keyId),
      ciphertextBlob: this.#blob(r, "GenerateDataKey", input.keyId),
      requestId: asString(r.RequestId),
    };
  }

  /** Decrypt: the service finds the key from the blob. */
  async decrypt(input: DecryptInput): Promise<DecryptOutput> {
    const params: Record<string, string> = { CiphertextBlob: input.ciphertextBlob };
    if (input.encryptionContext !== undefined) params.EncryptionContext = input.encryptionContext;
    const r = await this.call("Decrypt", params, input.keyIdHint);
    return {
      keyId: asString(r.KeyId),
      keyVersionId: asString(r.KeyVersionId),
      plaintext: this.#plaintext(r, "Decrypt", input.keyIdHint),
      requestId: asString(r.RequestId),
    };
  }

  /** Encrypt: wraps up to 6 KiB of base64 plaintext under `keyId`. */
  async encrypt(input: EncryptInput): Promise<EncryptOutput> {
    const params: Record<string, string> = { KeyId: input.keyId, Plaintext: input.plaintext };
    if (input.encryptionContext !== undefined) params.EncryptionContext = input.encryptionContext;
    const r = await this.call("Encrypt", params, input.keyId);
    return this.#encrypted(r, "Encrypt", input.keyId);
  }

  /** ReEncrypt: re-wraps a blob under `destinationKeyId` without the plaintext leaving KMS. */
  async reEncrypt(input: ReEncryptInput): Promise<EncryptOutput> {
    const params: Record<string, string> = {
      CiphertextBlob: input.ciphertextBlob,
      DestinationKeyId: input.destinationKeyId,
    };
    if (input.sourceEncryptionContext !== undefined) params.SourceEncryptionContext = input.sourceEncryptionContext;
    if (input.destinationEncryptionContext !== undefined) {
      params.DestinationEncryptionContext = input.destinationEncryptionContext;
    }
    const r = await this.call("ReEncrypt", params, input.keyIdHint ?? input.destinationKeyId, input.destinationKeyId);
    return this.#encrypted(r, "ReEncrypt", input.destinationKeyId);
  }

  #plaintext(r: Record<string, unknown>, action: string, keyId?: string): Uint8Array {
    const p = decodeB64(asString(r.Plaintext));
    if (!p || p.length === 0) throw this.#malformed(action, keyId, "Plaintext is missing or not base64", r);
    return p;
  }
  #blob(r: Record<string, unknown>, action: string, keyId?: string): string {
    const b = asString(r.CiphertextBlob);
    if (!b || !decodeB64(b)) throw this.#malformed(action, keyId, "CiphertextBlob is missing or not base64", r);
    return b;
  }
  #encrypted(r: Record<string, unknown>, action: string, keyId: string): EncryptOutput {
    return {
      keyId: asString(r.KeyId),
      keyVersionId: asString(r.KeyVersionId),
      ciphertextBlob: this.#blob(r, action, keyId),
      requestId: asString(r.RequestId),
    };
  }
  #malformed(action: string, keyId: string | undefined, why: string, r: Record<string, unknown>): EnvelopeError {
    const id = asString(r.RequestId);
    return new EnvelopeError(
      "KMS_FAILED",
      `${SERVICE} ${action}${keyId ? ` with key ${keyId}` : ""} failed: the answer is malformed (${why})${
        id ? `, request id ${id}` : ""
      }`,
      { hint: "check that the endpoint is Alibaba Cloud KMS" },
    );
  }

  /**
   * Sends one signed action and returns the parsed JSON answer; retries
   * throttling, server errors, network failures and timeouts, and turns every
   * failure into an {@linkcode EnvelopeError}. `keyId` names the key in
   * messages; `regionKeyId` (default `keyId`) may supply the region.
   */
  async call(
    action: string,
    params: Readonly<Record<string, string>>,
    keyId?: string,
    regionKeyId: string | undefined = keyId,
  ): Promise<Record<string, unknown>> {
    const what = `${SERVICE} ${action}${keyId ? ` with key ${keyId}` : ""}`;
    const endpoint = this.endpointFor(regionKeyId);
    const doFetch = this.#fetch ?? globalThis.fetch;
    try {
      const credentials = await this.#credentials.getCredentials();
      return await withRetry(
        (signal) =>
          sendRpc(doFetch, { endpoint, action, version: ALIYUN_KMS_API_VERSION, params, credentials }, signal),
        (err) => err instanceof NetworkError || (err instanceof AliyunServiceError && isTransient(err)),
        this.#retry,
      );
    } catch (err) {
      throw mapError(err, what);
    }
  }
}
