/**
 * Where a decrypted message goes, for every format `decrypt` reads (envelope,
 * Nitro, Alibaba): the request the command parsed, the default output name,
 * and {@linkcode deliver}, which releases the plaintext to a file, stdout or
 * an extracted directory only after it verified.
 *
 * @module
 */
import { mkdtemp, open, rm, stat } from "../host/fs.ts";
import { basename, dirname, join, resolve } from "../host/path.ts";
import type { ExtractLinkPolicy } from "../archive/unzip.ts";
import { EnvelopeError } from "../errors.ts";
import { usageError } from "./args.ts";
import { type FileId, removeOnSignal, sweepStale, tempDirPrefix, writeOutput } from "./files.ts";
import type { TrustOptions } from "./trust_flags.ts";
import { gcPacer } from "./gc.ts";
import { ioError } from "./io_errors.ts";
import { note } from "./output.ts";
import { skipReporter } from "./dir_options.ts";
import { SUFFIX } from "./usage.ts";
import { importLater } from "../import_later.ts";

/** The default output name for `input`: without its `.envl` (or `--suffix`, or Nitro `.encrypted`) suffix. */
export function defaultOutputName(input: string, ours = SUFFIX): string {
  // `.envl` is ours; `.encrypted` is the Nitro sample's (application_code.zip.encrypted).
  for (const suffix of [ours, ".encrypted"]) {
    if (input.endsWith(suffix) && basename(input).length > suffix.length) return input.slice(0, -suffix.length);
  }
  throw usageError(
    "decrypt",
    `Choosing the output name failed: ${input} does not end in ${ours} or .encrypted; pass -o OUTPUT`,
  );
}

/** Options shared by the decrypt paths of every format. */
export interface DecryptRequest {
  readonly input: string;
  /** A walked file of a batch: the file checked before its turn (batch.ts checkTreeInput), which the open must find. */
  readonly inputId?: FileId;
  readonly output?: string;
  readonly dir?: string;
  readonly specs: readonly string[];
  /** `-i FILE`: age identity files. */
  readonly identities?: readonly string[];
  readonly dataKey?: string;
  /** `--verification-key`: require a signed message with exactly this verification key (base64). */
  readonly verificationKey?: string;
  readonly context?: Record<string, string>;
  readonly force: boolean;
  /** `--max-size`: bounds the extracted size with -d, and what a Nitro or Alibaba input (and its spool) may hold. */
  readonly maxSize?: number;
  /** `--format`: which formats to accept (default `auto`: any, warning about the weaker ones). */
  readonly format?: DecryptFormat;
  /** `--require-signed`: refuse an unsigned envelope message (and every compat format, which has no signatures). */
  readonly requireSigned?: boolean;
  /** `--max-attempts` and the discovery filters. */
  readonly trust?: TrustOptions;
  /** `-a`: the input must be armored (armored input is read without it too). */
  readonly armor?: boolean;
  /** `--suffix`: what the default output name drops (default `.envl`). */
  readonly suffix?: string;
  /** `--parallelism`: threads at work on an envelope message (envelope/parallel.ts). */
  readonly parallelism?: number;
  /** Refuse a link or special file at the output (a batch's outputs named after a walked tree). */
  readonly noFollow?: boolean;
  /** `--symlinks` with -d: what becomes of link entries (default refuse). */
  readonly links?: ExtractLinkPolicy;
}

/** The values of `decrypt --format`. */
export type DecryptFormat = "auto" | "envelope" | "nitro" | "aliyun";

/**
 * Writes `plaintext` to the request's destination: a file or stdout, or
 * (with a directory) a temporary archive that is extracted after it verified.
 */
