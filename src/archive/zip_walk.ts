/**
 * Walking a directory for `zipDirectory`: sorted children, links kept inside
 * the tree, and the two entry orders (envelope, and Python `make_archive`).
 *
 * @module
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { EnvelopeError } from "../errors.ts";

export interface DirEntry {
  kind: "dir";
  /** Relative name with the trailing `/`. */
  name: string;
}
export interface FileEntry {
  kind: "file";
  name: string;
  path: string;
  exec: boolean;
}
export type Entry = DirEntry | FileEntry;

export interface Child {
  name: string;
  key: Uint8Array;
  /** Where to read: the folder or file itself, or a link's real target. */
  path: string;
  dir: boolean;
  exec: boolean;
}

const utf8 = new TextEncoder();

/** Byte order of UTF-8, which is code point order (JavaScript's `<` compares UTF-16 units). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

export function ioError(action: string, cause: unknown): EnvelopeError {
  if (cause instanceof EnvelopeError) return cause;
  const detail = (cause as { code?: string })?.code ?? String(cause);
  return new EnvelopeError("IO_FAILED", `${action} failed: ${detail}`, {
    hint: "check that the path exists and is readable",
    cause,
  });
}

export function isInside(root: string, target: string): boolean {
  return target.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** What a walk needs besides the folder it is in. */
export interface WalkContext {
  /** The real path of the top folder. */
  root: string;
  warn: (message: string) => void;
  /** Real paths to leave out silently. */
  exclude: Set<string>;
}

/** Lists the storable children of a folder, warning about and dropping the rest. */
export async function readChildren(ctx: WalkContext, dir: string, rel: string): Promise<Child[]> {
  const { root, warn } = ctx;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw ioError(`Listing folder ${dir}`, err);
  }
  const out: Child[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const relName = rel + name;
    if (ctx.exclude.has(path)) continue;
    if (name.includes("\\")) {
      warn(`Skipped ${relName}: its name contains a backslash, which extractors refuse`);
      continue;
    }
    let readPath = path;
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if ((err as { code?: string })?.code !== "ENOENT") throw ioError(`Reading ${path}`, err);
      // Gone since the listing, or a name that is not UTF-8 (the listing decoded it lossily).
      warn(`Skipped ${relName}: it vanished while zipping or its name is not valid UTF-8`);
      continue;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      let tst;
      try {
        target = await realpath(path);
        tst = await stat(target);
      } catch {
        warn(`Skipped link ${relName}: its target does not exist`);
        continue;
      }
      if (!isInside(root, target)) {
        warn(`Skipped link ${relName}: it points outside the folder`);
        continue;
      }
      if (!tst.isFile()) {
        warn(`Skipped link ${relName}: only links to regular files are stored`);
        continue;
      }
      st = tst;
      readPath = target;
    } else if (!st.isFile() && !st.isDirectory()) {
      warn(`Skipped ${relName}: not a regular file or folder`);
      continue;
    }
    const isDir = st.isDirectory();
    out.push({
      name,
      key: utf8.encode(isDir ? name + "/" : name),
      path: readPath,
      dir: isDir,
      exec: !isDir && (Number(st.mode) & 0o111) !== 0,
    });
  }
  return out.sort((a, b) => compareBytes(a.key, b.key));
}

/**
 * Entries in byte order of their full path: sorting siblings by `name` for
 * files and `name/` for folders makes a depth-first walk produce exactly the
 * global byte order.
 */
export async function* walkEnvelope(ctx: WalkContext, dir: string, rel: string): AsyncGenerator<Entry> {
  const children = await readChildren(ctx, dir, rel);
  if (rel !== "" && children.length === 0) yield { kind: "dir", name: rel };
  for (const c of children) {
    if (c.dir) yield* walkEnvelope(ctx, c.path, rel + c.name + "/");
    else yield { kind: "file", name: rel + c.name, path: c.path, exec: c.exec };
  }
}

/** Entries in the order of Python's `_make_zipfile` over an `os.walk` whose listings are sorted. */
export async function* walkMakeArchive(ctx: WalkContext, dir: string, rel: string): AsyncGenerator<Entry> {
  const children = await readChildren(ctx, dir, rel);
  const dirs = children.filter((c) => c.dir);
  const files = children.filter((c) => !c.dir);
  for (const d of dirs) yield { kind: "dir", name: rel + d.name + "/" };
  for (const f of files) yield { kind: "file", name: rel + f.name, path: f.path, exec: f.exec };
  for (const d of dirs) yield* walkMakeArchive(ctx, d.path, rel + d.name + "/");
}
