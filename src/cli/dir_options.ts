/**
 * The directory options of `encrypt -d` and `decrypt -d`: the deflate level
 * the CLI zips with, keeping modification times, and `--symlinks`, which
 * says what becomes of symbolic links each way.
 *
 * @module
 */
import type { LinkPolicy, ZipDirectoryOptions } from "../archive/zip.ts";
import type { ExtractLinkPolicy } from "../archive/unzip.ts";
import { usageError } from "./args.ts";
import { warn } from "./output.ts";

/**
 * The level `-d` deflates with. zlib's level 3 runs about 5x faster than its
 * default 6 on source text for an archive about 4% larger (measured on the
 * scripts/bench_dirs.ts tree), and deflate is the slowest step of `-d`.
 */
export const DIR_LEVEL = 3;

/** `--symlinks`, for both commands. */
export const SYMLINK_FLAG = { name: "symlinks", kind: "string" } as const;

const ZIP_LINKS: readonly LinkPolicy[] = ["follow", "skip", "store"];
const EXTRACT_LINKS: readonly ExtractLinkPolicy[] = ["refuse", "skip", "create"];

/** `encrypt --symlinks follow|skip|store` (default follow). */
export function zipLinks(text: string | undefined): LinkPolicy {
  if (text === undefined) return "follow";
  if (!(ZIP_LINKS as readonly string[]).includes(text)) {
    throw usageError("encrypt", `Reading --symlinks failed: "${text}" is not ${ZIP_LINKS.join(", ")}`);
  }
  return text as LinkPolicy;
}

/** `decrypt --symlinks refuse|skip|create` (default refuse). */
export function extractLinks(text: string | undefined): ExtractLinkPolicy {
  if (text === undefined) return "refuse";
  if (!(EXTRACT_LINKS as readonly string[]).includes(text)) {
    throw usageError("decrypt", `Reading --symlinks failed: "${text}" is not ${EXTRACT_LINKS.join(", ")}`);
  }
  return text as ExtractLinkPolicy;
}

/** How `-d` zips a folder: level {@linkcode DIR_LEVEL}, times kept, links as asked, skips as warnings. */
export function dirZipOptions(links: LinkPolicy): ZipDirectoryOptions {
  return { level: DIR_LEVEL, times: true, links, onWarning: (m) => warn(m.charAt(0).toLowerCase() + m.slice(1)) };
}
