/**
 * Many inputs in one run, and what every run reports. `encrypt a b c`,
 * `encrypt -r DIR`, `decrypt -r DIR` and their object-store twins
 * (object_batch.ts) run their files through {@linkcode runAll}: `--jobs` at
 * once, one file's failure reported without stopping the others, a line per
 * file as it ends, and a summary. Single-file runs report through
 * {@linkcode finishOne}, so `--json` has one shape for every command that
 * writes files:
 *
 * ```json
 * { "command": "encrypt", "ok": true, "files": [ { "input": "a", "output": "a.envl",
 *   "format": "envelope", "bytesIn": 3, "bytesOut": 240, "keys": [ { "provider": "local", "keyId": "…" } ] } ],
 *   "failed": [], "bytesIn": 3, "bytesOut": 240 }
 * ```
 *
 * A batch's memory does not grow with its number of files: a folder is
 * counted first (for `[i/N]`, keeping no path) and walked again as the run
 * takes its files (walk_files.ts), and without `--json` the run keeps
 * counters only (batch_tally.ts says why `--json` keeps its entries).
 *
 * @module
 */
import { lstat, mkdir, realpath, stat, statSync } from "../host/fs.ts";
import { dirname, isAbsolute, join, relative, resolve, sep } from "../host/path.ts";
import { DataKeyCache } from "../envelope/cache.ts";
import { setSeveralInFlight } from "../envelope/chunks.ts";
import { EnvelopeError } from "../errors.ts";
import { usageError } from "./args.ts";
import { withCommandFlags } from "./key_hints.ts";
import { SUFFIX } from "./usage.ts";
import { escapeControls as esc, formatBytes, note, report, reportError, status } from "./output.ts";
import { type Outcome, Tally } from "./batch_tally.ts";
import { countFiles, SWAPPED_HINT, walkItems, type WalkOptions } from "./walk_files.ts";
import { exists, type FileId } from "./files.ts";
import { ioError } from "./io_errors.ts";

/**
 * `--skip-existing`: `jobs` less those whose output exists, each checked
 * when its turn comes (just before it would start) and counted in `tally`
 * as skipped, so `encrypt -r DIR` can be run again for what is new. An
 * output that appears between that check and its write still fails with
 * OUTPUT_EXISTS, as without the flag.
 */
export async function* withoutExisting(jobs: AsyncIterable<FileJob>, tally: Tally): AsyncGenerator<FileJob> {
  for await (const j of jobs) {
    if (j.unreadable === undefined && await exists(j.output)) tally.addSkipped(j);
    else yield j;
  }
}

/** A TransformStream that counts the bytes through it. */
export function byteCounter(): { stream: TransformStream<Uint8Array, Uint8Array>; readonly bytes: number } {
  let bytes = 0;
  return {
    stream: new TransformStream({
      transform(chunk, controller) {
        bytes += chunk.length;
        controller.enqueue(chunk);
      },
    }),
    get bytes() {
      return bytes;
    },
  };
}

/** How {@linkcode runAll} runs its items. */
export interface RunAllOptions<T> {
  /** How many items there are, for each line's `[i/N]` (counted before the run). */
  readonly total: number;
  /** Slots: items at once, or with `cost`, the weight that may run at once. */
  readonly jobs: number;
  /** How an item is named when it failed. */
  readonly name: (t: T) => string;
  readonly work: (t: T) => Promise<Outcome>;
  /** `encrypted` or `decrypted`, for each line. */
  readonly verb: string;
  /** The slots an item takes (at most all of them); each takes one without it. */
  readonly cost?: (t: T) => number;
  /** Where the counts go (and with `--json` the entries); a new one by default. */
  readonly tally?: Tally;
}

/**
 * Runs `work` over `items`, in order, taking them one at a time as slots
 * free up, `jobs` at a time; with `cost`, items weigh `cost(item)` of the
 * `jobs` slots each (at most all of them), and one starts once enough slots
 * are free. Each outcome is printed as it ends (`[2/9] encrypted a to
 * a.envl`); each failure is printed with its error and hint and does not
 * stop the rest. Only the counts are kept, unless the tally lists (for
 * `--json`): no item and no outcome outlives its turn.
 */
