/**
 * Opening the compatibility formats: their data keys (`--data-key`, `-k`
 * keys, or KMS discovery) and their verified plaintext, shared by `decrypt`
 * and `convert`.
 *
 * @module
 */
import { concat } from "../format/bytes.ts";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AesGcm } from "../crypto/mod.ts";
import { decodeBase64, decodeBase64Url } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { openInput } from "../cli/files.ts";
import { classify, KEY_FORMS } from "../cli/keyspec.ts";
import { type AliyunScan, openAliyunStream, scanAliyun } from "./aliyun_gcm.ts";
import { NITRO_MAX_FILE, NITRO_MAX_PLAINTEXT, openNitro, splitNitro, tooLarge } from "./nitro.ts";

/** Reads a whole stream, refusing more than `limit` bytes with `onOver`. */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  onOver: (n: number) => EnvelopeError,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > limit) {
        await reader.cancel().catch(() => {});
        for (const p of parts) p.fill(0);
        throw onOver(n);
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return concat(parts);
}

/** A stream of one chunk. */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

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
        const { KmstoolKey } = await import("./kmstool.ts");
        return await new KmstoolKey({ path: value }).decryptBlob(blob);
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
  const { AwsKms } = await import("../kms/aws.ts");
  const kms = keyId === undefined ? AwsKms.discovery() : new AwsKms({ keyId });
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
  const { AliyunKms } = await import("../kms/aliyun.ts");
  // Decrypt needs no key id: the blob names the key. A -k only supplies the region of an ARN.
  const kms = ids.length > 0 ? new AliyunKms({ keyId: ids[0] }) : AliyunKms.discovery();
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
  /** The file's bytes from the start (for stdin, the spooled ciphertext). */
  reopen(): Promise<ReadableStream<Uint8Array>>;
  /** Removes the spool, if any. */
  cleanup(): Promise<void>;
}

/**
 * Pass one over an Alibaba file. A named file is read again for pass two;
 * stdin's ciphertext (base64, not secret) is spooled to a private temporary
 * file, so memory stays bounded either way.
 */
export async function scanAliyunInput(input: string, stream: ReadableStream<Uint8Array>): Promise<AliyunSource> {
  if (input !== "-") {
    const scan = await scanAliyun(stream);
    return { scan, reopen: async () => (await openInput(input)).stream, cleanup: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), "envelope-aliyun-"));
  const path = join(dir, "ciphertext.b64");
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const fh = await open(path, "wx", 0o600);
    let scan: AliyunScan;
    try {
      scan = await scanAliyun(stream, async (bytes) => {
        let off = 0;
        while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
      });
    } finally {
      await fh.close();
    }
    return { scan, reopen: async () => (await openInput(path)).stream, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Reads a whole Nitro file from `stream`, opens its key from `source` and returns the verified plaintext (the zip). */
export async function openNitroInput(stream: ReadableStream<Uint8Array>, source: KeySource): Promise<Uint8Array> {
  const parts = splitNitro(await readLimited(stream, NITRO_MAX_FILE, () => tooLarge(NITRO_MAX_PLAINTEXT)));
  const dataKey = await nitroDataKey(parts.blob, source);
  try {
    return await openNitro(parts, dataKey);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens a scanned Alibaba file's key from `source` and returns its plaintext
 * as a stream (pass two), which errors at its end unless the tag verifies.
 */
export async function openAliyunInput(src: AliyunSource, source: KeySource): Promise<ReadableStream<Uint8Array>> {
  const dataKey = await aliyunDataKey(src.scan, source);
  let gcm: AesGcm;
  try {
    gcm = await AesGcm.create(dataKey);
  } finally {
    dataKey.fill(0);
  }
  return (await src.reopen()).pipeThrough(openAliyunStream(gcm, src.scan));
}
