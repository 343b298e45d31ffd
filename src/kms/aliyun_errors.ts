/**
 * Alibaba Cloud KMS errors: the service's error answer
 * ({@linkcode AliyunServiceError}), which answers are worth a retry, and the
 * mapping of every failure to an {@linkcode EnvelopeError} with a stable code
 * (`KMS_THROTTLED`, `KMS_KEY_NOT_FOUND`, `KMS_ACCESS_DENIED`,
 * `CONTEXT_MISMATCH`, `KMS_TIMEOUT`, `CONNECTION_RESET`, `KMS_FAILED`) and a
 * hint for what to do next.
 *
 * @module
 */
import { EnvelopeError, type ErrorCode } from "../errors.ts";
import { isConnectionReset } from "./net_errors.ts";
import { AttemptTimeout } from "./retry.ts";

/**
 * An error answer from the service, kept as the `cause` of the {@linkcode EnvelopeError}.
 *
 * @example The service's code behind a failed call
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEnvelopeError } from "../../mod.ts";
 * import { AliyunKmsClient, AliyunServiceError } from "./aliyun.ts";
 * const notFound = { Code: "Forbidden.KeyNotFound", Message: "The key does not exist", RequestId: "r1" };
 * const client = new AliyunKmsClient({
 *   accessKeyId: "id",
 *   accessKeySecret: "secret",
 *   regionId: "cn-hangzhou",
 *   fetch: () => Promise.resolve(Response.json(notFound, { status: 404 })),
 * });
 * const err = await client.encrypt({ keyId: "missing", plaintext: btoa("data") }).catch((e) => e);
 * assert.ok(isEnvelopeError(err, "KMS_KEY_NOT_FOUND"));
 * assert.ok(err.cause instanceof AliyunServiceError);
 * assert.equal(err.cause.serviceCode, "Forbidden.KeyNotFound");
 * ```
 */
export class AliyunServiceError extends Error {
  /**
   * Records one error answer.
   *
   * @param action the API action, e.g. `Decrypt`
   * @param httpStatus the HTTP status of the answer
   * @param serviceCode the service's `Code`, e.g. `Forbidden.KeyNotFound`
   * @param serviceMessage the service's `Message`
   * @param requestId the service's `RequestId`, or `""` when the answer had none
   */
  constructor(
    /** The API action, e.g. `Decrypt`. */
    readonly action: string,
    /** The HTTP status of the answer. */
    readonly httpStatus: number,
    /** The service's `Code`, e.g. `Forbidden.KeyNotFound`. */
    readonly serviceCode: string,
    /** The service's `Message`. */
    readonly serviceMessage: string,
    /** The service's `RequestId`, or `""` when the answer had none. */
    readonly requestId: string,
  ) {
    super(
      `${action} answered HTTP ${httpStatus} ${serviceCode}: ${serviceMessage}${
        requestId ? ` (request id ${requestId})` : ""
      }`,
    );
    this.name = "AliyunServiceError";
  }
}

const THROTTLE_CODES = new Set(["Rejected.Throttling", "Throttling", "Throttling.User", "Throttling.Api"]);
const TRANSIENT_CODES = new Set([
  "ServiceUnavailableTemporary",
  "SerivceUnavailableTemporary",
  "InternalFailure",
  "InternalError",
]);

/** Whether an error answer means the calls were throttled. */
function isThrottle(e: AliyunServiceError): boolean {
  return THROTTLE_CODES.has(e.serviceCode) || e.serviceCode.startsWith("Throttling") || e.httpStatus === 429;
}
/** Whether an error answer is worth a retry (throttling or a server-side failure). */
export function isTransient(e: AliyunServiceError): boolean {
  return isThrottle(e) || TRANSIENT_CODES.has(e.serviceCode) || e.httpStatus >= 500;
}

/** A network failure (fetch rejected before any answer). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`the request did not reach the service (${cause instanceof Error ? cause.message : String(cause)})`, {
      cause,
    });
    this.name = "NetworkError";
  }
}

const ACCESS_CODES = [
  /^Forbidden\./,
  /^InvalidAccessKeyId/,
  /^InvalidSecurityToken/,
  /^SignatureDoesNotMatch$/,
  /^IncompleteSignature$/,
  /^InvalidTimeStamp/,
  /^IllegalTimestamp$/,
  /^SignatureNonceUsed$/,
  /^Unauthorized/,
  /^NoPermission/,
];

/** Codes a Decrypt or ReEncrypt returns when the blob does not open under the given context. */
const CONTEXT_CODES = [/^InvalidParameter$/, /Ciphertext/i, /DecryptFail/i, /EncryptionContext/i];