export async function runAll<T>(items: AsyncIterable<T> | Iterable<T>, options: RunAllOptions<T>): Promise<Tally> {
  const { total, name, work, verb, cost } = options;
  const tally = options.tally ?? new Tally();
  const width = String(total).length;
  const count = () => `[${String(tally.done + tally.failed).padStart(width)}/${total}]`;
  const one = async (item: T, at: number) => {
    try {
      const o = await work(item);
      tally.addDone(o, at);
      status(`${count()} ${verb} ${esc(o.input)} to ${esc(o.output)}`);
    } catch (e) {
      const input = name(item);
      tally.addFailed({
        input,
        code: e instanceof EnvelopeError ? e.code : "UNEXPECTED",
        message: e instanceof Error ? e.message : String(e),
      }, at);
      status(`${count()} FAILED ${esc(input)}`);
      // Key hints name the flags of the command that ran, as main.ts does for a single file; the error line names
      // its file, so a log of errors alone says which files failed.
      reportError(naming(withCommandFlags(e, verb === "decrypted" ? "decrypt" : "encrypt"), input));
    }
  };
  const slots = Math.max(1, options.jobs);
  let used = 0;
  let freed: (() => void) | undefined;
  const running = new Set<Promise<void>>();
  let unexpected: { error: unknown } | undefined;
  let at = 0;
  try {
    for await (const item of items) {
      const c = Math.max(1, Math.min(slots, cost ? cost(item) : 1));
      while (used + c > slots) await new Promise<void>((resolve) => (freed = resolve));
      used += c;
      // A job's own failures are reported by one(); should one() itself throw, it is kept for the end, not lost.
      const run: Promise<void> = one(item, at++).catch((e) => void (unexpected ??= { error: e })).finally(() => {
        used -= c;
        running.delete(run);
        const wake = freed;
        freed = undefined;
        wake?.();
      });
      running.add(run);
    }
  } finally {
    // Items that fail to come (a folder gone since it was counted) end the run once the files started have ended.
    await Promise.all(running);
  }
  if (unexpected) throw unexpected.error;
  return tally;
}

/**
 * Refuses `-o` with several inputs unless it is `-r` with one folder: each
 * output goes beside its input, or under `-o DIR` for one walked tree.
 */
export function checkBatchOutput(
  command: string,
  output: string | undefined,
  recursive: boolean,
  inputs: number,
): void {
  if (output === "-") {
    throw usageError(
      command,
      "Reading the command line failed: with several inputs or -r, -o names a folder; - is not one",
    );
  }
  if (output !== undefined && !(recursive && inputs === 1)) {
    throw usageError(
      command,
      "Reading the command line failed: with several inputs each output goes beside its input; -o DIR needs -r and one DIR",
    );
  }
}

/** Refuses `--skip-existing` for a run of one input. */
export function refuseSkipExisting(command: string, given: boolean): void {
  if (given) throw usageError(command, "Reading --skip-existing failed: it applies to several inputs or -r DIR");
}

/** How {@linkcode runBatch} runs a command's files. */
export interface BatchOptions {
  readonly skipExisting: boolean;
  readonly keyCache: boolean;
  /** `--jobs N`: N files at once; undefined: files weighed by size. */
  readonly jobs: number | undefined;
}

/** {@linkcode runBatch}'s options from a command's batch flags (object_flags.ts BATCH_FLAGS) and its checked `--jobs`. */
export function batchOptions(flags: Record<string, unknown>, jobCount: number): BatchOptions {
  return {
    skipExisting: Boolean(flags["skip-existing"]),
    keyCache: !flags["no-key-cache"],
    // Without --jobs the batch weighs files by size (DEFAULT_SLOTS).
    jobs: flags.jobs === undefined ? undefined : jobCount,
  };
}

/**
 * Runs planned file jobs as `encrypt` and `decrypt` with several inputs
 * do: `--skip-existing` leaves out the jobs whose output is there, one
 * data-key cache window serves every file (none with `--no-key-cache`, and
 * it is cleared at the end), `runAll` does the work `jobs` at a time as the
 * plan yields them, and {@linkcode finish} ends the run; returns the exit
 * status.
 */