export async function deliver(
  plaintext: ReadableStream<Uint8Array>,
  req: DecryptRequest,
  defaultName: () => string,
): Promise<string> {
  if (req.dir !== undefined) {
    const outDir = resolve(req.dir);
    // Named with our pid, so a later run can tell a killed run's leftovers and sweep them.
    const stale = await sweepStale(dirname(outDir));
    if (stale.length > 0) {
      note(`removed ${stale.length} temporary item(s) left in ${dirname(outDir)} by killed envelope runs`);
    }
    const tmp = await mkdtemp(tempDirPrefix(dirname(outDir), "extract")).catch(async (e) => {
      await plaintext.cancel().catch(() => {}); // closes the input
      throw ioError("Writing", req.dir!, e, "-d");
    });
    const forget = removeOnSignal(tmp);
    // Extracted files wait in a staging folder (inside OUTDIR when it exists): removed on SIGINT/SIGTERM too.
    let forgetStaging: (() => void) | undefined;
    if (await stat(outDir).then((s) => s.isDirectory(), () => false)) {
      const left = await sweepStale(outDir);
      if (left.length > 0) note(`removed ${left.length} temporary item(s) left in ${outDir} by killed envelope runs`);
    }
    try {
      const zipPath = join(tmp, "archive.zip");
      // Not synced: the archive is removed once extracted, and the extracted files are not synced either.
      await writeOutput(plaintext, zipPath, { force: false, mode: 0o600, scratch: true });
      await requireZip(zipPath, req.input);
      // Every 32 MiB of files written. Not also every 512 files any more: small files are inflated through one
      // reused zlib handle (archive/zip_inflate_whole.ts) and leave no native state or buffers to collect, and
      // those collections lowered no peak while costing CPU (user time 1.56-1.62 s with them, 1.10-1.22 without,
      // on the 10,000-file bench tree; 7.3-8.0 s and 1.4-1.9 on 50,000 small files).
      const onBytes = gcPacer(undefined);
      // The zip reader (and node:zlib) load only for a folder: a file's decrypt does not pay for them.
      const { extractZip } = await importLater<typeof import("../archive/unzip.ts")>(
        import.meta.url,
        "../archive/unzip.ts",
      );
      await extractZip(zipPath, outDir, {
        force: req.force,
        maxTotalBytes: req.maxSize,
        onBytes,
        links: req.links,
        onWarning: skipReporter(),
        onStaging: (path) => {
          forgetStaging?.();
          forgetStaging = path === undefined ? undefined : removeOnSignal(path);
        },
      }).catch((e) => {
        throw withMaxSizeHint(e, req.maxSize);
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
      forget();
      forgetStaging?.();
    }
    return req.dir;
  }
  const output = req.output ?? (req.input === "-" ? "-" : defaultName());
  await writeOutput(plaintext, output, { force: req.force, noFollow: req.noFollow });
  return output;
}

/**
 * The library's "over the limit of N bytes" names no flag; the CLI's does.
 * Since `encrypt -d` writes folders of any size, a folder over the default
 * 4 GiB comes back through here.
 */
function withMaxSizeHint(e: unknown, maxSize: number | undefined): unknown {
  // Only the bound on bytes: an entry that expands past its own declared size is damage, which no flag helps.
  if (
    !(e instanceof EnvelopeError) || e.code !== "ARCHIVE_TOO_LARGE" ||
    !/over the limit of \d+|past the limit of \d+/.test(e.message)
  ) {
    return e;
  }
  const bound = maxSize === undefined ? "its default of 4 GiB" : `${maxSize} bytes`;
  return new EnvelopeError("ARCHIVE_TOO_LARGE", e.message, {
    hint: `if you trust the archive, raise --max-size (now ${bound}), for example --max-size 16GiB`,
    cause: e,
  });
}

/**
 * Refuses `-d` for a message that holds a file, not a folder: a zip starts
 * with a local file header (PK 03 04) or, when empty, the end record
 * (PK 05 06). Said plainly, instead of a damaged-archive error.
 */
async function requireZip(zipPath: string, input: string): Promise<void> {
  const head = new Uint8Array(4);
  const fh = await open(zipPath, "r");
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const zip = head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && head[3] === head[2] + 1;
  if (!zip) {
    throw new EnvelopeError(
      "FORMAT_UNKNOWN",
      `Decrypting ${input === "-" ? "stdin" : input} with -d failed: the message holds a file, not a folder`,
      { hint: "drop -d to write the file (-o FILE chooses where); nothing was written" },
    );
  }
}
