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
 * @module
 */
import { readdir } from "../host/fs.ts";
import { join } from "../host/path.ts";
import { pid } from "../host/process.ts";
import { temporaryOwner } from "./temp_files.ts";

/** Takes every file. */
const everyFile = (): boolean => true;

/**
 * The regular files under `dir` that `keep` accepts, as paths relative to it
 * with `/` separators, in the sorted order described above. Symbolic links
 * and special files are neither followed nor yielded: each one found calls
 * `onSkipped`. A folder is read when the walk reaches it, so a run that
 * writes into the tree sees its own outputs there; this run's temporary
 * files (temp_files.ts, named with its process id) are never yielded, as
 * they were not there when the tree was counted. A folder that cannot be
 * read (gone since it was counted, say) throws, unless `onUnreadable` is
 * given: then it is told the folder (relative, "" for `dir` itself) and its
 * error, and the walk goes on with the rest.
 */
export async function* walkFiles(
  dir: string,
  keep: (rel: string) => boolean = everyFile,
  onSkipped?: () => void,
  onUnreadable?: (rel: string, error: unknown) => void,
): AsyncGenerator<string> {
  // One entry per folder on the way down: its path relative to `dir` ("" or "a/b/") and the names not yet taken,
  // sorted backwards so the next one pops off the end (and a name taken is a name let go). A folder's name ends
  // with "/": that is both its sort key and how it is told from a file's.
  const stack: { readonly prefix: string; readonly names: string[] }[] = [];
  const enter = async (prefix: string) => {
    const names: string[] = [];
    let entries;
    try {
      entries = await readdir(prefix === "" ? dir : join(dir, prefix));
    } catch (e) {
      if (!onUnreadable) throw e;
      onUnreadable(prefix.replace(/\/$/, ""), e);
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) names.push(e.name + "/");
      else if (!e.isFile()) onSkipped?.();
      else if (temporaryOwner(e.name, false) !== pid) names.push(e.name);
    }
    stack.push({ prefix, names: names.sort().reverse() });
  };
  await enter("");
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const name = top.names.pop();
    if (name === undefined) stack.pop();
    else if (name.endsWith("/")) await enter(top.prefix + name);
    else if (keep(top.prefix + name)) yield top.prefix + name;
  }
}

/** How many files {@linkcode walkFiles} would yield, and how many links and special files it would pass over. */
export interface TreeCount {
  readonly files: number;
  readonly skipped: number;
}

/**
 * Counts the files under `dir` that `keep` accepts (for a batch's `[i/N]`)
 * and the links and special files left out, keeping no path; `each`, if
 * given, sees every file counted.
 */
export async function countFiles(
  dir: string,
  keep: (rel: string) => boolean = everyFile,
  each?: (rel: string) => Promise<void> | void,
): Promise<TreeCount> {
  let files = 0;
  let skipped = 0;
  for await (const rel of walkFiles(dir, keep, () => skipped++)) {
    files++;
    await each?.(rel);
  }
  return { files, skipped };
}