export async function runBatch(
  command: string,
  verb: string,
  plan: FilePlan,
  options: BatchOptions,
  work: (job: FileJob, cache: DataKeyCache | undefined) => Promise<Outcome>,
  said: RunSources = {},
): Promise<number> {
  const tally = new Tally();
  const todo = options.skipExisting ? withoutExisting(plan.jobs(), tally) : plan.jobs();
  const cache = options.keyCache ? new DataKeyCache() : undefined;
  // Several files at once: whole messages go to WebCrypto from 8 KiB, as a stream's chunks do, so their crypto runs on
  // other threads beside the other files' reads and writes (envelope/chunks.ts setSeveralInFlight).
  setSeveralInFlight((options.jobs ?? DEFAULT_SLOTS) > 1);
  try {
    // --jobs N: N files at once. Without it, small files share DEFAULT_SLOTS slots and a large one takes LARGE_COST.
    const weighed = options.jobs === undefined;
    await runAll(todo, {
      total: plan.total,
      jobs: options.jobs ?? DEFAULT_SLOTS,
      name: (j) => j.input,
      // A folder that could not be read fails as one item, named by the folder; the other files go on. A walked
      // file whose folder is now reached through a link fails before it is opened.
      work: async (j) => {
        if (j.unreadable !== undefined) throw ioError("Reading", j.input, j.unreadable);
        if (j.clash !== undefined && await exists(j.output)) {
          throw new EnvelopeError(
            "OUTPUT_EXISTS",
            `Writing ${j.output} failed: it is another input of this run, and is not replaced, even with --force`,
            { hint: "move one of the two files out of the folder, or write the outputs elsewhere with -o DIR" },
          );
        }
        // A walked file: its folder and the file itself checked at its turn, and opened only as that file.
        const inputId = j.tree !== undefined ? await checkTreeInput(j.input, j.tree) : undefined;
        return await work(inputId ? { ...j, inputId } : j, cache);
      },
      verb,
      cost: weighed ? jobCost : undefined,
      tally,
    });
    return finish(command, verb, tally, said);
  } finally {
    setSeveralInFlight(false);
    await cache?.clear();
  }
}

/**
 * Files at once without `--jobs`: up to this many small ones. A small file's
 * run is mostly waiting (its open, its fsync, the folder's journal), so more
 * of them at once keep the JavaScript thread busy and let the file system
 * commit several fsyncs together; a large file streams through a pipeline of
 * its own (buffers, threads), so at most four of those run at once, as with
 * the old default of `--jobs 4`.
 */
export const DEFAULT_SLOTS = 16;
/** Slots a large file takes ({@linkcode DEFAULT_SLOTS} / 4: four at once). */
const LARGE_COST = 4;
/** A file over this many bytes is a large one. */
const LARGE_FILE = 1024 * 1024;

/** The slots `job` takes without `--jobs`: by its input's size (what cannot be looked at counts as large). */
function jobCost(job: FileJob): number {
  if (job.size !== undefined) return job.size > LARGE_FILE ? LARGE_COST : 1;
  return statSize(job.input) > LARGE_FILE ? LARGE_COST : 1;
}

function statSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return Infinity;
  }
}

/**
 * Where a run's defaults came from when no flag gave them (config.ts): in
 * `--json` beside the files, as the `note:` lines say it on a terminal (and
 * `-q` silences those), so a script can see that a file found upward chose
 * the keys.
 */
export interface RunSources {
  readonly keysFrom?: string;
  readonly contextFrom?: string;
}

/**
 * Ends a batch: the JSON document with `--json`, else the summary line;
 * returns the exit status (1 when any file failed).
 */
export function finish(command: string, verb: string, tally: Tally, said: RunSources = {}): number {
  report({ ...tally.document(command), ...said });
  status(
    `${verb} ${tally.done} of ${tally.done + tally.failed} file(s), ${formatBytes(tally.bytesIn)} read, ${
      formatBytes(tally.bytesOut)
    } written${tally.skipped ? `; ${tally.skipped} skipped, their outputs exist` : ""}${
      tally.failed ? `; ${tally.failed} failed (see the error lines above)` : ""
    }`,
  );
  return tally.failed > 0 ? 1 : 0;
}

