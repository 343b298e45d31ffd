/**
 * Local key files on disk: where the default key lives, loading it (bounded,
 * with a check of its permissions), and creating it on first use with mode
 * 0600, atomically, so concurrent first runs all end up with one key. Uses
 * the host's file calls (../host/fs.ts: Deno's own under Deno, Node's on
 * Node); the browser entry never imports it.
 *
 * @module
 */
import {
  chmod,
  type FileHandle,
  type FileStats,
  link,
  lstat,
  mkdir,
  open,
  openFileNoWait,
  realpath,
  rename,
  stat,
  unlink,
} from "../host/fs.ts";
import { basename, dirname, join } from "../host/path.ts";
import { getEnv } from "../host/env.ts";
import { homeDir, isWindows, pid } from "../host/process.ts";
import { randomBytes } from "../crypto/random.ts";
import { encodeHex } from "../encoding/base64.ts";
import { EnvelopeError } from "../errors.ts";
import { LocalKey } from "./local.ts";

/** The largest key file read (a key file made by `envelope keygen` is 66 bytes). */
const MAX_KEY_FILE_BYTES = 4096;

function errno(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/**
 * Options for loading a key file. (Spelled out in each signature below, so
 * the public API refers to no type `./fs` does not export.)
 */
export type LoadLocalKeyOptions = NonNullable<Parameters<typeof loadLocalKeyFile>[1]>;

function keyFileError(path: string, why: string, hint: string): EnvelopeError {
  return new EnvelopeError("INVALID_KEY", `Loading the local key ${path} failed: ${why}`, { hint });
}

function checkPermissions(path: string, st: FileStats, options: LoadLocalKeyOptions): void {
  const mode = st.mode & 0o777;
  if (isWindows || (mode & 0o077) === 0) return;
  const how = options.onInsecurePermissions ?? "warn";
  if (typeof how === "function") return how(path, mode);
  const what = `the key file ${path} is accessible to other users (mode ${mode.toString(8).padStart(4, "0")})`;
  if (how === "throw") throw keyFileError(path, what, `run chmod 600 ${path}`);
  if (how === "warn") console.warn(`warning: ${what}; run chmod 600 ${path}`);
}

/** Refuses what is not a regular file of key-file size. */
function checkShape(path: string, st: FileStats): void {
  if (!st.isFile()) {
    throw keyFileError(
      path,
      st.isDirectory() ? "it is a directory" : "it is not a regular file",
      "pass a key file made by `envelope keygen`",
    );
  }
  if (st.size > MAX_KEY_FILE_BYTES) {
    throw keyFileError(path, "the file is too large to be a key file", "pass a key file made by `envelope keygen`");
  }
}

/** Reads at most `limit` bytes from `fh`. */
async function readUpTo(fh: FileHandle, limit: number): Promise<Uint8Array> {
  const buf = new Uint8Array(limit);
  let n = 0;
  while (n < limit) {
    const { bytesRead } = await fh.read(buf, n, limit - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/**
 * `$ENVELOPE_LOCAL_KEY`, else `~/.config/envelope/local.key`.
 *
 * @example Where the CLI looks for its key
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultLocalKeyPath } from "../fs.ts";
 * const path = defaultLocalKeyPath();
 * assert.ok(path === Deno.env.get("ENVELOPE_LOCAL_KEY") || path.endsWith("local.key"));
 * ```
 */
export function defaultLocalKeyPath(): string {
  const fromEnv = getEnv("ENVELOPE_LOCAL_KEY");
  if (fromEnv) return fromEnv;
  return join(homeDir(), ".config", "envelope", "local.key");
}

/**
 * Loads a key file. It must be a regular file of at most 4096 bytes: that is
 * checked before it is opened (a FIFO or `/dev/zero` is refused at once, not
 * read), again on the open file, and at most 4097 bytes are ever read. A key
 * file others can access is reported as `options.onInsecurePermissions` says
 * (default: a console warning).
 *
 * @example Loading a key file made earlier
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLocalKeyFile, loadLocalKeyFile } from "../fs.ts";
 * const dir = await Deno.makeTempDir();
 * const made = await createLocalKeyFile(`${dir}/local.key`);
 * const loaded = await loadLocalKeyFile(`${dir}/local.key`);
 * assert.equal(loaded.keyId, made.keyId);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Refusing, or reporting, a key file others can read
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEnvelopeError } from "../../mod.ts";
 * import { createLocalKeyFile, loadLocalKeyFile } from "../fs.ts";
 * const dir = await Deno.makeTempDir();
 * await createLocalKeyFile(`${dir}/local.key`);
 * await Deno.chmod(`${dir}/local.key`, 0o644);
 * const err = await loadLocalKeyFile(`${dir}/local.key`, { onInsecurePermissions: "throw" }).catch((e) => e);
 * assert.ok(isEnvelopeError(err, "INVALID_KEY"));
 * const seen: string[] = [];
 * await loadLocalKeyFile(`${dir}/local.key`, {
 *   onInsecurePermissions: (path, mode) => seen.push(`${path} ${mode.toString(8)}`),
 * });
 * assert.deepEqual(seen, [`${dir}/local.key 644`]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadLocalKeyFile(
  path: string,
  options: {
    /**
     * What to do when the key file's group or other users have any access
     * (mode & 0o077; docs/FORMAT.md §6 says a key file MUST NOT be readable by
     * others): `"warn"` (the default) prints a `console.warn`, `"throw"`
     * refuses with `INVALID_KEY`, `"ignore"` says nothing, and a function is
     * called with the path and the file's permission bits. Not checked on
     * Windows, where the mode bits do not say who can read a file.
     */
    readonly onInsecurePermissions?: "warn" | "throw" | "ignore" | ((path: string, mode: number) => void);
  } = {},
): Promise<LocalKey> {
  let fh: FileHandle | undefined;
  let bytes: Uint8Array;
  try {
    checkShape(path, await stat(path));
    // Should the path become a FIFO after the stat, opening it does not wait for a writer (the stat below refuses it).
    fh = await openFileNoWait(path);
    const st = await fh.stat();
    checkShape(path, st);
    checkPermissions(path, st, options);
    bytes = await readUpTo(fh, MAX_KEY_FILE_BYTES + 1);
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    const code = errno(e);
    throw keyFileError(
      path,
      code === "ENOENT" ? "the file does not exist" : (e as Error).message,
      code === "ENOENT"
        ? "create it with `envelope keygen -o PATH`, or check the path"
        : "check the file's permissions",
    );
  } finally {
    await fh?.close().catch(() => {});
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) {
    throw keyFileError(path, "the file is too large to be a key file", "pass a key file made by `envelope keygen`");
  }
  try {
    return await LocalKey.fromText(new TextDecoder().decode(bytes));
  } catch (e) {
    if (e instanceof EnvelopeError) {
      throw new EnvelopeError(e.code, e.message.replace("the local key", `the local key ${path}`), { hint: e.hint });
    }
    throw e;
  }
}

function createError(path: string, e: unknown): EnvelopeError {
  const code = errno(e);
  const why = code === "ENOSPC" || code === "EDQUOT"
    ? "no space left on the device"
    : code === "EROFS"
    ? "the file system is read-only"
    : (e as Error).message;
  return new EnvelopeError(
    code === "ENOSPC" || code === "EDQUOT" ? "NO_SPACE" : code === "EROFS" ? "READ_ONLY" : "IO_FAILED",
    `Creating the key file ${path} failed: ${why}`,
    { hint: `check ${dirname(path)}: its space and permissions, or choose another path` },
  );
}

function existsError(path: string): EnvelopeError {
  return new EnvelopeError("OUTPUT_EXISTS", `Creating the key file ${path} failed: it already exists`, {
    hint: "choose another path, or pass --force to replace it (data encrypted under the old key becomes unreadable)",
  });
}

/**
 * Writes a new key file with mode 0600; refuses to overwrite unless `force`.
 * The key is written whole to a temporary file beside `path` and then linked
 * into place, so no reader ever sees a half-written key, and of several
 * processes creating the same path at once exactly one succeeds (the others
 * get `OUTPUT_EXISTS`). With `force` a link at `path` is followed and its
 * target replaced.
 *
 * @example Creating a key file, and the refusal to overwrite it
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEnvelopeError } from "../../mod.ts";
 * import { createLocalKeyFile } from "../fs.ts";
 * const dir = await Deno.makeTempDir();
 * await createLocalKeyFile(`${dir}/keys/local.key`);
 * const again = await createLocalKeyFile(`${dir}/keys/local.key`).catch((e) => e);
 * assert.ok(isEnvelopeError(again, "OUTPUT_EXISTS"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createLocalKeyFile(path: string, options: { force?: boolean } = {}): Promise<LocalKey> {
  const key = await LocalKey.generate();
  let target = path;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    if (options.force && (await lstat(path).catch(() => null))?.isSymbolicLink()) target = await realpath(path);
    const there = options.force ? await stat(target).catch(() => null) : null;
    if (there && !there.isFile()) {
      // --force replaces a key file, never a device, FIFO or folder (as root, `-o /dev/null` would be renamed over).
      throw new EnvelopeError("OUTPUT_UNSAFE", `Creating the key file ${path} failed: it is not a regular file`, {
        hint: "choose a file path for the key",
      });
    }
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw createError(path, e);
  }
  const temp = join(dirname(target), `.${basename(target)}.envelope-${pid}-${encodeHex(randomBytes(6))}.part`);
  try {
    const fh = await open(temp, "wx", 0o600);
    try {
      // Exactly 0600, whatever the umask took off at the create: by path only when the open file says otherwise
      // (Deno's files have no fchmod), so a link swapped in for the temporary name is not followed in the usual case.
      if (((await fh.stat()).mode & 0o777) !== 0o600) await chmod(temp, 0o600);
      await writeWhole(fh, new TextEncoder().encode(key.toText()));
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.force) {
      await rename(temp, target);
    } else {
      await placeNoReplace(temp, target, key);
    }
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw createError(path, e);
  } finally {
    await unlink(temp).catch(() => {});
  }
  return key;
}

/** Links `temp` to `path`, failing with OUTPUT_EXISTS if anything is there. */
async function placeNoReplace(temp: string, path: string, key: LocalKey): Promise<void> {
  try {
    await link(temp, path);
    return;
  } catch (e) {
    const code = errno(e);
    if (code === "EEXIST") throw existsError(path);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
  }
  // No hard links on this file system: an exclusive create, written in place.
  let fh;
  try {
    fh = await open(path, "wx", 0o600);
  } catch (e) {
    if (errno(e) === "EEXIST") throw existsError(path);
    throw e;
  }
  try {
    await writeWhole(fh, new TextEncoder().encode(key.toText()));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeWhole(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
}

/**
 * Loads the key file at `path`, creating it first when it does not exist;
 * `onCreate` is told the path so the caller can warn the user to back it up.
 * When several processes do this at once, one creates the key and the others
 * load it. `options` are {@linkcode loadLocalKeyFile}'s.
 *
 * @example First use creates the key, later uses load it
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOrCreateLocalKey } from "../fs.ts";
 * const dir = await Deno.makeTempDir();
 * const created: string[] = [];
 * const first = await loadOrCreateLocalKey(`${dir}/local.key`, (p) => created.push(p));
 * const second = await loadOrCreateLocalKey(`${dir}/local.key`, (p) => created.push(p));
 * assert.deepEqual(created, [`${dir}/local.key`]);
 * assert.equal(second.keyId, first.keyId);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadOrCreateLocalKey(
  path: string,
  onCreate: (path: string) => void,
  options: {
    /** As {@linkcode loadLocalKeyFile}'s: `"warn"` (default), `"throw"`, `"ignore"`, or a function of path and mode. */
    readonly onInsecurePermissions?: "warn" | "throw" | "ignore" | ((path: string, mode: number) => void);
  } = {},
): Promise<LocalKey> {
  try {
    await stat(path);
  } catch (e) {
    if (errno(e) !== "ENOENT") {
      throw new EnvelopeError("IO_FAILED", `Reading the local key ${path} failed: ${(e as Error).message}`, {
        hint: "check the path and its permissions",
      });
    }
    try {
      const k = await createLocalKeyFile(path);
      onCreate(path);
      return k;
    } catch (err) {
      if (!(err instanceof EnvelopeError && err.code === "OUTPUT_EXISTS")) throw err;
      // Another process created it first (whole, it was linked into place): load theirs.
    }
  }
  return await loadLocalKeyFile(path, options);
}
