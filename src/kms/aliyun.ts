/**
 * The Alibaba Cloud KMS key provider (`aliyun-kms`).
 *
 * Data keys come from GenerateDataKey (AES_256) or are wrapped with Encrypt;
 * unwrapping is Decrypt, re-wrapping is ReEncrypt (the old entry is not
 * decrypted here; the caller then proves the new entry with one Decrypt). The envelope's encryption context (a string
 * map) is sent to KMS as the JSON text of the map with its keys sorted, so
 * the same map always gives the same string; an empty map sends none.
 *
 * The wrapped form stored in a header is the UTF-8 bytes of the
 * CiphertextBlob exactly as KMS returned it (already base64 text); the key id
 * is the KeyId the service answered with.
 *
 * @example A keyed provider and a discovery provider
 * ```ts ignore
 * import { AliyunKms } from "./aliyun.ts";
 * const kms = new AliyunKms({ keyId: "acs:kms:cn-hangzhou:123:key/1234abcd-...", retry: { attempts: 3 } });
 * const { dataKey, wrapped } = await kms.generateDataKey({ purpose: "backup" });
 * const again = await AliyunKms.discovery().unwrap(wrapped, { purpose: "backup" });
 * ```
 *
 * @module
 */
import { contextJson } from "./aliyun_context.ts";
import { EnvelopeError } from "../errors.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import type { EncryptionContext, GeneratedDataKey, KeyProvider, WrappedKey } from "../keys/provider.ts";
import { type AliyunClientOptions, AliyunKmsClient, regionFromArn } from "./aliyun_client.ts";

export { AliyunKmsClient, AliyunServiceError, getEnv, regionFromArn } from "./aliyun_client.ts";
export { AliyunCredentialChain } from "./aliyun_credentials.ts";
export type {
  AliyunCredentialChainOptions,
  AliyunCredentials,
  AliyunCredentialsProvider,
} from "./aliyun_credentials.ts";
export type {
  AliyunClientOptions,
  DecryptInput,
  DecryptOutput,
  EncryptInput,
  EncryptOutput,
  GenerateDataKeyInput,
  GenerateDataKeyOutput,
  ReEncryptInput,
} from "./aliyun_client.ts";
export type { RetryOptions } from "./retry.ts";

/**
 * The provider name written into headers.
 *
 * @example Every Alibaba Cloud KMS provider carries it
 * ```ts
 * import assert from "node:assert/strict";
 * import { ALIYUN_PROVIDER, AliyunKms } from "./aliyun.ts";
 * assert.equal(AliyunKms.discovery({ regionId: "cn-hangzhou" }).provider, ALIYUN_PROVIDER);
 * ```
 */
export const ALIYUN_PROVIDER = "aliyun-kms";

/** Options of a keyed provider. */
export interface AliyunKmsOptions extends AliyunClientOptions {
  /** Key id (UUID), alias (`alias/name`) or ARN (`acs:kms:REGION:UID:key/ID` or `...:alias/name`). */
  readonly keyId: string;
  /** A ready client; when given, the connection options above are ignored. */
  readonly client?: AliyunKmsClient;
}

/** Options of a discovery provider. */
export interface AliyunDiscoveryOptions extends AliyunClientOptions {
  /** A ready client; when given, the connection options above are ignored. */
  readonly client?: AliyunKmsClient;
  /**
   * Regions a wrapped key's ARN may name (docs/FORMAT.md §8 step 6): an entry
   * naming another region is "not mine", with no call. A bare key id always
   * goes to the client's own region. Empty or absent: any region.
   */
  readonly regions?: readonly string[];
}

/**
 * The JSON text sent to KMS for `context`: the map with its keys in the
 * canonical UTF-8 byte order of docs/FORMAT.md §3.2, or `undefined` when it
 * is empty.
 *
 * @example The same map gives the same text whatever its key order
 * ```ts
 * import assert from "node:assert/strict";
 * import { aliyunContextString } from "./aliyun.ts";
 * assert.equal(aliyunContextString({ b: "2", a: "1" }), aliyunContextString({ a: "1", b: "2" }));
 * assert.deepEqual(JSON.parse(aliyunContextString({ b: "2", a: "1" })!), { a: "1", b: "2" });
 * assert.equal(aliyunContextString({}), undefined);
 * ```
 */
