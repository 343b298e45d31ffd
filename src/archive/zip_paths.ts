/**
 * Path safety for zip extraction: entry names are strict UTF-8, relative,
 * `/`-separated, with no empty, `.` or `..` segment; and before a merge into
 * an existing folder every target is checked without changing anything
 * (never writing through a symbolic link, never replacing a folder with a
 * file or the reverse, replacing files only when forced).
 *
 * @module
 */
import { lstat, mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { EnvelopeError } from "../errors.ts";
import { errCode, invalid, ioError, unsafe } from "./unzip_errors.ts";

/** What a merge reads of a checked zip entry (a zip_reader.ts `Entry`): its name, and whether it is a folder. */
export interface MergeEntry {
  readonly name: string;
  readonly dir: boolean;
}

// ignoreBOM: a leading U+FEFF is part of the name, so that every name decodes to the one string that encodes back to it.
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();
let nameScratch = new Uint8Array(256);

/** An entry name as UTF-8 (strictly), or a thrown `ARCHIVE_INVALID`. */
export function decodeName(bytes: Uint8Array): string {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    throw invalid("an entry name is not UTF-8");
  }
}

/** Whether `bytes` are the UTF-8 of `name`, without an array per call. */
export function isNameOf(bytes: Uint8Array, name: string): boolean {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (nameScratch.length < name.length * 3) nameScratch = new Uint8Array(name.length * 3);
  const { written } = utf8.encodeInto(name, nameScratch);
  if (written !== bytes.length) return false;
  for (let i = 0; i < written; i++) if (nameScratch[i] !== bytes[i]) return false;
  return true;
}

/** Folders an entry may be nested in, at most: far more than any real tree, few enough that folders cannot be the bomb. */
export const MAX_PATH_DEPTH = 256;
/** The longest name of one file or folder (most file systems' limit), in UTF-8 bytes. */
const MAX_SEGMENT_BYTES = 255;
/** The longest path (Linux's PATH_MAX less its NUL), in UTF-8 bytes. */
const MAX_NAME_BYTES = 4095;

/** UTF-8 bytes of `s`, counted only when its length could put it over `max` (a UTF-16 unit is at most 3 bytes). */
function over(s: string, max: number): number | undefined {
  if (s.length * 3 <= max) return undefined;
  const n = utf8.encode(s).length;
  return n > max ? n : undefined;
}

