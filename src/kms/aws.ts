/**
 * AWS KMS as a {@linkcode KeyProvider}: data keys come from GenerateDataKey,
 * are wrapped by Encrypt, unwrapped by Decrypt and re-wrapped by ReEncrypt,
 * each bound to the encryption context.
 *
 * This module imports `@aws-sdk/client-kms` statically; nothing else in the
 * library imports this module statically, so the SDK loads only for callers
 * of the `./aws` subpath.
 *
 * Without a `client`, one is built from the standard AWS environment: the
 * region from the `region` option, else the region of an ARN key id, else
 * `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile; credentials from the
 * SDK's default chain; the endpoint from the `endpoint` option or
 * `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` (the SDK reads these itself).
 * Built clients make one attempt per call (`maxAttempts: 1`): retries,
 * backoff and the per-attempt timeout are this module's, through
 * {@linkcode withRetry}.
 *
 * @example Encrypting a data key under an alias and opening it again
 * ```ts ignore
 * import { AwsKms } from "./aws.ts";
 * const kms = new AwsKms({ keyId: "alias/app" });
 * const { dataKey, wrapped } = await kms.generateDataKey({ purpose: "backup" });
 * const again = await kms.unwrap(wrapped, { purpose: "backup" });
 * kms.close();
 * ```
 *
 * @module
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from "@aws-sdk/client-kms";
import { EnvelopeError } from "../errors.ts";
import type { EncryptionContext, GeneratedDataKey, KeyProvider, WrappedKey } from "../keys/provider.ts";
import { awsErrorName, type AwsKmsOperation, expectBytes, isRetryable, toEnvelopeError } from "./aws_errors.ts";
import { type RetryOptions, withRetry } from "./retry.ts";
import { ARN, type KeyIdParts, parseKeyId, sameKey } from "./aws_key_ids.ts";
import { getEnv } from "../host/env.ts";
import {
  AWS_KMS_ANY_KEY,
  AWS_KMS_PROVIDER,
  type AwsDiscoveryFilter,
  type AwsDiscoveryOptions,
  type AwsKmsOptions,
} from "./aws_options.ts";
import type { AwsGeneratedDataKey, RawPlaintext } from "./aws_options.ts";

export type { RetryOptions } from "./retry.ts";
export { AWS_KMS_ANY_KEY, AWS_KMS_PROVIDER } from "./aws_options.ts";
export type {
  AwsDiscoveryFilter,
  AwsDiscoveryOptions,
  AwsGeneratedDataKey,
  AwsKmsClient,
  AwsKmsConnection,
  AwsKmsOptions,
  RawDataKey,
  RawPlaintext,
} from "./aws_options.ts";

const DATA_KEY_BYTES = 32;

/** The region to build a client with, or undefined to let the SDK resolve it (AWS_REGION, profile). */
function defaultRegion(): string | undefined {
  // The JavaScript SDK reads AWS_REGION but not AWS_DEFAULT_REGION; the AWS CLI reads the latter.
  return getEnv("AWS_REGION") === undefined ? getEnv("AWS_DEFAULT_REGION") : undefined;
}

const DISCOVERY: unique symbol = Symbol("aws-kms discovery");

/**
 * A key provider backed by one AWS KMS key, or, from
 * {@linkcode AwsKms.discovery}, by whichever key a wrapped blob names.
 *
 * @example What a provider decides without calling KMS
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEnvelopeError } from "../../mod.ts";
 * import { AwsKms } from "./aws.ts";
 * const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
 * const kms = new AwsKms({ keyId: arn });
 * // Another provider's wrapped key, or another KMS key's (told from the ARNs): not mine.
 * assert.equal(await kms.unwrap({ provider: "local", keyId: "k", wrapped: new Uint8Array(40) }, {}), null);
 * const other = "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-00aa-00aa-00aa-000000000000";
 * assert.equal(await kms.unwrap({ provider: "aws-kms", keyId: other, wrapped: new Uint8Array(40) }, {}), null);
 * // A discovery provider decrypts only.
 * const err = await AwsKms.discovery().generateDataKey({}).catch((e) => e);
 * assert.ok(isEnvelopeError(err, "INVALID_ARGUMENT"));
 * kms.close();
 * ```
 */
export class AwsKms implements KeyProvider {
  /** Always `aws-kms`. */
  readonly provider: string = AWS_KMS_PROVIDER;
  /** The configured key id as given, or `*` for a discovery provider. */
  readonly keyId: string;

