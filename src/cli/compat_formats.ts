/**
 * The CLI side of the compatibility formats: `encrypt --format nitro|aliyun`,
 * `decrypt` of either format (recognised from the first bytes) and
 * `inspect`. Opening the inputs is in `compat_inputs.ts`, which `convert` shares;
 * the formats themselves (parsers, sealers) are library code in `src/compat/`.
 *
 * @module
 */
import { basename } from "node:path";
import { type LinkPolicy, zipDirectory, zipSingleFile } from "../archive/zip.ts";
import { DIR_LEVEL, dirZipOptions } from "./dir_options.ts";
import { usageError } from "./args.ts";
import { EnvelopeError } from "../errors.ts";
import { sameContext } from "../format/context.ts";
import { checkDir, checkWritable, openInput, writeOutput } from "./files.ts";
import type { Peeked } from "../io/header_peek.ts";
import { classify, providerFor } from "./keyspec.ts";
import { progress, warn } from "./output.ts";
import { DIR_COLLECT_CALLS } from "./gc.ts";
import { byteCounter } from "./batch.ts";
import type { Outcome } from "./batch_tally.ts";
import { type DecryptRequest, defaultOutputName, deliver } from "./deliver.ts";
import { ALIYUN_SEPARATOR, contextMap, indexOfSep, parseTrailer, sealAliyunStream } from "../compat/aliyun_gcm.ts";
import { type CompatFormat, detectFormat, formatUnknown, headForDetection } from "../compat/detect.ts";
import { checkWholeNitro, NITRO_DEFAULT_NAME, nitroBlobLength, tokenTimestamp } from "../compat/nitro.ts";
import { sealNitroStream } from "../compat/nitro_stream.ts";
import { openAliyunInput, openNitroInput, scanAliyunInput } from "./compat_inputs.ts";

/** Options of {@linkcode encryptCompatCommand}, as `encrypt` parsed them. */
export interface CompatEncryptOptions {
  input?: string;
  dir?: string;
  output?: string;
  specs: string[];
  context: Record<string, string>;
  force: boolean;
  /** `--symlinks` for -d. */
  links?: LinkPolicy;
  /** `--parallelism`: with -d, the zip's threads (dir_options.ts zipWorkers). */
  parallelism?: number;
}

function onlyKey(specs: readonly string[], kind: "aws-kms" | "aliyun-kms", format: string, example: string): string {
  if (specs.length !== 1) {
    throw usageError(
      "encrypt",
      `Encrypting in the ${format} format failed: give exactly one -k key (${specs.length} given)`,
      `for example -k ${example}`,
    );
  }
  const c = classify(specs[0]);
  if (c.kind !== kind || c.value === "") {
    throw usageError(
      "encrypt",
      `Encrypting in the ${format} format failed: ${specs[0]} is not ${
        kind === "aws-kms" ? "an AWS" : "an Alibaba Cloud"
      } KMS key`,
      `for example -k ${example}`,
    );
  }
  return c.value;
}

/** A KMS-generated data key must be 32 bytes (AES-256); `action` names the call in the error. */
function require32(dataKey: Uint8Array, action: string): void {
  if (dataKey.length !== 32) {
    throw new EnvelopeError("KMS_FAILED", `${action} failed: it returned ${dataKey.length} bytes, not 32`);
  }
}

/** Runs `encrypt --format nitro|aliyun`; returns what it did. */
export async function encryptCompatCommand(format: "nitro" | "aliyun", opts: CompatEncryptOptions): Promise<Outcome> {
  return format === "nitro" ? await encryptNitro(opts) : await encryptAliyun(opts);
}

