/**
 * Walking a directory for `zipDirectory`: sorted children, what to do with
 * symbolic links (follow those to files inside the tree, skip them all, or
 * store those that stay inside the tree as links), and the two entry orders
 * (envelope, and Python `make_archive`).
 *
 * @module
 */
import { readdir, readlink, realpath } from "node:fs/promises";
// The metadata calls of every entry: host/fs.ts makes them Deno's own synchronous calls under Deno (no Node Stats
// object to build, no hand-off to a thread and back), node:fs/promises on Node.
import { lstat, stat } from "../host/fs.ts";
import { join, sep } from "node:path";
import { EnvelopeError } from "../errors.ts";

/**
 * What zipping does with a symbolic link in the tree: `"follow"` stores a
 * link to a regular file inside the tree as that file (other links are
 * skipped); `"skip"` skips every link; `"store"` stores a link whose target
 * is relative and stays inside the tree as a link entry (others are
 * skipped). Every skipped link is reported through `onWarning`.
 */
export type LinkPolicy = "follow" | "skip" | "store";

export interface DirEntry {
  kind: "dir";
  /** Relative name with the trailing `/`. */
  name: string;
  /** Modification time, Unix seconds. */
  mtime: number;
}
export interface FileEntry {
  kind: "file";
  name: string;
  path: string;
  exec: boolean;
  mtime: number;
  /** Bytes when the walk looked, if it did: how much of the zip writer's window reading it ahead may take. */
  size?: number;
}
export interface LinkEntry {
  kind: "link";
  name: string;
  /** The link's target text, relative and inside the tree. */
  target: string;
  mtime: number;
}
export type Entry = DirEntry | FileEntry | LinkEntry;

export interface Child {
  name: string;
  key: Uint8Array;
  /** Where to read: the folder or file itself, or a link's real target. */
  path: string;
  dir: boolean;
  exec: boolean;
  mtime: number;
  /** Bytes, as the walk saw them (an estimate for the zip writer's window: the file may change before it is read). */
  size: number;
  /** For a stored link: its target text. */
  link?: string;
}

/**
 * Whether a link at `name` (relative, `/`-separated) to the relative
 * `target` stays inside the tree: `..` only at the start of the target, and
 * never above the top. Checked the same way when zipping and extracting.
 */
export function linkStaysInside(name: string, target: string): boolean {
  if (target === "" || target.startsWith("/") || target.includes("\\") || target.includes("\0")) return false;
  if (/^[A-Za-z]:/.test(target)) return false;
  let depth = name.split("/").length - 1;
  let down = false;
  for (const s of target.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") {
      // After a downward step, the folder stepped into may itself be a link: ".." there is not lexical.
      if (down || --depth < 0) return false;
    } else {
      down = true;
    }
  }
  return true;
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
  links: LinkPolicy;
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
    let link: string | undefined;
    if (st.isSymbolicLink() && ctx.links === "skip") {
      warn(`Skipped link ${relName}: links are skipped`);
      continue;
    }
    if (st.isSymbolicLink() && ctx.links === "store") {
      try {
        link = await readlink(path);
      } catch (err) {
        throw ioError(`Reading link ${path}`, err);
      }
      if (!linkStaysInside(relName, link)) {
        warn(`Skipped link ${relName}: its target ${JSON.stringify(link)} is not a relative path inside the folder`);
        continue;
      }
    } else if (st.isSymbolicLink()) {
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
    const isDir = link === undefined && st.isDirectory();
    out.push({
      name,
      key: utf8.encode(isDir ? name + "/" : name),
      path: readPath,
      dir: isDir,
      exec: !isDir && (Number(st.mode) & 0o111) !== 0,
      mtime: Math.floor(Number(st.mtimeMs) / 1000),
      size: Number(st.size),
      link,
    });
  }
  return out.sort((a, b) => compareBytes(a.key, b.key));
}

/**
 * Entries in byte order of their full path: sorting siblings by `name` for
 * files and `name/` for folders makes a depth-first walk produce exactly the
 * global byte order.
 */
export async function* walkEnvelope(
  ctx: WalkContext,
  dir: string,
  rel: string,
  mtime = 0,
): AsyncGenerator<Entry> {
  const children = await readChildren(ctx, dir, rel);
  if (rel !== "" && children.length === 0) yield { kind: "dir", name: rel, mtime };
  for (const c of children) {
    if (c.dir) yield* walkEnvelope(ctx, c.path, rel + c.name + "/", c.mtime);
    else yield leaf(rel, c);
  }
}

function leaf(rel: string, c: Child): FileEntry | LinkEntry {
  return c.link !== undefined
    ? { kind: "link", name: rel + c.name, target: c.link, mtime: c.mtime }
    : { kind: "file", name: rel + c.name, path: c.path, exec: c.exec, mtime: c.mtime, size: c.size };
}

/** Entries in the order of Python's `_make_zipfile` over an `os.walk` whose listings are sorted. */
export async function* walkMakeArchive(ctx: WalkContext, dir: string, rel: string): AsyncGenerator<Entry> {
  const children = await readChildren(ctx, dir, rel);
  const dirs = children.filter((c) => c.dir);
  const files = children.filter((c) => !c.dir);
  for (const d of dirs) yield { kind: "dir", name: rel + d.name + "/", mtime: d.mtime };
  for (const f of files) yield leaf(rel, f);
  for (const d of dirs) yield* walkMakeArchive(ctx, d.path, rel + d.name + "/");
}
