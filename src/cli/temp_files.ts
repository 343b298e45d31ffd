/**
 * The CLI's temporary files: how they are named, removing them when a signal
 * ends the run, and sweeping the ones a killed run left behind.
 *
 * A temporary file is `.NAME.envelope-<pid>-<12 hex>.part` beside its target
 * (a temporary folder `.LABEL.envelope-<pid>-XXXXXX`), so it is recognisable
 * and names the process that owns it. SIGKILL (or a power cut) gives that
 * process no chance to clean up; the next envelope run that writes into the
 * same folder removes the temporaries whose owner is gone
 * (`process.kill(pid, 0)` fails with `ESRCH`) and says so with a `note:` line.
 * Nothing that does not match these exact patterns is ever removed. A
 * large folder is read past its first 1,000 entries by a share of the runs,
 * so that the cost per run stays bounded ({@linkcode sweepChance}).
 *
 * @module
 */
import { readdirEach, rm, rmSync, statSync } from "../host/fs.ts";
import { basename, join } from "../host/path.ts";
import { exit, onSignal, pid, processAlive } from "../host/process.ts";
import { randomBytes } from "../crypto/random.ts";
import { encodeHex } from "../encoding/base64.ts";

/** A temporary file: `.NAME.envelope-<pid>-<12 hex>.part`. */
const TEMP_FILE = /^\..+\.envelope-(\d{1,10})-[0-9a-f]{12}\.part$/;
/** A temporary folder: `.LABEL.envelope-<pid>-XXXXXX` (mkdtemp's six characters). */
const TEMP_DIR = /^\..+\.envelope-(\d{1,10})-[A-Za-z0-9]{6}$/;
/** Longest part of the target's name kept in a temporary name (NAME_MAX is 255 bytes). */
const MAX_NAME = 120;

function shortName(name: string): string {
  // Cut on code points, never inside a surrogate pair.
  return name.length <= MAX_NAME ? name : Array.from(name).slice(0, MAX_NAME / 2).join("");
}

/** The temporary file name for writing `target`, in the same folder. */
export function tempPathFor(target: string, folder: string): string {
  return join(folder, `.${shortName(basename(target))}.envelope-${pid}-${encodeHex(randomBytes(6))}.part`);
}

/** The prefix to give `mkdtemp` for a temporary folder in `parent` (mkdtemp adds six characters). */
export function tempDirPrefix(parent: string, label: string): string {
  return join(parent, `.${shortName(label)}.envelope-${pid}-`);
}

/** The owner's process id when `name` is one of our temporary names, else undefined. */
export function temporaryOwner(name: string, isDirectory: boolean): number | undefined {
  const m = (isDirectory ? TEMP_DIR : TEMP_FILE).exec(name);
  return m ? Number(m[1]) : undefined;
}

export { processAlive };

/** Folders already swept (or passed over) by this process. */
const swept = new Set<string>();

/** How many entries of a folder every sweep looks at (and removes the stale temporaries among). */
export const SWEEP_ALWAYS_ENTRIES = 1000;

/** A folder size (`st_size`) that {@linkcode sweepChance} weighs others against: about 1,000 entries on ext4. */
export const SWEEP_ALWAYS_BYTES = 32 * 1024;

/**
 * The share of runs that read a folder past its first
 * {@linkcode SWEEP_ALWAYS_ENTRIES} entries, to its end, when its `st_size`
 * is `folderBytes`: fewer as it grows, so that the expected listing per run
 * stays about that of a folder of 1,000 entries.
 *
 * Listing a folder costs time in proportion to its entries: 200-300 ms for
 * 50,000 files on the development machine (by hand: Deno's `readDir`, and
 * Python's `os.scandir` 80-110 ms), which made a 3-byte encrypt into such a
 * folder take 377 ms instead of 69 (median of 9, by hand). A script that
 * encrypts one file per run into one folder paid that on every run, more
 * with every file. A stale temporary there (it may hold partial plaintext)
 * is still removed: at once when it is among the entries read first, else
 * by a later run (in that folder of 50,000 files, 1 MiB, one run in 32
 * reads it all). Only folders with more entries than that get here, so a
 * folder that is large on disk but nearly empty (ext4 folders never shrink)
 * is read whole every time. Where the size says nothing (a constant 4096),
 * every run reads the whole folder, as before.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepChance, SWEEP_ALWAYS_BYTES } from "./temp_files.ts";
 * assert.equal(sweepChance(4096), 1);
 * assert.equal(sweepChance(8 * SWEEP_ALWAYS_BYTES), 1 / 8);
 * ```
 */