async function encryptNitro(opts: CompatEncryptOptions): Promise<Outcome> {
  if (Object.keys(opts.context).length > 0) {
    throw usageError(
      "encrypt",
      "Encrypting in the Nitro-enclave format failed: -c cannot be used, because kmstool_enclave_cli in the enclave cannot pass an encryption context",
      "drop -c; the key policy's attestation condition is what restricts decryption",
    );
  }
  const keyId = onlyKey(opts.specs, "aws-kms", "Nitro-enclave", "alias/enclavekey");
  if (opts.dir === undefined && (opts.input === undefined || opts.input === "-")) {
    throw usageError(
      "encrypt",
      "Encrypting in the Nitro-enclave format failed: give -d DIR (or one file); the enclave unzips what it gets, so stdin has no name to store",
    );
  }
  const output = opts.output ?? NITRO_DEFAULT_NAME;
  if (output !== "-") await checkWritable(output, opts.force);
  let zipped: ReadableStream<Uint8Array>;
  if (opts.dir !== undefined) {
    await checkDir(opts.dir);
    zipped = zipDirectory(opts.dir, {
      ...dirZipOptions(opts.links ?? "follow", opts.parallelism),
      layout: "make_archive",
    });
  } else {
    zipped = zipSingleFile(opts.input!, basename(opts.input!), { level: DIR_LEVEL, times: true });
  }
  // bytesIn counts the zip the Fernet token holds.
  const read = byteCounter();
  zipped = zipped.pipeThrough(read.stream);
  // The zip streams through Fernet into the output (HMAC last); it never touches the disk.
  const kms = await providerFor("aws-kms", keyId);
  let file: ReadableStream<Uint8Array>;
  let arn: string;
  try {
    const raw = await kms.generateDataKeyRaw();
    arn = raw.keyId;
    try {
      require32(raw.plaintext, `AWS KMS GenerateDataKey with key ${keyId}`);
      // progress() also paces garbage collection, which keeps a long stream's dead buffers from piling up.
      file = await sealNitroStream(
        zipped.pipeThrough(progress("encrypting", undefined, opts.dir !== undefined ? DIR_COLLECT_CALLS : 0)),
        raw.plaintext,
        raw.ciphertextBlob,
      );
    } finally {
      raw.plaintext.fill(0);
    }
  } catch (err) {
    await zipped.cancel().catch(() => {});
    throw err;
  } finally {
    kms.close();
  }
  const written = byteCounter();
  await writeOutput(file.pipeThrough(written.stream), output, { force: opts.force });
  return {
    input: opts.dir ?? opts.input!,
    output,
    format: "nitro-enclave",
    bytesIn: read.bytes,
    bytesOut: written.bytes,
    keys: [{ provider: "aws-kms", keyId: arn }],
  };
}

/** The context string the Alibaba format stores and sends: the JSON of the -c pairs in the order given. */
export function aliyunContextText(context: Record<string, string>): string {
  return JSON.stringify(context);
}

async function encryptAliyun(opts: CompatEncryptOptions): Promise<Outcome> {
  const keyId = onlyKey(opts.specs, "aliyun-kms", "Alibaba-sample", "aliyun-kms:KEY-ID");
  const input = opts.dir === undefined ? (opts.input ?? "-") : undefined;
  let output = opts.output;
  if (output === undefined) {
    if (opts.dir !== undefined) output = opts.dir.replace(/[/\\]+$/, "") + ".zip.encrypted";
    else output = input === "-" ? "-" : input + ".encrypted";
  }
  if (output !== "-") await checkWritable(output, opts.force);
  let source: ReadableStream<Uint8Array>;
  let size: number | undefined;
  if (opts.dir !== undefined) {
    await checkDir(opts.dir);
    source = zipDirectory(opts.dir, dirZipOptions(opts.links ?? "follow", opts.parallelism));
  } else {
    const inp = await openInput(input!);
    source = inp.stream;
    size = inp.size;
  }
  const context = aliyunContextText(opts.context);
  if (context.includes(ALIYUN_SEPARATOR)) {
    // aliDecrypt.py splits on every separator and takes the fifth piece as the context.
    throw usageError(
      "encrypt",
      `Encrypting in the Alibaba-sample format failed: the context contains ${ALIYUN_SEPARATOR}, which the sample's aliDecrypt.py would cut off`,
      `remove ${ALIYUN_SEPARATOR} from the -c names and values (envelope itself reads such files, splitting on the first four separators only)`,
    );
  }
  const kms = await providerFor("aliyun-kms", keyId);
  let transform: TransformStream<Uint8Array, Uint8Array>;
  try {
    const key = await kms.client.generateDataKey({
      keyId,
      keySpec: "AES_256",
      numberOfBytes: 32,
      encryptionContext: context,
    });
    try {
      require32(key.plaintext, `Alibaba Cloud KMS GenerateDataKey with key ${keyId}`);
      transform = await sealAliyunStream({ dataKey: key.plaintext, blob: key.ciphertextBlob, context });
    } finally {
      key.plaintext.fill(0);
    }
  } catch (err) {
    await source.cancel().catch(() => {});
    throw err;
  }
  const read = byteCounter();
  const written = byteCounter();
  await writeOutput(
    source.pipeThrough(read.stream).pipeThrough(
      progress("encrypting", size, opts.dir !== undefined ? DIR_COLLECT_CALLS : 0),
    ).pipeThrough(transform).pipeThrough(
      written.stream,
    ),
    output,
    { force: opts.force },
  );
  return {
    input: opts.dir ?? input!,
    output,
    format: "aliyun-sample",
    bytesIn: read.bytes,
    bytesOut: written.bytes,
    keys: [{ provider: "aliyun-kms", keyId }],
  };
}