export function aliyunContextString(context: EncryptionContext): string | undefined {
  return Object.keys(context).length === 0 ? undefined : contextJson(context);
}

/** The key's own id inside an ARN (`acs:kms:r:u:key/ID` -> `ID`), else the text itself. */
function bareKeyId(keyId: string): string {
  const m = /^acs:kms:[^:]*:[^:]*:key\/(.+)$/.exec(keyId);
  return m ? m[1] : keyId;
}

/** True for an alias (`alias/x`, `acs:kms:...:alias/x`), which can't be compared offline. */
function isAlias(keyId: string): boolean {
  return keyId.startsWith("alias/") || /^acs:kms:[^:]*:[^:]*:alias\//.test(keyId);
}

const DISCOVERY = "*";
const DATA_KEY_BYTES = 32;

/**
 * A {@linkcode KeyProvider} backed by Alibaba Cloud KMS.
 *
 * @example Encrypting and decrypting (here against a stand-in `fetch` that plays the service)
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt } from "../../mod.ts";
 * import { AliyunKms, AliyunKmsClient } from "./aliyun.ts";
 * // The stand-in "wraps" a data key by remembering it under a new blob name.
 * const store = new Map<string, string>();
 * const service: typeof fetch = (_url, init) => {
 *   const form = new URLSearchParams(String(init?.body));
 *   const blob = form.get("CiphertextBlob") ?? btoa(`blob-${store.size}`);
 *   if (form.get("Action") === "GenerateDataKey") {
 *     store.set(blob, btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))));
 *   }
 *   const answer = { KeyId: "key-1", KeyVersionId: "v1", RequestId: "r1", CiphertextBlob: blob, Plaintext: store.get(blob) };
 *   return Promise.resolve(Response.json(answer));
 * };
 * const client = new AliyunKmsClient({ accessKeyId: "id", accessKeySecret: "secret", regionId: "cn-hangzhou", fetch: service });
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { keys: new AliyunKms({ keyId: "key-1", client }) });
 * const opened = await decrypt(sealed, { keys: AliyunKms.discovery({ client }) });
 * assert.equal(new TextDecoder().decode(opened), "hi");
 * ```
 */
export class AliyunKms implements KeyProvider {
  /** Always `aliyun-kms`. */
  readonly provider: "aliyun-kms" = ALIYUN_PROVIDER;
  /** The configured key (`*` for a discovery provider). */
  readonly keyId: string;
  /** The raw client, for callers that need the API itself (the Alibaba sample format). */
  readonly client: AliyunKmsClient;
  /** A discovery provider's allowed regions. */
  #regions?: string[];

