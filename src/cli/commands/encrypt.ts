/**
 * `envelope encrypt`: a file, stdin or a directory, under a fresh data key.
 *
 * @module
 */
import { resolve, sep } from "node:path";
import { zipDirectory } from "../../archive/zip.ts";
import { encryptStream } from "../../envelope/encrypt.ts";
import type { EnvelopeError } from "../../errors.ts";
import { parseArgs, parseContext, parseSize, usageError } from "../args.ts";
import { checkDir, checkWritable, openInput, writeOutput } from "../files.ts";
import { checkChunkSize } from "../../format/header.ts";
import { encodeContext } from "../../format/context.ts";
import { defaultEncryptKey, resolveKeys } from "../keyspec.ts";
import { loadRecipientFiles } from "../age_files.ts";
import { BATCH_FLAGS, OBJECT_FLAGS, readJobs, readObjectFlags } from "../object_flags.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { guardTerminal, progress, say } from "../output.ts";
import { SUFFIX, USAGE } from "../usage.ts";
import { dirZipOptions, SYMLINK_FLAG, zipLinks } from "../dir_options.ts";

const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "dir", short: "d", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "recipients-file", short: "R", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "chunk-size", kind: "string" },
  { name: "format", kind: "string" },
  { name: "sign", kind: "boolean" },
  { name: "force", kind: "boolean" },
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
  if (positionals.length > 1) throw usageError("encrypt", "Reading the command line failed: give one INPUT at most");
  if (dir !== undefined && positionals.length > 0) {
    throw usageError("encrypt", "Reading the command line failed: give either INPUT or -d DIR, not both");
  }
  const context = parseContext(flags.context as string[] | undefined, "encrypt") ?? {};
  const specs = (flags.key as string[] | undefined) ?? [];
  const force = Boolean(flags.force);
  const chunkSize = parseSize(flags["chunk-size"] as string | undefined, "chunk-size", "encrypt");
  const upload = readObjectFlags(flags, "encrypt");
  const links = zipLinks(flags.symlinks as string | undefined);
  if (flags.symlinks !== undefined && (dir === undefined || flags.recursive)) {
    throw usageError("encrypt", "Reading --symlinks failed: it applies to -d DIR (one archive) only");
  }

  if (format !== "envelope") {
    if (flags.sign) throw usageError("encrypt", `Reading --sign failed: the ${format} format has no signatures`);
    if (format !== "nitro" && format !== "aliyun") {
      throw usageError("encrypt", `Reading --format failed: "${format}" is not envelope, nitro or aliyun`);
    }
    const { encryptCompatCommand } = await import("../compat_formats.ts");
    return await encryptCompatCommand(format, {
      input: positionals[0],
      dir,
      output: flags.output as string | undefined,
      specs,
      context,
      force,
      links,
    });
  }

  if (flags.recursive) {
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
    const { encryptMany } = await import("../object_batch.ts");
    return await encryptMany({
      dir: from,
      output: to,
      keys,
      context,
      chunkSize,
      sign: Boolean(flags.sign),
      force,
      jobs: readJobs(flags, "encrypt"),
      upload,
    });
  }

  const input = dir === undefined ? (positionals[0] ?? "-") : undefined;
  let output = flags.output as string | undefined;
  if (output === undefined) {
    if (dir !== undefined) output = dir.replace(/[/\\]+$/, "") + ".zip" + SUFFIX;
    else output = input === "-" ? "-" : input + SUFFIX;
  }

  guardTerminal("encrypt", { input, output, explicitOutput: flags.output !== undefined });
  if (dir !== undefined) {
    const root = resolve(dir) + sep;
    if (output !== "-" && !isObjectUrl(output) && resolve(output).startsWith(root)) {
      throw usageError(
        "encrypt",
        `Encrypting ${dir} failed: the output ${output} is inside the directory being encrypted`,
        "write the output outside the directory (the default is DIR.zip.envl beside it)",
      );
    }
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
  let source: ReadableStream<Uint8Array>;
  let size: number | undefined;
  if (dir !== undefined) {
    await checkDir(dir);
    source = zipDirectory(dir, dirZipOptions(links));
  } else {
    const inp = await openInput(input!);
    source = inp.stream;
    size = inp.size;
  }
  let keys;
  try {
    if (output !== "-") await checkWritable(output, force);
    const recipients = await loadRecipientFiles((flags["recipients-file"] as string[] | undefined) ?? []);
    keys = specs.length + recipients.length > 0
      ? [...await resolveKeys(specs), ...recipients]
      : [await defaultEncryptKey()];
  } catch (e) {
    await source.cancel().catch(() => {});
    throw e;
  }
  const sealed = source
    .pipeThrough(progress("encrypting", size))
    .pipeThrough(encryptStream({ keys, context, chunkSize, plaintextLength: size, sign: Boolean(flags.sign) }));
  // For an s3:// or oss:// output: the upload flags, and a size bound (tags and header) to choose the part size.
  const expectedSize = size === undefined
    ? undefined
    : size + Math.ceil(size / (chunkSize ?? 65536) + 1) * 16 + 400_000;
  await writeOutput(sealed, output, { force, upload, expectedSize });
  if (output !== "-") say(`encrypted to ${output}`);
  return 0;
}
