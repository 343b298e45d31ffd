/**
 * `envelope decrypt`: any format envelope reads, to a file, stdout or a
 * directory, releasing output only after it verified.
 *
 * @module
 */
import { decrypt, decryptStream } from "../../envelope/decrypt.ts";
import { EnvelopeError } from "../../errors.ts";
import { hasMagic, parseHeader, tryParseHeader } from "../../format/header.ts";
import { MAGIC } from "../../format/limits.ts";
import type { KeyProvider } from "../../keys/provider.ts";
import { RawDataKey } from "../../keys/raw.ts";
import { getEnv } from "../../host/env.ts";
import { parseArgs, parseContext, parseSize, usageError } from "../args.ts";
import { readSecretFile } from "../secret_file.ts";
import { isLocalPath, openInput, WHOLE_MESSAGE_BYTES, writeBytes } from "../files.ts";
import { readTrustFlags, TRUST_FLAGS } from "../trust_flags.ts";
import { peek, peekedWhole } from "../../io/header_peek.ts";
import { BATCH_FLAGS, readJobs } from "../object_flags.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { automaticKeys, KEY_FORMS, resolveKeys } from "../keyspec.ts";
import { loadIdentityFiles } from "../age_files.ts";
import { detail, guardTerminal, progress, say } from "../output.ts";
import { PARALLEL_FLAG, readParallelism } from "../parallel_flag.ts";
import { dearmored } from "../armor_input.ts";
import {
  batchOptions,
  byteCounter,
  checkBatchOutput,
  finishOne,
  planFiles,
  prepareOutput,
  readSuffix,
  refuseSkipExisting,
  runBatch,
} from "../batch.ts";
import type { KeyName, Outcome } from "../batch_tally.ts";
import { traced } from "../trace.ts";
import type { DataKeyCache } from "../../envelope/cache.ts";
import type { Header } from "../../format/header.ts";
import { stat } from "../../host/fs.ts";
import { basename } from "../../host/path.ts";
import { USAGE } from "../usage.ts";
import { type DecryptFormat, type DecryptRequest, defaultOutputName, deliver } from "../deliver.ts";
import { importLater } from "../../import_later.ts";
import { extractLinks, SYMLINK_FLAG } from "../dir_options.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "dir", short: "d", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "identity", short: "i", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "data-key", kind: "string" },
  { name: "data-key-file", kind: "string" },
  { name: "verification-key", kind: "string" },
  { name: "max-size", kind: "string" },
  { name: "format", kind: "string" },
  { name: "require-signed", kind: "boolean" },
  PARALLEL_FLAG,
  { name: "force", kind: "boolean" },
  { name: "suffix", kind: "string" },
  { name: "armor", short: "a", kind: "boolean" },
  { name: "no-key-cache", kind: "boolean" },
  { name: "skip-existing", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
  SYMLINK_FLAG,
  ...BATCH_FLAGS,
  ...TRUST_FLAGS,
] as const;

const FORMATS: readonly DecryptFormat[] = ["auto", "envelope", "nitro", "aliyun"];

/** The keys to decrypt with: `--data-key` and `-k` as given, else what the header names. */
export async function decryptionKeys(
  req: DecryptRequest,
  headerKeys: readonly { provider: string }[],
): Promise<KeyProvider[]> {
  const keys: KeyProvider[] = [];
  if (req.dataKey !== undefined) keys.push(await RawDataKey.create(req.dataKey));
  keys.push(...await resolveKeys(req.specs));
  keys.push(...await loadIdentityFiles(req.identities ?? []));
  return keys.length > 0 ? keys : await automaticKeys(headerKeys, req.trust);
}

/**
 * The data key from `--data-key` (which `ps` shows), `--data-key-file F`, or
 * the ENVELOPE_DATA_KEY variable, in that order; both flags at once is a
 * usage error.
 */
