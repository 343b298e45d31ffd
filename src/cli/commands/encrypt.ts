/**
 * `envelope encrypt`: a file, stdin or a directory, under a fresh data key.
 *
 * @module
 */
import { realpath } from "../../host/fs.ts";
import { dirname, resolve, sep } from "../../host/path.ts";
import { encrypt, encryptStream } from "../../envelope/encrypt.ts";
import { armorStream } from "../../encoding/armor.ts";
import type { EnvelopeError } from "../../errors.ts";
import type { DataKeyCache } from "../../envelope/cache.ts";
import type { KeyProvider } from "../../keys/provider.ts";
import type { Input } from "../../io/input.ts";
import { parseArgs, parseContext, parseSize, usageError } from "../args.ts";
import { checkDir, checkWritable, type FileId, isLocalPath, openInput, writeBytes, writeOutput } from "../files.ts";
import { checkChunkSize } from "../../format/header.ts";
import { encodeContext } from "../../format/context.ts";
import { defaultEncryptKey, resolveKeys } from "../keyspec.ts";
import { loadRecipientFiles } from "../age_files.ts";
import { BATCH_FLAGS, OBJECT_FLAGS, readJobs, readObjectFlags, type UploadFlags } from "../object_flags.ts";
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
import type { Outcome } from "../batch_tally.ts";
import { traced } from "../trace.ts";
import { loadDefaults } from "../config.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { detail, guardTerminal, note, progress, say } from "../output.ts";
import { DIR_COLLECT_CALLS } from "../gc.ts";
import { PARALLEL_FLAG, readParallelism } from "../parallel_flag.ts";
import { USAGE } from "../usage.ts";
import { importLater } from "../../import_later.ts";
import { dirZipOptions, SYMLINK_FLAG, zipLinks } from "../dir_options.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "dir", short: "d", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "recipients-file", short: "R", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "chunk-size", kind: "string" },
  { name: "format", kind: "string" },
  { name: "sign", kind: "boolean" },
  PARALLEL_FLAG,
  { name: "force", kind: "boolean" },
  { name: "suffix", kind: "string" },
  { name: "armor", short: "a", kind: "boolean" },
  { name: "no-key-cache", kind: "boolean" },
  { name: "skip-existing", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
  SYMLINK_FLAG,
  ...OBJECT_FLAGS,
  ...BATCH_FLAGS,
] as const;