function requireContext(
  stored: Record<string, string>,
  wanted: Record<string, string> | undefined,
  format: string,
): void {
  if (wanted === undefined) return;
  if (!sameContext(stored, wanted)) {
    throw new EnvelopeError(
      "CONTEXT_MISMATCH",
      `Decrypting the ${format} file failed: its encryption context differs from the one given with -c`,
      {
        hint: "run `envelope inspect` on the file to see its context",
      },
    );
  }
}

const LABEL: Record<CompatFormat, string> = { nitro: "Nitro-enclave", aliyun: "Alibaba-sample" };

/** True when the request's plaintext goes to stdout, which cannot be withdrawn once written. */
function toStdout(req: DecryptRequest): boolean {
  return req.dir === undefined && (req.output === "-" || (req.output === undefined && req.input === "-"));
}

/**
 * Checks a recognised compatibility format against `--format`: `envelope`
 * refuses it, `nitro`/`aliyun` must match, and `auto` (the default) warns
 * unless a context was required with -c.
 */
function admitFormat(format: CompatFormat, req: DecryptRequest, name: string): void {
  const wanted = req.format ?? "auto";
  if (wanted === "auto") {
    if (req.context === undefined) {
      warn(
        `${name} is a ${
          LABEL[format]
        } file: that format has no key commitment and no authenticated encryption context; pass --format ${format} if you expected it, or --format envelope to refuse other formats`,
      );
    }
    return;
  }
  if (wanted === format) return;
  throw new EnvelopeError(
    "FORMAT_UNKNOWN",
    `Decrypting ${name} failed: it is a ${LABEL[format]} file, not ${
      wanted === "envelope" ? "an envelope" : `a ${LABEL[wanted]}`
    } file as --format ${wanted} requires`,
    {
      hint: `pass --format ${format} (or auto) if you trust this file's source; the ${
        LABEL[format]
      } format has no key commitment and no authenticated context`,
    },
  );
}

/** Runs `decrypt` for a file that is not in the envelope format; returns what it did. */
export async function decryptCompatCommand(peeked: Peeked, req: DecryptRequest, size?: number): Promise<Outcome> {
  const p = await headForDetection(peeked);
  const format = detectFormat(p.head, p.ended);
  const name = req.input === "-" ? "stdin" : req.input;
  try {
    if (format === undefined) throw formatUnknown(name, { head: p.head, whole: p.ended });
    admitFormat(format, req, name);
  } catch (err) {
    await p.stream.cancel().catch(() => {});
    throw err;
  }
  const written = byteCounter();
  let where: string;
  try {
    where = format === "nitro"
      ? await decryptNitro(p, req, written.stream)
      : await decryptAliyun(p, req, written.stream);
  } catch (err) {
    // A check that fails before the input is read (a -c context for a Nitro file, keys that do not load) leaves it
    // open: in a decrypt -r batch that would be one descriptor per file. (A stream a pipe holds is closed by it.)
    await p.stream.cancel().catch(() => {});
    throw err;
  }
  return {
    input: name,
    output: where,
    format: FORMAT_NAME[format],
    bytesIn: size ?? 0,
    bytesOut: written.bytes,
    keys: [],
  };
}

/** The names reports give the compatibility formats (inspect's `format`). */
const FORMAT_NAME: Record<CompatFormat, string> = { nitro: "nitro-enclave", aliyun: "aliyun-sample" };