async function dataKeyOption(flags: Record<string, unknown>): Promise<string | undefined> {
  const inline = flags["data-key"] as string | undefined;
  const file = flags["data-key-file"] as string | undefined;
  if (inline !== undefined && file !== undefined) {
    throw usageError("decrypt", "Reading the command line failed: give either --data-key or --data-key-file, not both");
  }
  if (file !== undefined) return await readSecretFile(file, "the data key file");
  if (inline !== undefined) return inline;
  const fromEnv = getEnv("ENVELOPE_DATA_KEY");
  return fromEnv ? fromEnv : undefined;
}

function parseFormat(text: string | undefined): DecryptFormat | undefined {
  if (text === undefined) return undefined;
  if (!(FORMATS as readonly string[]).includes(text)) {
    throw usageError("decrypt", `Reading --format failed: "${text}" is not ${FORMATS.join(", ")}`);
  }
  return text as DecryptFormat;
}

/** Runs `envelope decrypt`; returns the exit code. */
export async function decryptCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "decrypt");
  if (flags.help) {
    say(USAGE.decrypt);
    return 0;
  }
  if (flags.dir !== undefined && flags.output !== undefined) {
    throw usageError("decrypt", "Reading the command line failed: give either -o or -d, not both");
  }
  const suffix = readSuffix(flags.suffix as string | undefined, "decrypt");
  // Read (and so checked) on every run, not only when several files make it matter.
  const jobCount = readJobs(flags, "decrypt");
  const req: DecryptRequest = {
    input: positionals[0] ?? "-",
    output: flags.output as string | undefined,
    dir: flags.dir as string | undefined,
    specs: (flags.key as string[] | undefined) ?? [],
    identities: flags.identity as string[] | undefined,
    dataKey: await dataKeyOption(flags),
    verificationKey: flags["verification-key"] as string | undefined,
    context: parseContext(flags.context as string[] | undefined, "decrypt"),
    force: Boolean(flags.force),
    maxSize: parseSize(flags["max-size"] as string | undefined, "max-size", "decrypt"),
    format: parseFormat(flags.format as string | undefined),
    requireSigned: Boolean(flags["require-signed"]),
    trust: readTrustFlags(flags, "decrypt"),
    suffix,
    armor: Boolean(flags.armor),
    parallelism: readParallelism(flags, "decrypt"),
    links: extractLinks(flags.symlinks as string | undefined),
  };
  if (flags.symlinks !== undefined && req.dir === undefined) {
    throw usageError("decrypt", "Reading --symlinks failed: it applies to -d OUTDIR only");
  }
  if (flags.recursive && isObjectUrl(req.input)) {
    // -r s3://BUCKET/PREFIX/ -o DIR: one file per .envl object (object_batch.ts).
    if (req.output === undefined || req.dir !== undefined) {
      throw usageError(
        "decrypt",
        "Reading the command line failed: -r takes s3://BUCKET/PREFIX/ (or oss://) and -o DIR",
      );
    }
    const { decryptMany } = await importLater<typeof import("../object_batch.ts")>(
      import.meta.url,
      "../object_batch.ts",
    );
    const keysFor = reusingKeys(req);
    return await decryptMany({
      input: req.input,
      outDir: req.output,
      force: req.force,
      jobs: jobCount,
      keysFor,
      context: req.context,
      requireSigned: req.requireSigned,
      maxAttempts: req.trust?.maxAttempts,
    });
  }
  if (positionals.length > 1 || flags.recursive) {
    // Several inputs, or -r DIR...: one output per file, beside it (the suffix stripped) or under -o DIR.
    if (req.dir !== undefined) {
      throw usageError("decrypt", "Reading the command line failed: -d extracts one archive; give one INPUT with it");
    }
    checkBatchOutput("decrypt", req.output, Boolean(flags.recursive), positionals.length);
    const options = batchOptions(flags, jobCount);
    const plan = await planFiles(positionals, Boolean(flags.recursive), req.output, {
      command: "decrypt",
      keep: (rel) => rel.endsWith(suffix) && basename(rel).length > suffix.length,
      outputRel: (rel) => rel.slice(0, -suffix.length),
      outputOf: (input) => defaultOutputName(input, suffix),
      folderHint: "use -r to decrypt each file in it",
    }, options.skipExisting);
    const keysFor = reusingKeys(req);
    return await runBatch(
      "decrypt",
      "decrypted",
      plan,
      options,
      async (j, cache) => {
        await prepareOutput(j);
        return await decryptOne(
          { ...req, input: j.input, output: j.output, noFollow: j.root !== undefined, inputId: j.inputId },
          keysFor,
          cache,
        );
      },
    );
  }
  refuseSkipExisting("decrypt", Boolean(flags["skip-existing"]));
  if (isLocalPath(req.input) && (await stat(req.input).catch(() => undefined))?.isDirectory()) {
    throw usageError("decrypt", `Decrypting ${req.input} failed: it is a folder`, "use -r to decrypt each file in it");
  }
  if (req.output === undefined && req.dir === undefined && req.input !== "-") defaultOutputName(req.input, suffix);
  guardTerminal("decrypt", {
    input: req.input,
    output: req.dir === undefined ? (req.output ?? (req.input === "-" ? "-" : undefined)) : undefined,
    explicitOutput: req.output !== undefined,
  });
  const outcome = await decryptOne(req, async (headerKeys) => traced(await decryptionKeys(req, headerKeys)));
  return finishOne("decrypt", "decrypted", outcome);
}

