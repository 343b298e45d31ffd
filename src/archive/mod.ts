/**
 * Folder archives: deterministic streaming zip creation and safe extraction.
 *
 * File-system code: uses `node:fs` and `node:path`, so it runs on Deno and
 * Node, not in browsers.
 *
 * @module
 */
export { zipDirectory, zipSingleFile } from "./zip.ts";
export type { ZipDirectoryOptions, ZipLayout, ZipSingleFileOptions } from "./zip.ts";
export { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL_BYTES, extractZip } from "./unzip.ts";
export type { ExtractSummary, ExtractZipOptions } from "./unzip.ts";