/** The `/`-separated segments of a safe name, or a thrown `UNSAFE_PATH`. */
export function safeSegments(name: string): string[] {
  if (name.length === 0) throw unsafe(name.slice(0, 200), "the name is empty");
  // Bounded before anything else (and quoted cut short): a name can be a 64 KiB field.
  const bytes = over(name, MAX_NAME_BYTES);
  if (bytes !== undefined) {
    throw unsafe(`${name.slice(0, 100)}...`, `the path is ${bytes} bytes long, over ${MAX_NAME_BYTES}`);
  }
  if (name.includes("\0")) throw unsafe(name, "the name contains a NUL character");
  if (name.includes("\\")) throw unsafe(name, "the name contains a backslash");
  if (name.startsWith("/")) throw unsafe(name, "the path is absolute");
  if (/^[A-Za-z]:/.test(name)) throw unsafe(name, "the path starts with a drive letter");
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  if (segments.length > MAX_PATH_DEPTH) {
    throw unsafe(`${name.slice(0, 100)}...`, `the path is ${segments.length} folders deep, over ${MAX_PATH_DEPTH}`);
  }
  for (const s of segments) {
    if (s === "..") throw unsafe(name, "the path contains a .. segment");
    if (s === "" || s === ".") throw unsafe(name, "the path has an empty or . segment");
    if (over(s, MAX_SEGMENT_BYTES) !== undefined) {
      throw unsafe(`${name.slice(0, 100)}...`, `a name in the path is over ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  return segments;
}

/**
 * The folders `entries` make: the folder entries and every folder their
 * paths imply, each counted once, up to `limit` (counting stops past it).
 * Each folder is remembered by a 32-bit hash of its path, so memory stays at
 * a number per folder; a collision can only undercount by one.
 */
export function countFolders(entries: readonly MergeEntry[], limit: number): number {
  const seen = new Set<number>();
  for (const e of entries) {
    const segments = safeSegments(e.name);
    const n = e.dir ? segments.length : segments.length - 1;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) {
      // FNV-1a over the path so far, a separator between segments.
      for (const c of segments[i]) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
      h = Math.imul(h ^ 0x2f, 0x01000193);
      seen.add(h >>> 0);
      if (seen.size > limit) return seen.size;
    }
  }
  return seen.size;
}

// ---- committing the staged tree ----

type Kind = "missing" | "dir" | "file" | "link" | "other";

async function kindOf(path: string, cache: Map<string, Kind>): Promise<Kind> {
  let k = cache.get(path);
  if (k) return k;
  try {
    const st = await lstat(path);
    k = st.isSymbolicLink() ? "link" : st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
  } catch (err) {
    if (errCode(err) !== "ENOENT" && errCode(err) !== "ENOTDIR") throw ioError(`Checking ${path}`, err);
    k = "missing";
  }
  cache.set(path, k);
  return k;
}

/** Checks, without changing anything, that every entry can be placed in `outDir`. */
export async function planMerge(outDir: string, entries: MergeEntry[], force: boolean): Promise<void> {
  const cache = new Map<string, Kind>();
  for (const e of entries) {
    const segments = safeSegments(e.name);
    let path = outDir;
    for (let i = 0; i < segments.length; i++) {
      path = join(path, segments[i]);
      const k = await kindOf(path, cache);
      if (k === "missing") break;
      const last = i === segments.length - 1;
      const rel = segments.slice(0, i + 1).join("/");
      if (k === "link" && (!last || e.dir)) {
        throw unsafe(
          e.name,
          `${rel} in the output folder is a symbolic link, and extraction never writes through links`,
        );
      }
      if (!last || e.dir) {
        if (k !== "dir") {
          throw new EnvelopeError(
            "OUTPUT_EXISTS",
            `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} in the output folder is not a folder`,
            {
              hint: "remove it or extract into another folder",
            },
          );
        }
        continue;
      }
      if (k === "dir" || k === "other") {
        throw new EnvelopeError(
          "OUTPUT_EXISTS",
          `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} in the output folder is not a regular file`,
          {
            hint: "remove it or extract into another folder",
          },
        );
      }
      if (!force) {
        throw new EnvelopeError(
          "OUTPUT_EXISTS",
          `Extracting entry ${JSON.stringify(e.name)} failed: ${rel} already exists in the output folder`,
          {
            hint: "pass --force to replace existing files, or extract into another folder",
          },
        );
      }
    }
  }
}

/** Who may own the folders of a merge: the running user, and the output folder's own owner. */
export interface MergeOwners {
  readonly uid: number | undefined;
  readonly outDirOwner?: number;
}

/** A folder's device and inode, as a merge first saw it. */
type FolderId = { readonly dev: number; readonly ino: number };

function refusal(shown: string, why: string): EnvelopeError {
  return new EnvelopeError("OUTPUT_UNSAFE", `Extracting into ${shown} failed: ${why}`, {
    hint:
      "extract into a new folder, or one only you (and its owner) can change, then move the files where they belong",
  });
}

/**
 * Looks at the existing folder `path` of a merge into `shown`: undefined when
 * nothing is there; else its identity, once it proved to be a folder (not a
 * link) that no one else could change under the merge: owned by the user or
 * by the output folder's owner, and not writable by anyone without the sticky
 * bit (a folder swapped for a link could lead the moves out of the output
 * folder).
 */
export async function checkMergeFolder(
  path: string,
  shown: string,
  owners: MergeOwners,
): Promise<FolderId | undefined> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errCode(err) === "ENOENT") return undefined;
    throw ioError(`Checking ${path}`, err);
  }
  if (st.isSymbolicLink()) throw refusal(shown, `${path} is a symbolic link`);
  if (!st.isDirectory()) throw refusal(shown, `${path} is not a folder`);
  const { uid, outDirOwner } = owners;
  if (uid !== undefined && st.uid !== uid && st.uid !== (outDirOwner ?? uid)) {
    throw refusal(shown, `${path} belongs to another user (uid ${st.uid})`);
  }
  if (uid !== undefined && (st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    throw refusal(shown, `anyone may write to ${path}`);
  }
  return { dev: st.dev, ino: st.ino };
}

/**
 * Moves the staged `tree` into `outDir` (after {@linkcode planMerge}). First
 * every existing folder on the way of every entry is checked
 * ({@linkcode checkMergeFolder}), before anything moves. Then, before each
 * move, every folder on the way is looked at again and must still be the one
 * seen (the same device and inode, not a link); missing ones are made one at
 * a time. A folder swapped for a link meanwhile stops the merge instead of
 * leading a file out of `outDir`.
 */
export async function applyMerge(
  tree: string,
  outDir: string,
  entries: MergeEntry[],
  owners: MergeOwners = { uid: undefined },
): Promise<void> {
  const seen = new Map<string, FolderId>();
  const missing = new Set<string>();
  const foldersOf = (e: MergeEntry) => {
    const rel = safeSegments(e.name);
    const n = e.dir ? rel.length : rel.length - 1;
    return { rel, dirs: Array.from({ length: n + 1 }, (_, i) => join(outDir, ...rel.slice(0, i))) };
  };
  for (const e of entries) {
    for (const dir of foldersOf(e).dirs) {
      if (seen.has(dir) || missing.has(dir)) continue;
      const id = await checkMergeFolder(dir, outDir, owners);
      if (id) seen.set(dir, id);
      else missing.add(dir);
    }
  }
  const same = async (dir: string, id: FolderId) => {
    const st = await lstat(dir).catch(() => null);
    if (!st || st.isSymbolicLink() || !st.isDirectory() || st.dev !== id.dev || st.ino !== id.ino) {
      throw refusal(outDir, `${dir} was replaced while files were moved into it`);
    }
  };
  for (const e of entries) {
    const { rel, dirs } = foldersOf(e);
    try {
      for (const dir of dirs) {
        const id = seen.get(dir);
        if (id) {
          await same(dir, id);
          continue;
        }
        await mkdir(dir).catch((err) => {
          if (errCode(err) !== "EEXIST") throw err;
        });
        const made = await checkMergeFolder(dir, outDir, owners);
        if (!made) throw refusal(outDir, `${dir} was removed while files were moved into it`);
        seen.set(dir, made);
      }
      if (!e.dir) await rename(join(tree, ...rel), join(outDir, ...rel));
    } catch (err) {
      throw ioError(`Moving ${e.name} into ${outDir}`, err);
    }
  }
}
