/**
 * How AWS KMS failures are classified (retry or not) and turned into
 * {@linkcode EnvelopeError}s with stable codes.
 *
 * The SDK's errors carry the KMS error type in `name` (for example
 * `AccessDeniedException`), the HTTP status in `$metadata.httpStatusCode` and
 * `$fault` (`client` or `server`); network errors carry a Node `code` such as
 * `ECONNRESET` (a reset or dropped connection is reported as `CONNECTION_RESET`,
 * and retried like other network failures). Messages built here name the provider, the key id and the
 * cause; the next step goes in `hint`. Neither ever contains key material or
 * a ciphertext blob: only KMS's own error text (cut short) is quoted, and KMS
 * does not echo request payloads.
 *
 * @module
 */
import { EnvelopeError, type ErrorCode } from "../errors.ts";
import type { EncryptionContext } from "../keys/provider.ts";
import { isConnectionReset } from "./net_errors.ts";
import { AttemptTimeout } from "./retry.ts";

/** The KMS operations this provider calls. */
export type AwsKmsOperation = "GenerateDataKey" | "Encrypt" | "Decrypt" | "ReEncrypt" | "DescribeKey";

/** The fields of an SDK or network error this module reads. */
interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Error types KMS (and the SDK's shared throttling list) uses for rate limiting. */
const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
  "LimitExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
]);

/** Error types that say the service failed for now; worth another attempt. */
const TRANSIENT = new Set([
  "KMSInternalException",
  "DependencyTimeoutException",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);

/** Node network error codes that a new connection may cure. */
const NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

const ACCESS_DENIED = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "MissingAuthenticationToken",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "CredentialsProviderError",
]);

const KEY_NOT_FOUND = new Set(["NotFoundException", "InvalidArnException", "InvalidAliasNameException"]);

function fields(err: unknown): { name: string; message: string; code: string; status: number; server: boolean } {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkErrorLike;
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : 0;
  return {
    name: typeof e.name === "string" ? e.name : "",
    message: typeof e.message === "string" ? e.message : String(err),
    code: typeof e.code === "string" ? e.code : "",
    status,
    server: e.$fault === "server",
  };
}

/** The KMS error type of `err` (`AccessDeniedException`, ...), or `""`. */
export function awsErrorName(err: unknown): string {
  return fields(err).name;
}

/** True when `err` is throttling: retried, and reported as `KMS_THROTTLED` when retries run out. */
export function isThrottling(err: unknown): boolean {
  const f = fields(err);
  return THROTTLING.has(f.name) || f.status === 429;
}

/** True when another attempt may succeed: throttling, a 5xx, or a network failure. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof EnvelopeError) return false;
  const f = fields(err);
  if (isThrottling(err) || TRANSIENT.has(f.name) || f.status >= 500 || f.server) return true;
  return NETWORK.has(f.code) || NETWORK.has(f.name);
}

/** KMS's own words for the failure, cut to one short line; `UnknownError` (an empty body) is dropped. */
function cause(err: unknown): string {
  const f = fields(err);
  let text = f.message.replace(/\s+/g, " ").trim();
  if (text === "UnknownError" || text === f.name) text = "";
  if (text.length > 240) text = text.slice(0, 237) + "...";
  text = text.replace(/\.+$/, "");
  // An error answer with no body: the SDK names it `Unknown`; the status says more.
  const unknown = f.name === "Unknown" || f.name === "UnknownError";
  const name = unknown ? (f.status ? `HTTP ${f.status}` : "") : f.name && f.name !== "Error" ? f.name : f.code;
  if (name && text) return `${name}: ${text}`;
  return name || text || "no detail given";
}

function action(op: AwsKmsOperation, keyId: string): string {
  const key = keyId === "" ? "the key named in the wrapped blob" : `key ${keyId}`;
  switch (op) {
    case "GenerateDataKey":
      return `Generating a data key with AWS KMS ${key} failed`;
    case "Encrypt":
      return `Wrapping the data key with AWS KMS ${key} failed`;
    case "Decrypt":
      return `Unwrapping the data key with AWS KMS ${key} failed`;
    case "ReEncrypt":
      return `Re-wrapping the data key to AWS KMS ${key} failed`;
    case "DescribeKey":
      return `Looking up AWS KMS ${key} failed`;
  }
}

function permission(op: AwsKmsOperation): string {
  return op === "ReEncrypt" ? "kms:ReEncryptFrom and kms:ReEncryptTo" : `kms:${op}`;
}

/** What the call was: its operation, the key id to name, and the context it sent. */
export interface FailedCall {
  readonly op: AwsKmsOperation;
  /** The key id to name in the message; `""` when the KMS picks the key from the blob. */
  readonly keyId: string;
  /** The encryption context the call sent (empty when none). */
  readonly context?: EncryptionContext;
  /** Attempts made, for the throttling and timeout messages. */
  readonly attempts?: number;
}