  /**
   * A provider for one key. Without `client`, a client is built from the
   * connection options and the `ALIBABA_CLOUD_*` environment; nothing is sent
   * until the first call.
   *
   * @param options the key and how to reach KMS
   */
  constructor(options: AliyunKmsOptions) {
    if (typeof options?.keyId !== "string" || options.keyId.trim() === "") {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        "Creating the Alibaba Cloud KMS provider failed: no key id was given",
        {
          hint: "pass a key id, alias/NAME or acs:kms:REGION:UID:key/ID, or use AliyunKms.discovery() to decrypt only",
        },
      );
    }
    this.keyId = options.keyId;
    this.client = options.client ?? new AliyunKmsClient(options);
  }

  /** A provider that decrypts any `aliyun-kms` wrapped key (Decrypt needs no key id) and cannot wrap. */
  static discovery(options: AliyunDiscoveryOptions = {}): AliyunKms {
    const kms = new AliyunKms({ ...options, keyId: DISCOVERY });
    if (options.regions?.length) kms.#regions = [...options.regions];
    return kms;
  }

  /** True for a provider made by {@linkcode AliyunKms.discovery}. */
  get isDiscovery(): boolean {
    return this.keyId === DISCOVERY;
  }

  #requireKey(action: string): void {
    if (this.isDiscovery) {
      throw new EnvelopeError(
        "INVALID_ARGUMENT",
        `${action} with Alibaba Cloud KMS failed: a discovery provider has no key to wrap with`,
        {
          hint: "create the provider with a keyId to encrypt",
        },
      );
    }
  }

  /** GenerateDataKey (AES_256): a fresh 32-byte data key and its wrapped form. */
  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.#requireKey("Generating a data key");
    const out = await this.client.generateDataKey({
      keyId: this.keyId,
      keySpec: "AES_256",
      encryptionContext: aliyunContextString(context),
    });
    if (out.plaintext.length !== DATA_KEY_BYTES) {
      const n = out.plaintext.length;
      out.plaintext.fill(0);
      throw new EnvelopeError(
        "KMS_FAILED",
        `Alibaba Cloud KMS GenerateDataKey with key ${this.keyId} failed: it returned a ${n}-byte data key, not 32 bytes (request id ${out.requestId})`,
        {
          hint: "check that the endpoint is Alibaba Cloud KMS",
        },
      );
    }
    return { dataKey: out.plaintext, wrapped: this.#wrapped(out.keyId, out.ciphertextBlob) };
  }

  /** Encrypt of base64(dataKey) under the configured key. */
  async wrap(dataKey: Uint8Array, context: EncryptionContext): Promise<WrappedKey> {
    this.#requireKey("Wrapping a data key");
    if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_BYTES) {
      throw new EnvelopeError(
        "INVALID_KEY",
        "Wrapping a data key with Alibaba Cloud KMS failed: the data key is not 32 bytes",
        {
          hint: "pass the 32-byte data key",
        },
      );
    }
    const out = await this.client.encrypt({
      keyId: this.keyId,
      plaintext: encodeBase64(dataKey),
      encryptionContext: aliyunContextString(context),
    });
    return this.#wrapped(out.keyId, out.ciphertextBlob);
  }

  /**
   * Decrypt. `null` when `wrapped` is another provider's, or another key's
   * for a keyed provider (compared offline unless this provider names an
   * alias, which only the service can resolve: then the decrypt is tried).
   */
  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array | null> {
    if (!this.#mine(wrapped)) return null;
    const blob = this.#blobText(wrapped);
    const out = await this.client.decrypt({
      ciphertextBlob: blob,
      encryptionContext: aliyunContextString(context),
      keyIdHint: wrapped.keyId || undefined,
    });
    if (out.plaintext.length !== DATA_KEY_BYTES) {
      const n = out.plaintext.length;
      out.plaintext.fill(0);
      throw new EnvelopeError(
        "KMS_FAILED",
        `Alibaba Cloud KMS Decrypt with key ${wrapped.keyId} failed: it returned ${n} bytes, not a 32-byte data key (request id ${out.requestId})`,
        {
          hint: "the wrapped key was not made by this tool; check the file",
        },
      );
    }
    return out.plaintext;
  }

  /**
   * ReEncrypt of an `aliyun-kms` wrapped key under the configured key, with
   * the same context on both sides; `null` for another provider's key or on a
   * discovery provider (then the caller unwraps and wraps).
   */
  async rewrap(wrapped: WrappedKey, context: EncryptionContext): Promise<WrappedKey | null> {
    if (this.isDiscovery || wrapped.provider !== ALIYUN_PROVIDER) return null;
    const ctx = aliyunContextString(context);
    const out = await this.client.reEncrypt({
      ciphertextBlob: this.#blobText(wrapped),
      destinationKeyId: this.keyId,
      sourceEncryptionContext: ctx,
      destinationEncryptionContext: ctx,
      keyIdHint: wrapped.keyId || undefined,
    });
    return this.#wrapped(out.keyId, out.ciphertextBlob);
  }

  #mine(wrapped: WrappedKey): boolean {
    if (wrapped.provider !== ALIYUN_PROVIDER) return false;
    if (this.isDiscovery) {
      const region = regionFromArn(wrapped.keyId);
      return !this.#regions || region === undefined || this.#regions.includes(region);
    }
    if (isAlias(this.keyId)) return true;
    return bareKeyId(wrapped.keyId) === bareKeyId(this.keyId);
  }

  #wrapped(keyId: string, blob: string): WrappedKey {
    return {
      provider: ALIYUN_PROVIDER,
      keyId: keyId || this.keyId,
      wrapped: new TextEncoder().encode(blob),
    };
  }

  #blobText(wrapped: WrappedKey): string {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(wrapped.wrapped);
    } catch {
      text = "";
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      throw new EnvelopeError(
        "HEADER_INVALID",
        `Unwrapping the data key with Alibaba Cloud KMS key ${wrapped.keyId} failed: the stored CiphertextBlob is not base64 text`,
        {
          hint: "the header was damaged; restore the file from a good copy",
        },
      );
    }
    return text;
  }
}