/** What a user can do next, by service code. */
function hintFor(code: string): string | undefined {
  if (code === "SignatureDoesNotMatch" || code === "IncompleteSignature") {
    return "check ALIBABA_CLOUD_ACCESS_KEY_SECRET: the service computed a different signature";
  }
  if (code.startsWith("InvalidAccessKeyId")) {
    return "check ALIBABA_CLOUD_ACCESS_KEY_ID: the service does not know that AccessKey";
  }
  if (code.startsWith("InvalidSecurityToken")) {
    return "refresh the STS credentials (ALIBABA_CLOUD_SECURITY_TOKEN) and retry";
  }
  if (code.startsWith("InvalidTimeStamp") || code === "IllegalTimestamp") {
    return "set this machine's clock right (the service allows 15 minutes of skew)";
  }
  if (code === "SignatureNonceUsed") return "retry: a request with the same nonce was already seen";
  if (code.startsWith("Forbidden.")) return "check that the RAM policy allows this KMS action on the key";
  return undefined;
}

/** Maps any failure of a call (`what` names it) to an {@linkcode EnvelopeError} with a stable code. */
export function mapError(err: unknown, what: string): EnvelopeError {
  if (err instanceof EnvelopeError) return err;
  if (err instanceof AttemptTimeout) {
    return new EnvelopeError(
      "KMS_TIMEOUT",
      `${what} failed: no answer within ${err.timeoutMs} ms after the last retry`,
      {
        hint: "check the network path to the KMS endpoint, or raise the timeout",
        cause: err,
      },
    );
  }
  if (err instanceof NetworkError && isConnectionReset(err.cause)) {
    return new EnvelopeError(
      "CONNECTION_RESET",
      `${what} failed: the connection was reset before the service answered, after every retry`,
      {
        hint:
          "retry; if it keeps happening, check proxies, firewalls and the endpoint (ALIBABA_CLOUD_KMS_ENDPOINT) between here and KMS",
        cause: err,
      },
    );
  }
  if (err instanceof NetworkError) {
    return new EnvelopeError("KMS_FAILED", `${what} failed: ${err.message}`, {
      hint: "check the endpoint, DNS and network access to Alibaba Cloud KMS",
      cause: err,
    });
  }
  if (err instanceof AliyunServiceError) {
    const tail = `${err.serviceCode}: ${err.serviceMessage}${err.requestId ? `, request id ${err.requestId}` : ""}`;
    let code: ErrorCode = "KMS_FAILED";
    let cause = `the service answered HTTP ${err.httpStatus}`;
    let hint = hintFor(err.serviceCode);
    if (isThrottle(err)) {
      code = "KMS_THROTTLED";
      cause = "the service kept throttling the calls after every retry";
      hint = "lower the request rate (a data-key cache helps) or ask for a higher quota";
    } else if (err.serviceCode === "Forbidden.KeyNotFound" || err.serviceCode === "Forbidden.AliasNotFound") {
      code = "KMS_KEY_NOT_FOUND";
      cause = "the key does not exist in this region or account";
      hint = "check the key id or alias and the region";
    } else if (ACCESS_CODES.some((re) => re.test(err.serviceCode))) {
      code = "KMS_ACCESS_DENIED";
      cause = "the service refused the credentials or the permission";
    } else if (
      (err.action === "Decrypt" || err.action === "ReEncrypt") && CONTEXT_CODES.some((re) => re.test(err.serviceCode))
    ) {
      code = "CONTEXT_MISMATCH";
      cause = "the encryption context differs from the one the key was wrapped with, or the wrapped key was altered";
      hint = "decrypt with the same encryption context that was used to encrypt";
    } else if (isTransient(err)) {
      cause = `the service kept failing (HTTP ${err.httpStatus}) after every retry`;
      hint ??= "retry later; the service or the network failed for now";
    } else if (err.serviceCode === "MalformedResponse") {
      cause = `the answer (HTTP ${err.httpStatus}) is not a KMS answer`;
      hint =
        "check that the endpoint is Alibaba Cloud KMS (ALIBABA_CLOUD_KMS_ENDPOINT) and that no proxy rewrites its answers";
    }
    hint ??= "check the key id, the region and the endpoint; the service's code above says what it refused";
    return new EnvelopeError(code, `${what} failed: ${cause} (${tail})`, { hint, cause: err });
  }
  return new EnvelopeError("KMS_FAILED", `${what} failed: ${err instanceof Error ? err.message : String(err)}`, {
    hint: "check the endpoint and the Alibaba Cloud configuration",
    cause: err,
  });
}