/**
 * Ends a run of one input: the JSON document with `--json` (the batch's
 * shape, one file), else the line that says where it went (none for
 * stdout); returns the exit status, 0.
 */
export function finishOne(command: string, verb: string, o: Outcome, said: RunSources = {}): number {
  const one = new Tally(true);
  one.addDone(o, 0);
  report({ ...one.document(command), ...said });
  if (o.output !== "-") {
    // A compatibility format is named, with the KMS key its one blob was made under (the ARN a KMS returned).
    const key = o.keys.length === 1 && o.keys[0].keyId ? `, key ${esc(o.keys[0].keyId)}` : "";
    status(`${verb} to ${esc(o.output)}${FORMAT_LABEL[o.format] ? ` (${FORMAT_LABEL[o.format]} format${key})` : ""}`);
  }
  return 0;
}

/** `err` with `input` named at the start of its message, unless the message names it already. */
function naming(err: unknown, input: string): unknown {
  if (!(err instanceof EnvelopeError) || err.message.includes(input)) return err;
  return new EnvelopeError(err.code, `${input}: ${err.message}`, { hint: err.hint, cause: err });
}

/** How the status line names the compatibility formats. */
const FORMAT_LABEL: Record<string, string> = { "nitro-enclave": "Nitro-enclave", "aliyun-sample": "Alibaba-sample" };

/** Reads `--suffix` (default `.envl`): a dot and a name, no folder separators. */
export function readSuffix(text: string | undefined, command: string): string {
  if (text === undefined) return SUFFIX;
  if (!/^\.[^/\\]+$/.test(text) || text === "." || text === "..") {
    throw usageError(command, `Reading --suffix failed: "${text}" is not a dot and a name, such as .envl`);
  }
  return text;
}

/** One file of a batch: where it is read and where its result goes. */
export interface FileJob {
  readonly input: string;
  readonly output: string;
  /** Set when the output (relative to the tree) is itself an input this batch takes: the job fails. */
  readonly clash?: string;
  /** For a walked file: the file {@linkcode checkTreeInput} found, which the open must find again. */
  readonly inputId?: FileId;
  /** The output's folder may not exist yet (a tree rebuilt under -o DIR). */
  readonly makeParent?: boolean;
  /** The input's size when planned, if it was looked at (it weighs the job: see runBatch). */
  readonly size?: number;
  /**
   * For an output named after a walked tree: the tree's root. Its folders
   * must be real folders under the root, and the output itself no link or
   * special file ({@linkcode checkTreeOutput}).
   */
  readonly root?: string;
  /**
   * Set for a folder of a walked tree that could not be read when the run
   * reached it (gone since it was counted, say): `input` names the folder,
   * and the job fails with this error while the rest of the run goes on.
   */
  readonly unreadable?: unknown;
  /** For an input found by walking a folder: that folder ({@linkcode checkTreeInput}). */
  readonly tree?: string;
}

/**
 * Refuses to write `output` (named after a walked tree under `root`) when
 * its folder is reached through a symbolic link: a link planted in a shared
 * tree must not steer a batch's outputs elsewhere. (The output path itself
 * is checked as it is opened: `noFollow`.)
 */
export async function checkTreeOutput(output: string, root: string): Promise<void> {
  if (await throughLink(output, root)) {
    throw new EnvelopeError(
      "OUTPUT_UNSAFE",
      `Writing ${output} failed: its folder is reached through a symbolic link`,
      {
        hint: "remove the link from the folder tree, or write the outputs elsewhere with -o DIR",
      },
    );
  }
}

/**
 * Readies a batch job's output before it is written: its folder made when
 * the tree is rebuilt under -o DIR (`makeParent`), and an output named after
 * a walked tree (`root`) checked by {@linkcode checkTreeOutput}.
 */
