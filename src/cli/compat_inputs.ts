/**
 * Opening the compatibility formats: their data keys (`--data-key`, `-k`
 * keys, or KMS discovery) and their verified plaintext, shared by `decrypt`
 * and `convert`.
 *
 * @module
 */
import { AesGcm } from "../crypto/mod.ts";
import { decodeBase64, decodeBase64Url } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { classify, KEY_FORMS, providerFor } from "./keyspec.ts";
import { type AliyunScan, openAliyunStream, scanAliyun } from "../compat/aliyun_gcm.ts";
import { decryptFernetStream, verifyFernetStream } from "../crypto/fernet_stream.ts";
import { NITRO_MAX_FILE, NITRO_MAX_PLAINTEXT, tooLarge } from "../compat/nitro.ts";
import { readNitroPrefix, skipBytes } from "../compat/nitro_stream.ts";
import { readLimits, twoPassInput } from "./two_pass.ts";
import { importLater } from "../import_later.ts";

/** Decodes `--data-key` (standard base64 or base64url, the Fernet key text too) to bytes of an allowed length. */
export function dataKeyBytes(text: string, lengths: readonly number[]): Uint8Array {
  const t = text.trim();
  let bytes: Uint8Array;
  try {
    bytes = /[-_]/.test(t) ? decodeBase64Url(t, "optional") : decodeBase64(t, "optional");
  } catch {
    throw new EnvelopeError("INVALID_KEY", "Loading --data-key failed: it is not valid base64", {
      hint: "pass the data key as base64 (for a Nitro file, the Fernet key text)",
    });
  }
  if (!lengths.includes(bytes.length)) {
    const n = bytes.length;
    bytes.fill(0);
    throw new EnvelopeError("INVALID_KEY", `Loading --data-key failed: it is ${n} bytes, not ${lengths.join(" or ")}`, {
      hint: "pass the plaintext data key KMS returned, as base64",
    });
  }
  return bytes;
}

/** Where the data key of a compatibility file comes from: `--data-key`, `-k` specs, or KMS discovery. */
export interface KeySource {
  readonly dataKey?: string;
  readonly specs: readonly string[];
}