async function decryptNitro(
  p: Peeked,
  req: DecryptRequest,
  count: TransformStream<Uint8Array, Uint8Array>,
): Promise<string> {
  if (req.context !== undefined) requireContext({}, req.context, "Nitro-enclave");
  // Verified (HMAC over the whole token) before the first plaintext byte, so stdout is safe too.
  // Through progress() both ways, which paces garbage collection on the verifying pass and the decrypting one.
  const opened = await openNitroInput(
    req.input,
    p.stream.pipeThrough(progress("verifying", undefined)),
    req,
    req.maxSize,
  );
  try {
    return await deliver(
      opened.plaintext.pipeThrough(progress("decrypting", undefined)).pipeThrough(count),
      req,
      () => defaultOutputName(req.input, req.suffix),
    );
  } catch (err) {
    await opened.plaintext.cancel().catch(() => {});
    throw err;
  } finally {
    await opened.cleanup();
  }
}

async function decryptAliyun(
  p: Peeked,
  req: DecryptRequest,
  count: TransformStream<Uint8Array, Uint8Array>,
): Promise<string> {
  const src = await scanAliyunInput(req.input, p.stream, req.maxSize);
  try {
    requireContext(contextMap(src.scan.context).map, req.context, "Alibaba-sample");
    // A file output is renamed into place only after the tag verified; stdout gets a tag pass first.
    const plaintext = (await openAliyunInput(src, req, toStdout(req))).pipeThrough(count);
    return await deliver(plaintext, req, () => defaultOutputName(req.input, req.suffix));
  } finally {
    await src.cleanup();
  }
}

/** What `inspect` shows for a compatibility file, from its first bytes (and size, when known). */
export function inspectCompat(head: Uint8Array, size?: number, name = "the file"): Promise<Record<string, unknown>> {
  return Promise.resolve(inspectHead(head, size, name));
}

function inspectHead(head: Uint8Array, size: number | undefined, name: string): Record<string, unknown> {
  const whole = size !== undefined && head.length >= size;
  const format: CompatFormat | undefined = detectFormat(head, whole);
  if (format === undefined) throw formatUnknown(name, { action: "Inspecting", head, whole });
  if (format === "nitro") {
    // A whole file cut short is refused here as its decrypt would refuse it.
    if (whole) checkWholeNitro(head);
    const n = nitroBlobLength(head)!;
    const token = head.subarray(4 + n);
    const info: Record<string, unknown> = {
      format: "nitro-enclave",
      cipher: "Fernet (AES-128-CBC, HMAC-SHA256)",
      wrappedBytes: n,
    };
    const id = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(
      new TextDecoder("latin1").decode(head.subarray(4, 4 + n)),
    );
    if (id) info.blobKeyId = id[0];
    // The same keys[] as an envelope header has: the one KMS blob (its key is named inside it, in the clear).
    info.keys = [{ provider: "aws-kms", keyId: id?.[0] ?? "", wrappedBytes: n }];
    if (size !== undefined) info.tokenBytes = size - 4 - n;
    const ts = tokenTimestamp(token);
    if (ts !== undefined) info.tokenTime = new Date(ts * 1000).toISOString();
    info.context = {};
    info.note = "kmstool_enclave_cli cannot pass an encryption context; nothing here is authenticated until decrypted";
    return info;
  }
  const first = indexOfSep(head);
  const info: Record<string, unknown> = { format: "aliyun-sample", cipher: "AES-GCM, no associated data", keys: [] };
  if (first < 0 || !whole) {
    info.note = `the fields after the ciphertext are beyond the first ${head.length} bytes read; decrypt reads them`;
    return info;
  }
  try {
    const t = parseTrailer(head.subarray(first + ALIYUN_SEPARATOR.length));
    const ctChars = first;
    info.payloadBytes = ctChars / 4 * 3 - (head[ctChars - 1] === 0x3d ? (head[ctChars - 2] === 0x3d ? 2 : 1) : 0);
    info.wrappedChars = t.blob.length;
    info.keys = [{ provider: "aliyun-kms", keyId: "", wrappedBytes: t.blob.length }];
    info.nonceBytes = t.nonce.length;
    const { map, flat } = contextMap(t.context);
    info.context = map;
    if (!flat) info.contextText = t.context;
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    info.problem = err.message;
  }
  return info;
}
