/**
 * The regular files under a folder, one at a time, for `-r DIR` batches
 * (batch.ts, object_batch.ts). A batch of any size walks its tree lazily:
 * it holds the listings of the folders on the way down to the current one,
 * never the list of every file, so a tree of a million files costs what its
 * largest folder costs.
 *
 * The order is the one a batch has always had: every relative path (with `/`
 * separators) sorted as JavaScript sorts strings, by UTF-16 code units. One
 * folder's entries sorted by name, a folder's name taken as `name + "/"`,
 * give that order without the global list. Take two entries `x` and `y` of
 * one folder; every path under them starts with `x` or `x/`, `y` or `y/`.
 * Where `x` and `y` differ within the shorter one's length, that character
 * orders their paths and their keys alike. Otherwise one, say `x`, is a
 * strict prefix of the other: a file `x` sorts first as a path and as a key,
 * and a folder's paths `x/...` meet `y` at `/` against `y`'s next character,
 * which is never `/`, exactly as the key `x/` does. So a folder's paths sort
 * together, where its key `name/` puts them (`a-b`, `a.txt`, `a/b`, `a0`:
 * `-` and `.` are below `/`, `0` above it).
 * tests/cli_walk_files_test.ts checks it on generated trees.
 *
 * Folders are listed when the walk reaches them, which may be long after
 * the folder above was listed. A folder swapped meanwhile for a symbolic
 * link must not lead the walk out of the tree (a review found a batch
 * decrypting files of a folder outside it that way): each folder is looked
 * at with `lstat` before it is listed and passed over as a link if it is one,
 * and after listing, its real path must still be the tree's real path joined
 * with its place in the tree, or it counts as unreadable.
 *
 * @module
 */
import { lstat, readdir, realpath } from "../host/fs.ts";
import { join } from "../host/path.ts";
import { EnvelopeError } from "../errors.ts";
import { temporaryOwner } from "./temp_files.ts";

/** How {@linkcode walkFiles} walks. */
export interface WalkOptions {
  /** Which files to yield, by their path relative to the tree (default: all). */
  readonly keep?: (rel: string) => boolean;
  /** Called for each symbolic link and special file passed over (a folder swapped for a link included). */
  readonly onSkipped?: () => void;
  /**
   * Called for a folder that cannot be read (relative, "" for the tree
   * itself) with its error; the walk goes on with the rest. Without it, the
   * walk throws.
   */
  readonly onUnreadable?: (rel: string, error: unknown) => void;
  /** Folders (relative, without a trailing `/`) not to enter: a batch's output folder inside its tree. */
  readonly leaveOut?: (rel: string) => boolean;
}

/**
 * The regular files under `dir` that `keep` accepts, as paths relative to it
 * with `/` separators, in the sorted order described above. Symbolic links
 * and special files are neither followed nor yielded. A folder is read when
 * the walk reaches it, so a run that writes into the tree sees its own
 * outputs there; temporary files (temp_files.ts) are never yielded: this
 * run's were not there when the tree was counted, and a killed run's are
 * leftovers for a sweep, not files to encrypt.
 */
export async function* walkFiles(dir: string, options: WalkOptions = {}): AsyncGenerator<string> {
  const { keep, onSkipped, onUnreadable, leaveOut } = options;
  // One entry per folder on the way down: its path relative to `dir` ("" or "a/b/") and the names not yet taken,
  // sorted backwards so the next one pops off the end (and a name taken is a name let go). A folder's name ends
  // with "/": that is both its sort key and how it is told from a file's.
  const stack: { readonly prefix: string; readonly names: string[] }[] = [];
  let rootReal: string | undefined;
  const enter = async (prefix: string) => {
    const rel = prefix.replace(/\/$/, "");
    const path = prefix === "" ? dir : join(dir, rel);
    let entries;
    try {
      if (prefix !== "") {
        // Listed as a folder when its parent was: a link now is a folder swapped since, passed over as links are.
        if ((await lstat(path)).isSymbolicLink()) return void onSkipped?.();
      }
      entries = await readdir(path);
      rootReal ??= await realpath(dir);
      if (prefix !== "" && await realpath(path) !== join(rootReal, rel)) throw swapped(path);
    } catch (e) {
      if (!onUnreadable) throw e;
      onUnreadable(rel, e);
      return;
    }
    const names: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!leaveOut?.(prefix + e.name)) names.push(e.name + "/");
      } else if (!e.isFile()) onSkipped?.();
      // Any run's temporary file (ours as they appear; a killed run's until a sweep removes it) is not a user's file.
      else if (temporaryOwner(e.name, false) === undefined) names.push(e.name);
    }
    stack.push({ prefix, names: names.sort().reverse() });
  };
  await enter("");
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const name = top.names.pop();
    if (name === undefined) stack.pop();
    else if (name.endsWith("/")) await enter(top.prefix + name);
    else if (!keep || keep(top.prefix + name)) yield top.prefix + name;
  }
}

/** The next step after a folder of a walked tree was swapped for a link (here, and batch.ts `checkTreeInput`). */
export const SWAPPED_HINT =
  "a folder of the tree was replaced by a link while the run went on; check who changes the tree, and run again";

/** A folder of the tree that is no longer where the tree is: it was swapped for a link while the walk went on. */
function swapped(path: string): EnvelopeError {
  return new EnvelopeError("UNSAFE_PATH", `Reading ${path} failed: it now leads out of the folder tree`, {
    hint: SWAPPED_HINT,
  });
}

/**
 * {@linkcode walkFiles}'s files as `make(rel)`, and each folder it could not
 * read as `failed(rel, error)` at its place in the order: for a batch, where
 * such a folder is one failed item and the run goes on.
 */
export async function* walkItems<T>(
  dir: string,
  options: Omit<WalkOptions, "onUnreadable">,
  make: (rel: string) => T,
  failed: (rel: string, error: unknown) => T,
): AsyncGenerator<T> {
  const unreadable: T[] = [];
  const onUnreadable = (rel: string, error: unknown) => void unreadable.push(failed(rel, error));
  for await (const rel of walkFiles(dir, { ...options, onUnreadable })) {
    yield* unreadable.splice(0);
    yield make(rel);
  }
  yield* unreadable.splice(0);
}

/** How many files {@linkcode walkFiles} would yield, and how many links and special files it would pass over. */
export interface TreeCount {
  readonly files: number;
  readonly skipped: number;
}

/**
 * Counts the files under `dir` that the walk would yield (for a batch's
 * `[i/N]`) and the links and special files left out, keeping no path;
 * `each`, if given, sees every file counted.
 */
export async function countFiles(
  dir: string,
  options: Pick<WalkOptions, "keep" | "leaveOut" | "onUnreadable"> = {},
  each?: (rel: string) => Promise<void> | void,
): Promise<TreeCount> {
  let files = 0;
  let skipped = 0;
  for await (const rel of walkFiles(dir, { ...options, onSkipped: () => skipped++ })) {
    files++;
    await each?.(rel);
  }
  return { files, skipped };
}