/** Runs `envelope encrypt`; returns the exit code. */
export async function encryptCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "encrypt");
  if (flags.help) {
    say(USAGE.encrypt);
    return 0;
  }
  const format = (flags.format as string | undefined) ?? "envelope";
  const dir = flags.dir as string | undefined;
  if (dir !== undefined && positionals.length > 0) {
    throw usageError("encrypt", "Reading the command line failed: give either INPUT or -d DIR, not both");
  }
  // Flags first; else ENVELOPE_KEYS, .envelope.json found upward, ~/.config/envelope/config.json (config.ts). With
  // keys and context both given nothing is looked up, so no file found upward can stop the run.
  const givenContext = parseContext(flags.context as string[] | undefined, "encrypt");
  const givenKeys = flags.key !== undefined || flags["recipients-file"] !== undefined;
  const defaults = givenKeys && givenContext !== undefined ? {} : await loadDefaults();
  const context = givenContext ?? { ...defaults.context };
  if (givenContext === undefined && defaults.contextFrom) note(`context from ${defaults.contextFrom}`);
  const specs = givenKeys ? ((flags.key as string[] | undefined) ?? []) : [...(defaults.keys ?? [])];
  // For --json: where the keys and context came from, when no flag gave them.
  const said = {
    ...(!givenKeys && defaults.keysFrom ? { keysFrom: defaults.keysFrom } : {}),
    ...(givenContext === undefined && defaults.contextFrom ? { contextFrom: defaults.contextFrom } : {}),
  };
  if (!givenKeys && defaults.keysFrom) note(`keys from ${defaults.keysFrom}: ${specs.join(", ")}`);
  const force = Boolean(flags.force);
  const chunkSize = parseSize(flags["chunk-size"] as string | undefined, "chunk-size", "encrypt");
  const upload = readObjectFlags(flags, "encrypt");
  const suffix = readSuffix(flags.suffix as string | undefined, "encrypt");
  // Read (and so checked) on every run, not only when several files make it matter.
  const jobCount = readJobs(flags, "encrypt");
  const parallelism = readParallelism(flags, "encrypt");
  const links = zipLinks(flags.symlinks as string | undefined);
  if (flags.symlinks !== undefined && (dir === undefined || flags.recursive)) {
    throw usageError("encrypt", "Reading --symlinks failed: it applies to -d DIR (one archive) only");
  }

  if (format !== "envelope") {
    if (flags.armor) throw usageError("encrypt", `Reading --armor failed: the ${format} format has no text armor`);
    if (flags.sign) throw usageError("encrypt", `Reading --sign failed: the ${format} format has no signatures`);
    if (format !== "nitro" && format !== "aliyun") {
      throw usageError("encrypt", `Reading --format failed: "${format}" is not envelope, nitro or aliyun`);
    }
    const { encryptCompatCommand } = await importLater<typeof import("../compat_formats.ts")>(
      import.meta.url,
      "../compat_formats.ts",
    );
    const outcome = await encryptCompatCommand(format, {
      input: positionals[0],
      dir,
      output: flags.output as string | undefined,
      specs,
      context,
      force,
      links,
      parallelism,
    });
    return finishOne("encrypt", "encrypted", outcome, said);
  }

  if (flags.recursive && isObjectUrl((flags.output as string | undefined) ?? "")) {
    // -r DIR -o s3://BUCKET/PREFIX/: one object per file (object_batch.ts).
    const from = dir ?? positionals[0];
    const to = flags.output as string | undefined;
    if (from === undefined || positionals.length + (dir === undefined ? 0 : 1) !== 1 || !to || !isObjectUrl(to)) {
      throw usageError(
        "encrypt",
        "Reading the command line failed: -r takes one DIR and -o s3://BUCKET/PREFIX/ (or oss://)",
      );
    }
    if (chunkSize !== undefined) checkChunkSize(chunkSize);
    encodeContext(context);
    const recipients = await loadRecipientFiles((flags["recipients-file"] as string[] | undefined) ?? []);
    const keys = specs.length + recipients.length > 0
      ? [...await resolveKeys(specs), ...recipients]
      : [await defaultEncryptKey()];
    const { encryptMany } = await importLater<typeof import("../object_batch.ts")>(
      import.meta.url,
      "../object_batch.ts",
    );
    return await encryptMany({
      dir: from,
      output: to,
      keys,
      context,
      chunkSize,
      sign: Boolean(flags.sign),
      force,
      jobs: jobCount,
      upload,
    });
  }

  // Everything that can be checked is checked before a key is loaded or created.
  if (chunkSize !== undefined) {
    try {
      checkChunkSize(chunkSize);
    } catch (e) {
      // A chunk size outside the format's limits is a usage error (exit 2), as a malformed one is.
      throw usageError("encrypt", `Reading --chunk-size failed: ${(e as Error).message}`, (e as EnvelopeError).hint);
    }
  }
  encodeContext(context);
  const loadKeys = async (): Promise<KeyProvider[]> => {
    const recipients = await loadRecipientFiles((flags["recipients-file"] as string[] | undefined) ?? []);
    const keys = specs.length + recipients.length > 0
      ? [...await resolveKeys(specs), ...recipients]
      : [await defaultEncryptKey()];
    return traced(keys);
  };
  const common = {
    context,
    chunkSize,
    sign: Boolean(flags.sign),
    force,
    upload,
    armor: Boolean(flags.armor),
    parallelism,
    links,
  };

  if (positionals.length > 1 || (flags.recursive && dir === undefined)) {
    // Several inputs, or -r DIR...: one output per file, beside it or under -o DIR.
    const outDir = flags.output as string | undefined;
    checkBatchOutput("encrypt", outDir, Boolean(flags.recursive), positionals.length);
    const options = batchOptions(flags, jobCount);
    const plan = await planFiles(positionals, Boolean(flags.recursive), outDir, {
      command: "encrypt",
      keep: (rel) => !rel.endsWith(suffix),
      outputRel: (rel) => rel + suffix,
      outputOf: (input) => input + suffix,
      folderHint: "use -r to encrypt each file in it, or -d to encrypt it as one archive",
    }, options.skipExisting);
    const keys = await loadKeys();
    return await runBatch(
      "encrypt",
      "encrypted",
      plan,
      options,
      (j, cache) => encryptOne({ ...common, ...j, keys, cache }),
      said,
    );
  }

  refuseSkipExisting("encrypt", Boolean(flags["skip-existing"]));
  const input = dir === undefined ? (positionals[0] ?? "-") : undefined;
  let output = flags.output as string | undefined;
  if (output === undefined) {
    if (dir !== undefined) output = dir.replace(/[/\\]+$/, "") + ".zip" + suffix;
    else output = input === "-" ? "-" : input + suffix;
  }

  // Armor is text: it may go to a terminal.
  guardTerminal("encrypt", { input, output, explicitOutput: flags.output !== undefined || Boolean(flags.armor) });
  if (dir !== undefined) {
    const root = resolve(dir) + sep;
    // As typed, and through links (-o alias/out.envl where alias leads into DIR): the real folders are compared.
    const realRoot = await realpath(dir).then((p) => p + sep, () => root);
    const realOut = isLocalPath(output)
      ? await realpath(dirname(resolve(output))).then((p) => p + sep, () => resolve(output))
      : "";
    if (isLocalPath(output) && (resolve(output).startsWith(root) || realOut.startsWith(realRoot))) {
      throw usageError(
        "encrypt",
        `Encrypting ${dir} failed: the output ${output} is inside the directory being encrypted`,
        "write the output outside the directory (the default is DIR.zip.envl beside it)",
      );
    }
  }
  const outcome = await encryptOne({ ...common, input: input ?? dir!, dir, output, keys: loadKeys });
  return finishOne("encrypt", "encrypted", outcome, said);
}

