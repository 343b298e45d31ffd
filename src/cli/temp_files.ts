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
 * Nothing that does not match these exact patterns is ever removed.
 *
 * @module
 */
import { readdir, rm, rmSync } from "../host/fs.ts";
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

/** Folders already swept by this process. */
const swept = new Set<string>();

/**
 * Removes the temporaries in `folder` whose owning process is gone; returns
 * their names. Best effort: a folder that cannot be listed is skipped. Each
 * folder is swept once per process.
 */
export async function sweepStale(folder: string): Promise<string[]> {
  if (swept.has(folder)) return [];
  swept.add(folder);
  let entries;
  try {
    entries = await readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    const dir = e.isDirectory();
    if (!dir && !e.isFile()) continue;
    const pid = temporaryOwner(e.name, dir);
    if (pid === undefined || processAlive(pid)) continue;
    try {
      await rm(join(folder, e.name), { recursive: dir, force: true });
      removed.push(e.name);
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