export async function prepareOutput(
  job: { readonly output: string; readonly makeParent?: boolean; readonly root?: string },
): Promise<void> {
  if (job.makeParent) {
    await mkdir(dirname(job.output), { recursive: true }).catch((e) => {
      throw ioError("Writing", dirname(job.output), e);
    });
  }
  if (job.root !== undefined) await checkTreeOutput(job.output, job.root);
}

/**
 * Refuses to read `input` (found by walking the tree `tree`) when its folder
 * is now reached through a symbolic link: a folder of a shared tree swapped
 * for a link after the walk listed it must not make the batch read (and
 * write out) files from elsewhere. Checked as the file's turn comes, right
 * before it is opened; walk_files.ts guards the listing itself.
 */
export async function checkTreeInput(input: string, tree: string): Promise<FileId> {
  if (await throughLink(input, tree)) {
    throw new EnvelopeError(
      "UNSAFE_PATH",
      `Reading ${input} failed: its folder is now reached through a symbolic link`,
      { hint: SWAPPED_HINT },
    );
  }
  // The file itself, swapped since the walk listed it: a link would lead the batch to a file outside the tree, and
  // a FIFO would hold it.
  let st;
  try {
    st = await lstat(input);
  } catch (e) {
    throw ioError("Reading", input, e);
  }
  if (!st.isFile()) {
    throw new EnvelopeError(
      "UNSAFE_PATH",
      `Reading ${input} failed: it is ${st.isSymbolicLink() ? "now a symbolic link" : "no longer a regular file"}`,
      { hint: SWAPPED_HINT },
    );
  }
  return { dev: st.dev, ino: st.ino };
}

/**
 * Whether the folder of `path` (under `root`) is reached through a symbolic
 * link: its real path is not `root`'s real path joined with its place. A
 * folder that does not exist is not: the file's open fails with the usual
 * message.
 */
async function throughLink(path: string, root: string): Promise<boolean> {
  const parent = dirname(path);
  try {
    return await realpath(parent) !== join(await realpath(root), relative(root, parent));
  } catch {
    return false;
  }
}

/** How a command names its outputs in a batch. */
export interface BatchNaming {
  readonly command: "encrypt" | "decrypt";
  /** Which files under a folder the batch takes (by their path relative to it). */
  readonly keep: (rel: string) => boolean;
  /** A kept file's output path relative to its tree's root. */
  readonly outputRel: (rel: string) => string;
  /** The output of a file named on the command line. */
  readonly outputOf: (input: string) => string;
  /** The hint for a folder given without -r. */
  readonly folderHint: string;
}

/**
 * A batch's files: counted before the run, and yielded one at a time as it
 * runs, each folder walked again (walk_files.ts), so no list of them is
 * ever built.
 */
export interface FilePlan {
  /**
   * The files the run will take, for `[i/N]`: every file planned, less,
   * with `--skip-existing`, those whose output was there when counted.
   */
  readonly total: number;
  /** The jobs in order, each made when the run reaches it. */
  jobs(): AsyncGenerator<FileJob>;
}

/**
 * The files of `COMMAND a b c` (each output beside its input) and of
 * `COMMAND -r DIR...` (every regular file under each DIR that `keep`
 * accepts; links and special files skipped with a note, one per folder,
 * before the run; with `outDir`, the tree rebuilt there). Usage errors are
 * thrown here, before anything runs.
 */