/**
 * The keys for a batch: the explicit ones loaded once, and the automatic
 * ones once per provider name, so every file offers the same provider
 * objects (the data-key cache is partitioned by provider object).
 */
function reusingKeys(req: DecryptRequest): (headerKeys: readonly { provider: string }[]) => Promise<KeyProvider[]> {
  let explicit: Promise<KeyProvider[]> | undefined;
  const automatic = new Map<string, Promise<KeyProvider[]>>();
  return async (headerKeys) => {
    explicit ??= decryptionKeys(req, []).then((k) =>
      req.dataKey !== undefined || req.specs.length > 0 ||
        (req.identities?.length ?? 0) > 0
        ? traced(k)
        : []
    );
    const given = await explicit;
    if (given.length > 0) return given;
    const out: KeyProvider[] = [];
    for (const name of new Set(headerKeys.map((k) => k.provider))) {
      if (!automatic.has(name)) automatic.set(name, automaticKeys([{ provider: name }], req.trust).then(traced));
      out.push(...await automatic.get(name)!);
    }
    return out;
  };
}

/** Decrypts one input as the request says; what it did, for the report. */
async function decryptOne(
  req: DecryptRequest,
  keysFor: (headerKeys: readonly { provider: string; keyId: string }[]) => Promise<KeyProvider[]>,
  cache?: DataKeyCache,
): Promise<Outcome> {
  const output = req.output ?? (req.input === "-" ? "-" : undefined);
  // A small message (most of a batch's) is read whole and opened as bytes (below), with no stream made.
  const whole = req.dir === undefined && (output === undefined || !isObjectUrl(output)) ? WHOLE_MESSAGE_BYTES : 0;
  const input = await dearmored(await openInput(req.input, { whole, expect: req.inputId }), req.armor);
  const enough = (h: Uint8Array) =>
    h.length >= 4096 || (h.length >= MAGIC.length && hasMagic(h) && typeof tryParseHeader(h) !== "number");
  const peeked = input.bytes !== undefined
    ? peekedWhole(input.bytes, () => input.stream, enough)
    : await peek(input.stream, enough);
  if (!hasMagic(peeked.head)) {
    if (req.requireSigned) {
      await peeked.stream.cancel().catch(() => {});
      throw new EnvelopeError(
        "SIGNATURE_REQUIRED",
        `Decrypting ${input.name} failed: it is not an envelope message, and only signed envelope messages are accepted`,
        { hint: "the Nitro and Alibaba formats have no signatures; decrypt without --require-signed if you trust it" },
      );
    }
    const { decryptCompatCommand } = await importLater<typeof import("../compat_formats.ts")>(
      import.meta.url,
      "../compat_formats.ts",
    );
    return await decryptCompatCommand(peeked, req, input.size);
  }
  if (req.format === "nitro" || req.format === "aliyun") {
    await peeked.stream.cancel().catch(() => {});
    throw new EnvelopeError(
      "FORMAT_UNKNOWN",
      `Decrypting ${input.name} failed: it is an envelope file, not the ${req.format} format --format asks for`,
      { hint: "pass --format envelope or auto" },
    );
  }
  const parsed = tryParseHeader(peeked.head);
  if (typeof parsed === "number" && peeked.ended) {
    // The whole input is shorter than its header: cut, whatever keys there are (parseHeader says so, typed).
    await peeked.stream.cancel().catch(() => {});
    parseHeader(peeked.head);
  }
  const headerKeys = typeof parsed === "number" ? [] : parsed.keys;
  let keys: KeyProvider[];
  try {
    keys = await keysFor(headerKeys);
  } catch (e) {
    // The input is open: a batch whose keys fail to load must not keep one descriptor per file (a review found
    // "Too many open files" after a few hundred files with a missing key file).
    await peeked.stream.cancel().catch(() => {});
    throw e;
  }
  if (keys.length === 0) {
    await peeked.stream.cancel().catch(() => {});
    throw new EnvelopeError("NO_KEY_MATCHED", `Decrypting ${input.name} failed: no key is available for this file`, {
      hint: `its wrapped keys are ${
        headerKeys.map((k) => `${k.provider}:${k.keyId}`).join(", ") || "unknown"
      }; pass one with -k (${KEY_FORMS}), -i FILE (an age identity) or --data-key`,
    });
  }
  let opened: KeyName[] = [];
  const started = performance.now();
  const done = (output: string, bytesIn: number, bytesOut: number): Outcome => {
    detail(`decrypted ${input.name}: ${bytesOut} bytes in ${Math.round(performance.now() - started)} ms`);
    return { input: input.name, output, format: "envelope", bytesIn, bytesOut, keys: opened };
  };
  const onKeyOpened = (k: { readonly provider: string; readonly keyId: string }) => {
    opened = [{ provider: k.provider, keyId: k.keyId }];
    detail(`${input.name} opened with ${k.provider}:${k.keyId}`);
  };
  // How the message is opened, whole or streamed.
  const opening = {
    keys,
    context: req.context,
    requireSigned: req.requireSigned,
    maxAttempts: req.trust?.maxAttempts,
    verificationKey: req.verificationKey,
    cache,
    onKeyOpened,
  };
  if (input.bytes !== undefined) {
    // Opened as bytes: no stream pipeline to set up and release (encrypt.ts encryptOne says what that costs). Every
    // byte is verified before any is written, as on the stream path. A file that held more than it said, or an
    // armored one, came as a stream.
    const plaintext = await decrypt(input.bytes, opening);
    const where = output ?? defaultOutputName(req.input, req.suffix);
    await writeBytes(plaintext, where, { force: req.force, noFollow: req.noFollow });
    return done(where, input.bytes.length, plaintext.length);
  }
  const read = byteCounter();
  const written = byteCounter();
  const plaintext = peeked.stream
    .pipeThrough(read.stream)
    .pipeThrough(decryptStream({ ...opening, parallelism: req.parallelism }))
    .pipeThrough(progress("decrypting", typeof parsed === "number" ? undefined : plaintextSize(parsed, input.size)))
    .pipeThrough(written.stream);
  const where = await deliver(plaintext, req, () => defaultOutputName(req.input, req.suffix));
  return done(where, read.bytes, written.bytes);
}

/** About how many plaintext bytes a message of `size` bytes holds (for the progress bar). */
function plaintextSize(header: Header, size: number | undefined): number | undefined {
  if (size === undefined) return undefined;
  const body = Math.max(0, size - header.length);
  const chunks = Math.max(1, Math.ceil(body / (header.chunkSize + 16)));
  return Math.max(0, body - chunks * 16);
}
