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
import { hardwareThreads } from "../host/worker.ts";
import { detail, note, warn } from "./output.ts";

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

/**
 * What to print for an entry left out of a folder. A link the user asked to
 * skip (`--symlinks skip`, the zip's or the extraction's "links are
 * skipped") is what they asked for: one `note:` line says so the first time,
 * and each link is a `detail:` line (`-v`). Anything else left out (a link
 * that leads outside the folder, under `follow`) is a warning each time.
 */
export function skipReporter(): (message: string) => void {
  let told = false;
  return (message) => {
    const line = message.charAt(0).toLowerCase() + message.slice(1);
    if (!/: links are skipped$/.test(message)) return warn(line);
    if (!told) {
      told = true;
      note("symbolic links are left out (--symlinks skip); -v lists each");
    }
    detail(line);
  };
}

/**
 * Zip workers for `--parallelism` (undefined: the number of cores), which
 * counts the main thread: N-1 workers read and deflate small files and
 * deflate large ones in pieces (archive/zip_workers.ts), at most
 * {@linkcode MAX_ZIP_WORKERS}; 1: all on the main thread.
 */
export function zipWorkers(parallelism: number | undefined): number {
  const threads = parallelism ?? hardwareThreads();
  return Math.min(MAX_ZIP_WORKERS, threads - 1);
}

/**
 * Zip workers at most: each costs its own heap, and the zip writer's
 * window (`AHEAD`, `AHEAD_BYTES` in archive/zip.ts) holds at most 8 MiB of
 * files, so more workers would mostly wait for one another's share.
 */
export const MAX_ZIP_WORKERS = 4;

/**
 * How `-d` zips a folder: level {@linkcode DIR_LEVEL}, times kept, links as asked, skips reported, on
 * {@linkcode zipWorkers} workers.
 */
export function dirZipOptions(links: LinkPolicy, parallelism?: number): ZipDirectoryOptions {
  return { level: DIR_LEVEL, times: true, links, onWarning: skipReporter(), workers: zipWorkers(parallelism) };
}
