/**
 * File-system helpers for Deno and Node (not for browsers): local key files
 * and random access to encrypted files on disk.
 *
 * @example Decrypting part of a file on disk
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, LocalKey, openRandomAccess } from "../mod.ts";
 * import { fileSource } from "./fs.ts";
 * const key = await LocalKey.generate();
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, await encrypt(new TextEncoder().encode("0123456789"), { keys: key }));
 * const reader = await openRandomAccess(await fileSource(path), { keys: key });
 * assert.ok(new TextDecoder().decode(await reader.read(3, 4)) === "3456");
 * await reader.close();
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
export { createLocalKeyFile, defaultLocalKeyPath, loadLocalKeyFile, loadOrCreateLocalKey } from "./keys/local_file.ts";
export { fileSource } from "./io/file_source.ts";
