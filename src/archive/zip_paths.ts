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
import { dirname, join } from "node:path";
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

/** The `/`-separated segments of a safe name, or a thrown `UNSAFE_PATH`. */
export function safeSegments(name: string): string[] {
  if (name.length === 0) throw unsafe(name, "the name is empty");
  if (name.includes("\0")) throw unsafe(name, "the name contains a NUL character");
  if (name.includes("\\")) throw unsafe(name, "the name contains a backslash");
  if (name.startsWith("/")) throw unsafe(name, "the path is absolute");
  if (/^[A-Za-z]:/.test(name)) throw unsafe(name, "the path starts with a drive letter");
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  for (const s of segments) {
    if (s === "..") throw unsafe(name, "the path contains a .. segment");
    if (s === "" || s === ".") throw unsafe(name, "the path has an empty or . segment");
  }
  return segments;
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

/** Moves the staged `tree` into `outDir`, entry by entry (after {@linkcode planMerge}). */
export async function applyMerge(tree: string, outDir: string, entries: MergeEntry[]): Promise<void> {
  for (const e of entries) {
    const rel = safeSegments(e.name);
    const target = join(outDir, ...rel);
    try {
      if (e.dir) {
        await mkdir(target, { recursive: true });
      } else {
        await mkdir(dirname(target), { recursive: true });
        await rename(join(tree, ...rel), target);
      }
    } catch (err) {
      throw ioError(`Moving ${e.name} into ${outDir}`, err);
    }
  }
}