/** One file (or stdin, or a -d folder) to encrypt. */
interface EncryptJob {
  readonly input: string;
  /** Set for -d: the folder, zipped on the fly. */
  readonly dir?: string;
  readonly output: string;
  /** The keys, or how to load them once the input and output checked out. */
  readonly keys: readonly KeyProvider[] | (() => Promise<KeyProvider[]>);
  readonly context: Record<string, string>;
  readonly chunkSize?: number;
  readonly sign: boolean;
  /** `--parallelism`: threads at work on the message (envelope/parallel.ts). */
  readonly parallelism?: number;
  readonly force: boolean;
  readonly upload: UploadFlags;
  readonly cache?: DataKeyCache;
  /** `--symlinks` with -d: what becomes of links in the folder. */
  readonly links?: ReturnType<typeof zipLinks>;
  /** `-a`: write the text armor (docs/FORMAT.md §11). */
  readonly armor?: boolean;
  /** Create the output's folder (for -r DIR -o OUTDIR). */
  readonly makeParent?: boolean;
  /** A walked file: the file the batch checked (batch.ts checkTreeInput), which the open must find again. */
  readonly inputId?: FileId;
  /** Set when the output is named after a walked tree (`-r`): see batch.ts prepareOutput. */
  readonly root?: string;
}