export function sweepChance(folderBytes: number): number {
  return folderBytes <= SWEEP_ALWAYS_BYTES ? 1 : SWEEP_ALWAYS_BYTES / folderBytes;
}

/** How {@linkcode sweepStale} decides, injectable for tests. */
export interface SweepOptions {
  /** A uniform random number in [0, 1): the folder is read to its end when it is under {@linkcode sweepChance}. */
  readonly draw?: () => number;
  /** The entries every sweep looks at ({@linkcode SWEEP_ALWAYS_ENTRIES}). */
  readonly always?: number;
}

/**
 * Removes the temporaries in `folder` whose owning process is gone; returns
 * their names. Best effort: a folder that cannot be listed is skipped. Each
 * folder is considered once per process. The first
 * {@linkcode SWEEP_ALWAYS_ENTRIES} entries are read every time, and the rest
 * of a larger folder by a share of runs ({@linkcode sweepChance}).
 */
export async function sweepStale(folder: string, options: SweepOptions = {}): Promise<string[]> {
  const { draw = Math.random, always = SWEEP_ALWAYS_ENTRIES } = options;
  if (swept.has(folder)) return [];
  swept.add(folder);
  const stale: { name: string; dir: boolean }[] = [];
  let seen = 0;
  try {
    for await (const e of readdirEach(folder)) {
      if (++seen === always + 1 && draw() >= sweepChance(statSync(folder).size)) break;
      const dir = e.isDirectory();
      if (!dir && !e.isFile()) continue;
      const pid = temporaryOwner(e.name, dir);
      if (pid !== undefined && !processAlive(pid)) stale.push({ name: e.name, dir });
    }
  } catch {
    // A folder that cannot be listed (or stops being listable) keeps what was not seen.
  }
  // Removed once the listing is done: a folder changing under its own listing may skip or repeat entries.
  const removed: string[] = [];
  for (const { name, dir } of stale) {
    try {
      await rm(join(folder, name), { recursive: dir, force: true });
      removed.push(name);
    } catch { /* another run may be removing it too */ }
  }
  return removed;
}

/** Temporary files and folders to remove if a signal ends the process mid-write. */
const live = new Set<string>();
/** Asynchronous undo steps (aborting a multipart upload) run before a signal ends the process. */
const undo = new Set<() => Promise<void>>();
/** How long a signal waits for the undo steps before the process exits anyway. */
const UNDO_TIMEOUT_MS = 15_000;
let trapped = false;
let ending = false;

/** Installs the signal handlers once. */
function trap(): void {
  if (!trapped) {
    trapped = true;
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      onSignal(signal, () => {
        // A second signal while undoing ends the run at once.
        if (ending) exit(code);
        ending = true;
        for (const p of live) {
          try {
            rmSync(p, { recursive: true, force: true });
          } catch { /* best effort on the way out */ }
        }
        if (undo.size === 0) exit(code);
        setTimeout(() => exit(code), UNDO_TIMEOUT_MS);
        Promise.allSettled([...undo].map((f) => f())).then(() => exit(code));
      });
    }
  }
}

/**
 * Registers a temporary path for removal on SIGINT, SIGTERM or SIGHUP (a
 * signal ends the process without running `abort`); returns the function
 * that unregisters it.
 */
export function removeOnSignal(path: string): () => void {
  trap();
  live.add(path);
  return () => void live.delete(path);
}

/**
 * Registers an asynchronous undo step (aborting a multipart upload) that a
 * SIGINT, SIGTERM or SIGHUP runs, for at most 15 s, before the process ends;
 * returns the function that unregisters it.
 */
export function abortOnSignal(step: () => Promise<void>): () => void {
  trap();
  undo.add(step);
  return () => void undo.delete(step);
}
