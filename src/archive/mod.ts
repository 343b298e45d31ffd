/**
 * Folder archives: deterministic streaming zip creation and safe extraction.
 *
 * File-system code: uses `node:fs` and `node:path`, so it runs on Deno and
 * Node, not in browsers.
 *
 * @module
 */
export { AHEAD, zipDirectory, zipSingleFile } from "./zip.ts";
export type { Deflate, LinkPolicy, ZipDirectoryOptions, ZipLayout, ZipSingleFileOptions } from "./zip.ts";
export { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL_BYTES, EXTRACT_CONCURRENCY, extractZip } from "./unzip.ts";
export type { ExtractLinkPolicy, ExtractSummary, ExtractZipOptions } from "./unzip.ts";