/** Opens a Nitro file's blob: `--data-key`, else each `-k` (AWS KMS or kmstool:PATH) in turn, else AWS KMS discovery. */
export async function nitroDataKey(blob: Uint8Array, source: KeySource): Promise<Uint8Array> {
  if (source.dataKey !== undefined) return dataKeyBytes(source.dataKey, [32]);
  const attempts: (() => Promise<Uint8Array>)[] = [];
  for (const spec of source.specs) {
    const { kind, value } = classify(spec);
    if (kind === "kmstool") {
      attempts.push(async () => {
        return await (await providerFor("kmstool", value)).decryptBlob(blob);
      });
    } else if (kind === "aws-kms") {
      attempts.push(() => awsDecrypt(blob, value));
    } else {
      throw new EnvelopeError("USAGE", `Decrypting the Nitro-enclave file failed: ${spec} cannot open its key`, {
        hint: "use an AWS KMS key (alias/NAME, an ARN, aws-kms:ID), -k kmstool:PATH inside the enclave, or --data-key",
      });
    }
  }
  if (attempts.length === 0) attempts.push(() => awsDecrypt(blob, undefined));
  const errors: EnvelopeError[] = [];
  for (const attempt of attempts) {
    try {
      const key = await attempt();
      if (key.length === 32) return key;
      const n = key.length;
      key.fill(0);
      errors.push(
        new EnvelopeError(
          "INVALID_KEY",
          `Opening the Nitro-enclave file's key failed: it opened to ${n} bytes, not a 32-byte data key`,
          {
            hint: "the file was not made with an AES_256 data key",
          },
        ),
      );
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  throw new EnvelopeError(
    "NO_KEY_MATCHED",
    `Opening the Nitro-enclave file's key failed with every key: ${
      errors.map((e) => `${e.message} [${e.code}]`).join("; ")
    }`,
    {
      hint: `pass the key that made it with -k (${KEY_FORMS}) or --data-key`,
    },
  );
}

async function awsDecrypt(blob: Uint8Array, keyId: string | undefined): Promise<Uint8Array> {
  const kms = keyId === undefined
    ? (await importLater<typeof import("../kms/aws.ts")>(import.meta.url, "../kms/aws.ts")).AwsKms.discovery()
    : await providerFor("aws-kms", keyId);
  try {
    return (await kms.decryptRaw(blob)).plaintext;
  } finally {
    kms.close();
  }
}

/** Opens an Alibaba file's data key: `--data-key`, else Decrypt with the stored context string, byte for byte. */
export async function aliyunDataKey(scan: AliyunScan, source: KeySource): Promise<Uint8Array> {
  if (source.dataKey !== undefined) return dataKeyBytes(source.dataKey, [16, 24, 32]);
  const ids: string[] = [];
  for (const spec of source.specs) {
    const { kind, value } = classify(spec);
    if (kind !== "aliyun-kms") {
      throw new EnvelopeError("USAGE", `Decrypting the Alibaba-sample file failed: ${spec} cannot open its key`, {
        hint: "use -k aliyun-kms:KEY-ID or --data-key; Decrypt finds the key from the wrapped key itself",
      });
    }
    ids.push(value);
  }
  // Decrypt needs no key id: the blob names the key. A -k only supplies the region of an ARN.
  const kms = ids.length > 0
    ? await providerFor("aliyun-kms", ids[0])
    : (await importLater<typeof import("../kms/aliyun.ts")>(import.meta.url, "../kms/aliyun.ts")).AliyunKms.discovery();
  const out = await kms.client.decrypt({
    ciphertextBlob: scan.blob,
    encryptionContext: scan.context === "" ? undefined : scan.context,
    keyIdHint: ids[0],
  });
  if (![16, 24, 32].includes(out.plaintext.length)) {
    const n = out.plaintext.length;
    out.plaintext.fill(0);
    throw new EnvelopeError(
      "KMS_FAILED",
      `Alibaba Cloud KMS Decrypt failed: it returned ${n} bytes, not an AES key (request id ${out.requestId})`,
      {
        hint: "the wrapped key was not made by GenerateDataKey",
      },
    );
  }
  return out.plaintext;
}

/** An Alibaba file scanned (pass one) and a way to read it again from the start (pass two). */
export interface AliyunSource {
  readonly scan: AliyunScan;
  /** The file's bytes from the start (for stdin, the spool). */
  reopen(): Promise<ReadableStream<Uint8Array>>;
  /** Removes the spool, if any. */
  cleanup(): Promise<void>;
}

/**
 * Pass one over an Alibaba file. A named file is read again for pass two;
 * stdin (base64 ciphertext, not secret) is spooled to a private temporary
 * file that a signal removes too. `maxSize` (`--max-size`) bounds the bytes
 * read, and so the spool, with `INPUT_TOO_LARGE`.
 */
export async function scanAliyunInput(
  input: string,
  stream: ReadableStream<Uint8Array>,
  maxSize?: number,
): Promise<AliyunSource> {
  const name = input === "-" ? "stdin" : input;
  const tp = await twoPassInput(input, stream, readLimits(name, maxSize), "aliyun");
  try {
    return { scan: await scanAliyun(tp.first), reopen: tp.reopen, cleanup: tp.cleanup };
  } catch (err) {
    await tp.cleanup();
    throw err;
  }
}

/** A compatibility file's verified plaintext as a stream, and what to remove when it has been read. */
export interface OpenedInput {
  readonly plaintext: ReadableStream<Uint8Array>;
  cleanup(): Promise<void>;
}

/**
 * Opens a Nitro file in flat memory: reads the blob from its front, opens
 * the data key from `source`, verifies the Fernet token's HMAC over the whole
 * file (pass one; stdin is spooled), then returns the plaintext (the zip) of
 * pass two. Nothing is decrypted before the HMAC verified. `maxSize` bounds
 * the file with `INPUT_TOO_LARGE`; the format's own bound is 1 GiB of
 * plaintext (`LIMIT_EXCEEDED`).
 */
export async function openNitroInput(
  input: string,
  stream: ReadableStream<Uint8Array>,
  source: KeySource,
  maxSize?: number,
): Promise<OpenedInput> {
  const name = input === "-" ? "stdin" : input;
  const own = [{ bytes: NITRO_MAX_FILE, error: () => tooLarge(NITRO_MAX_PLAINTEXT) }];
  const tp = await twoPassInput(input, stream, readLimits(name, maxSize, own), "nitro");
  try {
    const { blob, token } = await readNitroPrefix(tp.first);
    const dataKey = await nitroDataKey(blob, source);
    let decrypt: TransformStream<Uint8Array, Uint8Array>;
    try {
      const verified = await verifyFernetStream(dataKey, token);
      decrypt = await decryptFernetStream(dataKey, verified);
    } finally {
      dataKey.fill(0);
    }
    return { plaintext: skipBytes(await tp.reopen(), 4 + blob.length).pipeThrough(decrypt), cleanup: tp.cleanup };
  } catch (err) {
    await tp.cleanup();
    throw err;
  }
}

/**
 * Opens a scanned Alibaba file's key from `source` and returns its plaintext
 * as a stream (pass two), which errors at its end unless the tag verifies.
 *
 * With `verifyFirst` (for stdout and any output that cannot be withdrawn),
 * a tag pass reads the whole ciphertext and checks the tag, discarding what
 * it decrypts, before the returned stream decrypts it again: no byte of
 * plaintext is released before the tag verified.
 */
export async function openAliyunInput(
  src: AliyunSource,
  source: KeySource,
  verifyFirst = false,
): Promise<ReadableStream<Uint8Array>> {
  const dataKey = await aliyunDataKey(src.scan, source);
  let gcm: AesGcm;
  let check: AesGcm | undefined;
  try {
    gcm = await AesGcm.create(dataKey);
    if (verifyFirst) check = await AesGcm.create(dataKey);
  } finally {
    dataKey.fill(0);
  }
  if (check !== undefined) {
    try {
      const discard = new WritableStream<Uint8Array>({ write: (chunk) => void chunk.fill(0) });
      await (await src.reopen()).pipeThrough(openAliyunStream(check, src.scan)).pipeTo(discard);
    } catch (err) {
      gcm.dispose();
      throw err;
    }
  }
  return (await src.reopen()).pipeThrough(openAliyunStream(gcm, src.scan));
}