/** Turns any failure of a KMS call into an `EnvelopeError` with a stable code; passes `EnvelopeError`s through. */
export function toEnvelopeError(err: unknown, call: FailedCall): EnvelopeError {
  if (err instanceof EnvelopeError) return err;
  const head = action(call.op, call.keyId);
  const tries = call.attempts === undefined ? "" : ` after ${call.attempts} attempt${call.attempts === 1 ? "" : "s"}`;
  const make = (code: ErrorCode, why: string, hint: string) =>
    new EnvelopeError(code, `${head}: ${why}`, { hint, cause: err });

  if (err instanceof AttemptTimeout) {
    return make(
      "KMS_TIMEOUT",
      `no answer within ${err.timeoutMs} ms${tries}`,
      "check that the KMS endpoint is reachable (network, proxy, AWS_ENDPOINT_URL_KMS) or allow a longer timeout",
    );
  }
  if (isConnectionReset(err)) {
    return make(
      "CONNECTION_RESET",
      `the connection was reset before KMS answered${tries} (${cause(err)})`,
      "retry; if it keeps happening, check proxies, firewalls and the endpoint (AWS_ENDPOINT_URL_KMS) between here and KMS",
    );
  }
  const f = fields(err);
  if (f.name === "SyntaxError" || f.message.includes("Deserialization error")) {
    // The SDK could not parse the answer: quote none of it (it is not KMS's words).
    return make(
      "KMS_FAILED",
      `the answer${f.status ? ` (HTTP ${f.status})` : ""} is not a KMS answer: it is not valid JSON${tries}`,
      "check that the endpoint is AWS KMS or a faithful emulator, and that no proxy rewrites its answers",
    );
  }
  if (f.message === "Region is missing") {
    return make(
      "KMS_FAILED",
      "no AWS region is configured",
      "set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile), or give the key as a full ARN",
    );
  }
  if (ACCESS_DENIED.has(f.name)) {
    const creds = f.name === "CredentialsProviderError"
      ? "set AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
      : `check the AWS credentials and that the key policy or IAM policy allows ${permission(call.op)} on this key`;
    return make("KMS_ACCESS_DENIED", `access denied (${cause(err)})`, creds);
  }
  if (KEY_NOT_FOUND.has(f.name)) {
    return make(
      "KMS_KEY_NOT_FOUND",
      `the key was not found (${cause(err)})`,
      "check the key id or alias, the AWS account and the region (AWS_REGION); the key may have been deleted",
    );
  }
  if (f.name === "InvalidCiphertextException") {
    const sent = call.context !== undefined && Object.keys(call.context).length > 0;
    const why = sent
      ? "the encryption context does not match the one used at encryption, or the wrapped key is corrupt"
      : "the data key may have been wrapped with an encryption context and none was given, or the wrapped key is corrupt";
    return make(
      "CONTEXT_MISMATCH",
      `${why} (InvalidCiphertextException)`,
      "pass exactly the encryption context used at encryption (every key and value)",
    );
  }
  if (isThrottling(err)) {
    return make(
      "KMS_THROTTLED",
      `the request rate is over the KMS quota${tries} (${cause(err)})`,
      "retry later, spread the calls out, or ask AWS for a higher KMS request quota",
    );
  }
  if (f.name === "DisabledException" || f.name === "KMSInvalidStateException") {
    return make(
      "KMS_FAILED",
      `the key cannot be used in its current state (${cause(err)})`,
      "enable the key, or cancel its scheduled deletion",
    );
  }
  if (f.name === "IncorrectKeyException") {
    return make(
      "KMS_FAILED",
      `the wrapped key was made under another KMS key (${cause(err)})`,
      "decrypt with the key named in the message header",
    );
  }
  const transient = isRetryable(err);
  return make(
    "KMS_FAILED",
    `${cause(err)}${transient ? tries : ""}`,
    transient
      ? "retry later; the KMS or the network failed for now"
      : "check the key id, the region and the AWS configuration",
  );
}

/** The non-empty bytes of answer field `field`, or `KMS_FAILED` when KMS left it out. */
export function expectBytes(
  value: Uint8Array | undefined,
  op: AwsKmsOperation,
  field: string,
  keyId: string,
): Uint8Array {
  if (value instanceof Uint8Array && value.length > 0) return value;
  throw new EnvelopeError(
    "KMS_FAILED",
    `AWS KMS ${op} with key ${keyId || "named in the blob"} failed: the answer has no ${field}`,
    {
      hint: "check that the endpoint is AWS KMS or a faithful emulator",
    },
  );
}