  readonly #parts: KeyIdParts;
  readonly #discovery: boolean;
  readonly #given?: KMSClient;
  readonly #built = new Map<string, KMSClient>();
  readonly #region?: string;
  readonly #endpoint?: string;
  readonly #retry: RetryOptions;
  readonly #grantTokens?: string[];
  /** The key ARN an alias resolved to, once known. */
  #resolved?: string;
  /** A discovery provider's filter. */
  #filter?: AwsDiscoveryFilter;
  /** The alias lookup in flight or done: the ARN, or undefined when DescribeKey was refused. */
  #resolving?: Promise<string | undefined>;

  /**
   * A provider for one key. Without `client`, clients are built from the
   * options and the AWS environment on the first call.
   *
   * @param options the key and how to reach KMS
   * @param mode internal: use {@linkcode AwsKms.discovery} for a provider without a key
   */
  constructor(options: AwsKmsOptions, mode?: typeof DISCOVERY) {
    this.#discovery = mode === DISCOVERY;
    if (!this.#discovery && (typeof options?.keyId !== "string" || options.keyId.trim() === "")) {
      throw new EnvelopeError("INVALID_ARGUMENT", "Creating the AWS KMS provider failed: no key id was given", {
        hint: "give a key id, key ARN, alias/NAME or alias ARN, or use AwsKms.discovery() to decrypt only",
      });
    }
    this.keyId = this.#discovery ? AWS_KMS_ANY_KEY : options.keyId;
    this.#parts = parseKeyId(this.keyId);
    this.#given = options.client;
    this.#region = options.region;
    this.#endpoint = options.endpoint;
    this.#retry = options.retry ?? {};
    if (options.grantTokens && options.grantTokens.length > 0) this.#grantTokens = [...options.grantTokens];
    if (this.#parts.kind === "key-arn") this.#resolved = this.keyId;
  }

  /**
   * A provider that unwraps any `aws-kms` wrapped key by calling Decrypt
   * without a KeyId (a symmetric key's blob names its key); for decrypting
   * when the message header says which key. It cannot wrap or generate.
   * Without a `client`, each call goes to the region of the wrapped key's ARN.
   */
  static discovery(options: AwsDiscoveryOptions = {}): AwsKms {
    const kms = new AwsKms({ ...options, keyId: AWS_KMS_ANY_KEY }, DISCOVERY);
    const f = options.filter;
    if (f && (f.accounts?.length || f.partition || f.regions?.length)) kms.#filter = f;
    return kms;
  }

  /** Whether a discovery provider may call the key `keyId` names (an ARN); true without a filter. */
  #allowed(keyId: string): boolean {
    const f = this.#filter;
    if (!f) return true;
    const m = /^arn:([^:]+):kms:([^:]*):(\d*):key\//.exec(keyId);
    if (!m) return false;
    if (f.partition && m[1] !== f.partition) return false;
    if (f.accounts?.length && !f.accounts.includes(m[3])) return false;
    if (f.regions?.length && !f.regions.includes(m[2])) return false;
    return true;
  }

  /** GenerateDataKey (AES_256) bound to `context`; the wrapped key records the key ARN KMS used. */
  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.#requireKey("generate a data key");
    const out = await this.#call("GenerateDataKey", this.keyId, context, (c, signal) =>
      c.send(
        new GenerateDataKeyCommand({
          KeyId: this.keyId,
          KeySpec: "AES_256",
          EncryptionContext: contextOrUndefined(context),
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal: signal },
      ), this.#parts.region);
    const arn = this.#answerKeyId(out.KeyId);
    const dataKey = expectBytes(out.Plaintext, "GenerateDataKey", "Plaintext", this.keyId);
    const wrapped = expectBytes(out.CiphertextBlob, "GenerateDataKey", "CiphertextBlob", this.keyId);
    return { dataKey, wrapped: { provider: AWS_KMS_PROVIDER, keyId: arn, wrapped } };
  }

  /** Encrypt of an existing 32-byte data key under this provider's key, bound to `context`. */
  async wrap(dataKey: Uint8Array, context: EncryptionContext): Promise<WrappedKey> {
    this.#requireKey("wrap a data key");
    if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_BYTES) {
      throw new EnvelopeError(
        "INVALID_KEY",
        `Wrapping the data key with AWS KMS key ${this.keyId} failed: a data key is 32 bytes`,
        {
          hint: "pass the 32-byte data key",
        },
      );
    }
    const out = await this.#call("Encrypt", this.keyId, context, (c, signal) =>
      c.send(
        new EncryptCommand({
          KeyId: this.keyId,
          Plaintext: dataKey,
          EncryptionContext: contextOrUndefined(context),
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal: signal },
      ), this.#parts.region);
    const arn = this.#answerKeyId(out.KeyId);
    return {
      provider: AWS_KMS_PROVIDER,
      keyId: arn,
      wrapped: expectBytes(out.CiphertextBlob, "Encrypt", "CiphertextBlob", this.keyId),
    };
  }