/** Encrypts one input to one output; what it did, for the report. */
async function encryptOne(job: EncryptJob): Promise<Outcome> {
  // A folder's zip, or a file or stdin: a small one (most of a batch's) is read whole and sealed as bytes with no
  // stream made (a file at once, stdin once the checks below have passed, since its read may wait).
  let zipped: ReadableStream<Uint8Array> | undefined;
  let input: Input | undefined;
  const whole = job.dir === undefined && !job.armor && !isObjectUrl(job.output);
  if (job.dir !== undefined) {
    await checkDir(job.dir);
    // The zip writer (and fflate) load only for a folder: a file's encrypt does not pay for them.
    const { zipDirectory } = await importLater<typeof import("../../archive/zip.ts")>(
      import.meta.url,
      "../../archive/zip.ts",
    );
    zipped = zipDirectory(job.dir, dirZipOptions(job.links ?? zipLinks(undefined), job.parallelism));
  } else {
    input = await openInput(job.input, { whole: whole ? WHOLE_BYTES : 0, expect: job.inputId });
  }
  let keys: readonly KeyProvider[];
  try {
    await prepareOutput(job);
    // Checked before the keys load (and a default key is made); in a batch the keys are loaded already and
    // writeOutput checks the output as it opens it, so the early check would only stat it twice.
    if (job.output !== "-" && typeof job.keys === "function") await checkWritable(job.output, job.force);
    keys = typeof job.keys === "function" ? await job.keys() : job.keys;
  } catch (e) {
    // What holds a file open is closed; stdin not yet read (readWhole) holds nothing, and is left unread.
    const open = zipped ?? (input?.bytes === undefined && !input?.readWhole ? input?.stream : undefined);
    await open?.cancel().catch(() => {});
    throw e;
  }
  if (whole && input?.readWhole) input = await input.readWhole(WHOLE_BYTES);
  const source = zipped ?? input!.bytes ?? input!.stream;
  const size = input?.size;
  const started = performance.now();
  if (source instanceof Uint8Array) {
    // Sealed as bytes: the stream pipeline's set-up and release (five pipes, each taking and releasing a reader and
    // a writer) cost about as much as sealing 4 KiB. A file that turned out larger than it said (it grew) came as a
    // stream, with what was read.
    const message = await encrypt(source, {
      keys,
      context: job.context,
      chunkSize: job.chunkSize,
      sign: job.sign,
      cache: job.cache,
    });
    await writeBytes(message, job.output, { force: job.force, noFollow: job.root !== undefined });
    return outcome(job, keys, source.length, message.length, started);
  }
  const read = byteCounter();
  const written = byteCounter();
  const sealed = source
    .pipeThrough(read.stream)
    .pipeThrough(progress("encrypting", size, job.dir !== undefined ? DIR_COLLECT_CALLS : 0))
    .pipeThrough(
      encryptStream({
        keys,
        context: job.context,
        chunkSize: job.chunkSize,
        plaintextLength: size,
        sign: job.sign,
        cache: size === undefined ? undefined : job.cache,
        // With -d, the threads go to the zip (dir_options.ts zipWorkers), which leaves this one mostly idle: the
        // chunks are sealed here, and a chunk worker's heap and messages are saved.
        parallelism: job.dir !== undefined ? 1 : job.parallelism,
      }),
    );
  const text = job.armor ? sealed.pipeThrough(armorStream()) : sealed;
  const out = text.pipeThrough(written.stream);
  // For an s3:// or oss:// output: the upload flags, and a size bound (tags and header) to choose the part size.
  const expectedSize = size === undefined
    ? undefined
    : size + Math.ceil(size / (job.chunkSize ?? 65536) + 1) * 16 + 400_000;
  await writeOutput(out, job.output, {
    force: job.force,
    noFollow: job.root !== undefined,
    upload: job.upload,
    expectedSize: expectedSize === undefined
      ? undefined
      : (job.armor ? Math.ceil(expectedSize * 65 / 48) + 100 : expectedSize),
  });
  return outcome(job, keys, read.bytes, written.bytes, started);
}

/** Inputs of at most this many bytes are sealed whole ({@linkcode encryptOne}): one default chunk. */
const WHOLE_BYTES = 64 * 1024;

/** What encrypting `job` did, for the report, said under `-v` with the time since `started`. */
function outcome(
  job: EncryptJob,
  keys: readonly KeyProvider[],
  bytesIn: number,
  bytesOut: number,
  started: number,
): Outcome {
  detail(`encrypted ${job.input}: ${bytesIn} bytes in ${Math.round(performance.now() - started)} ms`);
  return {
    input: job.input,
    output: job.output,
    format: "envelope",
    bytesIn,
    bytesOut,
    keys: keys.map((k) => ({ provider: k.provider, keyId: k.keyId })),
  };
}