export async function planFiles(
  inputs: readonly string[],
  recursive: boolean,
  outDir: string | undefined,
  naming: BatchNaming,
  skipExisting = false,
): Promise<FilePlan> {
  const { command } = naming;
  if (outDir !== undefined) {
    // -o DIR must be a folder (made as the outputs need it): something else there fails once, here, not per file.
    const at = await stat(outDir).catch(() => undefined);
    if (at !== undefined && !at.isDirectory()) {
      throw new EnvelopeError("IO_FAILED", `Writing to ${outDir} failed: it is not a folder`, {
        hint: "-o with -r names the folder the outputs go under; choose a folder, or a path where none is yet",
      });
    }
  }
  const inTree = (dir: string, rel: string): FileJob => {
    const out = naming.outputRel(rel);
    // Beside its input, an output the batch itself would take as an input (decrypt -r: x.envl.envl gives x.envl)
    // may be another job's input, read while it is replaced: that job fails instead, whatever --force says.
    const clash = outDir === undefined && naming.keep(out) ? out : undefined;
    return outDir === undefined
      ? { input: join(dir, rel), output: join(dir, out), root: dir, tree: dir, ...(clash ? { clash } : {}) }
      : { input: join(dir, rel), output: join(outDir, out), makeParent: true, root: outDir, tree: dir };
  };
  // One entry per input on the command line (which is in memory anyway), none per file under a folder.
  const given: {
    readonly input: string;
    readonly folder: boolean;
    readonly output?: string;
    readonly size?: number;
    readonly walk?: Omit<WalkOptions, "onUnreadable">;
  }[] = [];
  let total = 0;
  // With --skip-existing, [i/N] counts the files whose output is not there yet (runBatch checks each again).
  let existing = 0;
  const countExisting = async (output: string) => {
    if (await exists(output)) existing++;
  };
  // A folder given twice, or one inside another given too, would have its files done twice at once.
  if (recursive) {
    const roots = await Promise.all(
      inputs.map(async (i) => ({ i, real: await realpath(i).then((r) => r + sep, () => undefined) })),
    );
    for (const a of roots) {
      for (const b of roots) {
        if (a !== b && a.real !== undefined && b.real !== undefined && b.real.startsWith(a.real)) {
          throw usageError(
            command,
            `Reading the command line failed: ${b.i} is ${a.real === b.real ? "the same folder as" : "inside"} ${a.i}`,
            "give each folder once; -r already takes the folders inside it",
          );
        }
      }
    }
  }
  for (const input of inputs) {
    if (input === "-") {
      throw usageError(command, "Reading the command line failed: stdin (-) cannot be one of several inputs");
    }
    const info = await stat(input).catch(() => undefined);
    if (!info?.isDirectory()) {
      // Named now: an input whose output cannot be named (decrypt b.txt) is a usage error before anything runs.
      const output = naming.outputOf(input);
      given.push({ input, folder: false, output, size: info?.isFile() ? info.size : undefined });
      total++;
      if (skipExisting) await countExisting(output);
      continue;
    }
    if (!recursive) {
      throw usageError(
        command,
        `${command === "encrypt" ? "Encrypting" : "Decrypting"} ${input} failed: it is a folder`,
        naming.folderHint,
      );
    }
    // -o DIR inside the tree: the outputs' folder is not walked (decrypt's outputs may end in the suffix, and its
    // earlier outputs are outputs, not inputs).
    const outRel = outDir === undefined ? undefined : relative(resolve(input), resolve(outDir)).split(sep).join("/");
    const inside = outRel !== undefined && outRel !== "" && outRel !== ".." && !outRel.startsWith("../") &&
      !isAbsolute(outRel);
    const walk = { keep: naming.keep, leaveOut: inside ? (rel: string) => rel === outRel : undefined };
    if (inside) note(`leaving out ${outDir} under ${input}: it is where the outputs go`);
    given.push({ input, folder: true, walk });
    const each = skipExisting ? (rel: string) => countExisting(inTree(input, rel).output) : undefined;
    // A folder that cannot be read now (no permission, say) is one item of the run, which fails it at its place.
    const counted = await countFiles(input, { ...walk, onUnreadable: () => total++ }, each);
    total += counted.files;
    if (counted.skipped > 0) note(`skipping ${counted.skipped} link(s) or special file(s) under ${input}`);
  }
  return {
    total: total - existing,
    async *jobs() {
      for (const g of given) {
        if (!g.folder) yield { input: g.input, output: g.output!, size: g.size };
        else {
          // A folder counted before the run but unreadable when the walk reaches it (removed, or swapped for a link,
          // meanwhile) is one failed item at its place in the order, not the end of the run.
          yield* walkItems(g.input, g.walk ?? {}, (rel) => inTree(g.input, rel), (rel, error) => ({
            input: rel === "" ? g.input : join(g.input, rel),
            output: "",
            size: 0,
            unreadable: error,
          }));
        }
      }
    },
  };
}