  /**
   * Decrypt of `wrapped`. Returns `null` when it is not an `aws-kms` key, or
   * when this provider has a key and `wrapped` was made under another one
   * (told offline from the ARNs where possible; an alias is resolved once with
   * DescribeKey, or, when that is refused, by Decrypt with the alias as KeyId,
   * which KMS refuses with IncorrectKeyException for another key's blob).
   */
  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array | null> {
    if (wrapped.provider !== AWS_KMS_PROVIDER) return null;
    let keyId: string | undefined;
    if (!this.#discovery) {
      const mine = await this.#owns(wrapped.keyId);
      if (mine === "no") return null;
      keyId = this.keyId;
    } else if (!this.#allowed(wrapped.keyId)) {
      return null;
    }
    const named = keyId ?? wrapped.keyId;
    let out;
    try {
      out = await this.#call("Decrypt", named, context, (c, signal) =>
        c.send(
          new DecryptCommand({
            CiphertextBlob: wrapped.wrapped,
            KeyId: keyId,
            EncryptionContext: contextOrUndefined(context),
            GrantTokens: this.#grantTokens,
          }),
          { abortSignal: signal },
        ), this.#regionFor(wrapped.keyId));
    } catch (err) {
      if (awsErrorName((err as EnvelopeError).cause) === "IncorrectKeyException") return null;
      throw err;
    }
    if (!this.#discovery) this.#answerKeyId(out.KeyId);
    const plaintext = expectBytes(out.Plaintext, "Decrypt", "Plaintext", named);
    if (plaintext.length !== DATA_KEY_BYTES) {
      plaintext.fill(0);
      throw new EnvelopeError(
        "INVALID_KEY",
        `Unwrapping the data key with AWS KMS key ${named} failed: it opened to ${plaintext.length} bytes, not a 32-byte data key`,
        {
          hint: "the wrapped key was not made by this tool; check the message header",
        },
      );
    }
    return plaintext;
  }

  /**
   * ReEncrypt of `wrapped` to this provider's key, with the same context on
   * both sides (the old entry is not decrypted here; `rewrapHeader` then
   * proves the new entry with one Decrypt under this key). Returns `null` when `wrapped`
   * is not an `aws-kms` key, for a discovery provider, and when KMS refuses
   * ReEncrypt with AccessDeniedException (kms:ReEncryptFrom/To may be missing
   * where Decrypt and Encrypt are allowed), so the caller unwraps and wraps.
   */
  async rewrap(wrapped: WrappedKey, context: EncryptionContext): Promise<WrappedKey | null> {
    if (wrapped.provider !== AWS_KMS_PROVIDER || this.#discovery) return null;
    let out;
    try {
      out = await this.#call("ReEncrypt", this.keyId, context, (c, signal) =>
        c.send(
          new ReEncryptCommand({
            CiphertextBlob: wrapped.wrapped,
            DestinationKeyId: this.keyId,
            SourceEncryptionContext: contextOrUndefined(context),
            DestinationEncryptionContext: contextOrUndefined(context),
            GrantTokens: this.#grantTokens,
          }),
          { abortSignal: signal },
        ), this.#parts.region);
    } catch (err) {
      if (awsErrorName((err as EnvelopeError).cause) === "AccessDeniedException") return null;
      throw err;
    }
    const arn = this.#answerKeyId(out.KeyId);
    return {
      provider: AWS_KMS_PROVIDER,
      keyId: arn,
      wrapped: expectBytes(out.CiphertextBlob, "ReEncrypt", "CiphertextBlob", this.keyId),
    };
  }

  /**
   * GenerateDataKey with `keySpec` (default AES_256) and the given context
   * (none by default), returning KMS's answer as is: for formats that store
   * the raw CiphertextBlob, such as the Nitro enclave sample's.
   */
  async generateDataKeyRaw(
    options: { context?: EncryptionContext; keySpec?: "AES_256" | "AES_128" } = {},
  ): Promise<AwsGeneratedDataKey> {
    this.#requireKey("generate a data key");
    const context = options.context ?? {};
    const out = await this.#call("GenerateDataKey", this.keyId, context, (c, signal) =>
      c.send(
        new GenerateDataKeyCommand({
          KeyId: this.keyId,
          KeySpec: options.keySpec ?? "AES_256",
          EncryptionContext: contextOrUndefined(context),
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal: signal },
      ), this.#parts.region);
    return {
      plaintext: expectBytes(out.Plaintext, "GenerateDataKey", "Plaintext", this.keyId),
      ciphertextBlob: expectBytes(out.CiphertextBlob, "GenerateDataKey", "CiphertextBlob", this.keyId),
      keyId: this.#answerKeyId(out.KeyId),
    };
  }

  /**
   * Decrypt of a raw CiphertextBlob with the given context (none by default).
   * A provider with a key sends it as KeyId (KMS refuses another key's blob);
   * a discovery provider lets the blob name the key.
   */
  async decryptRaw(blob: Uint8Array, context: EncryptionContext = {}): Promise<RawPlaintext> {
    const keyId = this.#discovery ? undefined : this.keyId;
    const out = await this.#call("Decrypt", keyId ?? "", context, (c, signal) =>
      c.send(
        new DecryptCommand({
          CiphertextBlob: blob,
          KeyId: keyId,
          EncryptionContext: contextOrUndefined(context),
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal: signal },
      ), this.#parts.region);
    return {
      plaintext: expectBytes(out.Plaintext, "Decrypt", "Plaintext", keyId ?? ""),
      keyId: out.KeyId ?? keyId ?? "",
    };
  }

  /** Closes the clients this provider built (not a client passed in). */
  close(): void {
    for (const client of this.#built.values()) client.destroy();
    this.#built.clear();
  }

  /** Same as {@linkcode AwsKms.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #requireKey(what: string): void {
    if (this.#discovery) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `The AWS KMS discovery provider cannot ${what}: it has no key of its own`,
        {
          hint: "give a key id, key ARN or alias to encrypt",
        },
      );
    }
  }

  /** Records the key ARN an answer names, and returns it (or the configured id when KMS named none). */
  #answerKeyId(arn: string | undefined): string {
    if (arn === undefined || arn === "") return this.keyId;
    if (this.#resolved === undefined && ARN.test(arn)) this.#resolved = arn;
    return arn;
  }

  /** Whether a wrapped key id is this provider's key: "yes", "no", or "unknown" (let KMS decide). */
  async #owns(wrappedKeyId: string): Promise<"yes" | "no" | "unknown"> {
    const theirs = parseKeyId(wrappedKeyId);
    if (theirs.kind !== "key-arn" && theirs.kind !== "id") return "unknown";
    let mine = this.keyId;
    if (this.#parts.kind === "alias" || this.#parts.kind === "alias-arn") {
      const arn = this.#resolved ?? await this.#resolveAlias();
      if (arn === undefined) return "unknown";
      mine = arn;
    }
    return sameKey(mine, wrappedKeyId) ? "yes" : "no";
  }

  /** DescribeKey of the alias, once; undefined when access to DescribeKey is denied (Decrypt then decides). */
  #resolveAlias(): Promise<string | undefined> {
    this.#resolving ??= this.#call(
      "DescribeKey",
      this.keyId,
      undefined,
      (c, signal) =>
        c.send(new DescribeKeyCommand({ KeyId: this.keyId, GrantTokens: this.#grantTokens }), { abortSignal: signal }),
      this.#parts.region,
    )
      .then((out) => {
        const arn = out.KeyMetadata?.Arn;
        if (arn) this.#resolved ??= arn;
        return this.#resolved;
      }, (err: EnvelopeError) => {
        this.#resolving = undefined;
        if (err.code === "KMS_ACCESS_DENIED") return undefined;
        throw err;
      });
    return this.#resolving;
  }

  /** The region to call for a wrapped key: the option, else the ARN's, else the configured key's. */
  #regionFor(wrappedKeyId: string): string | undefined {
    if (!this.#discovery) return this.#parts.region;
    return parseKeyId(wrappedKeyId).region;
  }

  #client(arnRegion: string | undefined): KMSClient {
    if (this.#given) return this.#given;
    const region = this.#region ?? arnRegion ?? defaultRegion();
    const slot = region ?? "";
    let client = this.#built.get(slot);
    if (!client) {
      client = new KMSClient({
        maxAttempts: 1,
        ...(region === undefined ? {} : { region }),
        ...(this.#endpoint === undefined ? {} : { endpoint: this.#endpoint }),
      });
      this.#built.set(slot, client);
    }
    return client;
  }

  /** One KMS call with our retries and timeout; every failure becomes an `EnvelopeError`. */
  async #call<T>(
    op: AwsKmsOperation,
    keyId: string,
    context: EncryptionContext | undefined,
    send: (client: KMSClient, signal: AbortSignal) => Promise<T>,
    arnRegion: string | undefined,
  ): Promise<T> {
    let attempts = 0;
    try {
      const client = this.#client(arnRegion);
      return await withRetry(
        (signal, n) => {
          attempts = n + 1;
          return send(client, signal);
        },
        isRetryable,
        this.#retry,
      );
    } catch (err) {
      throw toEnvelopeError(err, { op, keyId, context, attempts });
    }
  }
}

function contextOrUndefined(context: EncryptionContext | undefined): Record<string, string> | undefined {
  if (context === undefined || Object.keys(context).length === 0) return undefined;
  return { ...context };
}
