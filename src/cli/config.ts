/**
 * Defaults without flags: the keys and context `encrypt` uses when no `-k`,
 * `-R` or `-c` is given, so a team can share "encrypt for these three keys"
 * in its repository, as sops users do with `.sops.yaml`. In order, the first
 * that names keys wins:
 *
 * 1. `ENVELOPE_KEYS`: key specs separated by commas;
 * 2. `.envelope.json` in the current folder or the nearest folder above it;
 * 3. `$XDG_CONFIG_HOME/envelope/config.json` (else `~/.config/envelope/config.json`).
 *
 * A project file is used only when it is a regular file (a link named
 * `.envelope.json` is not followed: a repository can ship one pointing at
 * /dev/stdin), the user running envelope owns it and no one else can write
 * to it, all checked on the handle its bytes are read from; anything else is
 * ignored with a warning, and the search stops at the home folder. `local:`
 * paths in a file are relative to the file's folder. Nothing is looked up
 * when `-k`/`-R` and `-c` are all given.
 * The context comes from the nearest file that has one (`-c` replaces it
 * whole). A file is JSON: `{ "keys": ["aws-kms:alias/team", "age1..."],
 * "context": { "project": "x" } }`; any other field, or a value of the
 * wrong type, is refused (CONFIG_INVALID), so a typo never silently drops a
 * key. A run that takes its keys from a file or the environment says where
 * from, on stderr, since a file found upward may not be the user's own.
 *
 * @module
 */
import { type FileHandle, type FileStats, lstat, openFileNoWait, realpath, stat } from "../host/fs.ts";
import { dirname, isAbsolute, join, resolve } from "../host/path.ts";
import { cwd as workingFolder, uid as userId } from "../host/process.ts";
import { EnvelopeError } from "../errors.ts";
import { getEnv } from "../host/env.ts";
import { warn } from "./output.ts";

/** What a config file holds. */
export interface EnvelopeConfig {
  readonly keys?: readonly string[];
  readonly context?: Readonly<Record<string, string>>;
}

/** The defaults in force, and where each came from. */
export interface Defaults {
  readonly keys?: readonly string[];
  readonly keysFrom?: string;
  readonly context?: Readonly<Record<string, string>>;
  readonly contextFrom?: string;
}

/** The project file's name. */
export const PROJECT_FILE = ".envelope.json";

/** Config files are small; no more than this (and a byte) is read. */
const MAX_CONFIG_BYTES = 64 * 1024;

function invalid(path: string, why: string): EnvelopeError {
  return new EnvelopeError("CONFIG_INVALID", `Reading the config file ${path} failed: ${why}`, {
    hint:
      'a config file is JSON such as {"keys": ["aws-kms:alias/team"], "context": {"project": "x"}}; fix or remove it',
  });
}

/** Parses and checks one config file's text. */
export function parseConfig(text: string, path: string): EnvelopeConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // The parser's message quotes the text: only where it stopped is said (the file may not be what it seems).
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw invalid(path, `it is not JSON${at === undefined ? "" : ` (at character ${at})`}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw invalid(path, "it is not a JSON object");
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== "keys" && k !== "context" && k !== "$schema") {
      throw invalid(path, `"${k}" is not a field (keys, context)`);
    }
  }
  if (o.keys !== undefined) {
    if (!Array.isArray(o.keys) || o.keys.some((k) => typeof k !== "string" || k.trim() === "")) {
      throw invalid(path, '"keys" is not a list of key specs (strings)');
    }
  }
  if (o.context !== undefined) {
    const c = o.context;
    if (
      c === null || typeof c !== "object" || Array.isArray(c) || Object.values(c).some((v) => typeof v !== "string")
    ) {
      throw invalid(path, '"context" is not an object of string values');
    }
  }
  return {
    keys: o.keys as string[] | undefined,
    context: o.context as Record<string, string> | undefined,
  };
}

/** How a config file was found: upward from the working folder (anyone's repository) or the user's own. */
type Origin = "project" | "user";

/**
 * Reads the config file at `path` through one handle, or `undefined` when
 * nothing is there or a project file is ignored (with a warning). A lookup
 * tries one path per folder on every encrypt, so absence is found with one
 * `lstat` (synchronous under Deno). A project file must be a regular file,
 * not a link; the user's own may be a link (dotfile managers make them).
 * The handle's `fstat` must be the file looked at (not one swapped in
 * since), and for a project file {@linkcode trusted}; at most
 * {@linkcode MAX_CONFIG_BYTES} and a byte are read from it.
 */
async function readConfig(path: string, origin: Origin): Promise<EnvelopeConfig | undefined> {
  const ignore = (why: string) => {
    warn(`ignoring ${path}: ${why}; its keys are not used`, true);
    return undefined;
  };
  const fail = (why: string) => {
    throw new EnvelopeError("CONFIG_INVALID", `Reading the config file ${path} failed: ${why}`, {
      hint: "check its permissions, or remove it",
    });
  };
  let seen: FileStats;
  try {
    seen = origin === "project" ? await lstat(path) : await stat(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    // Something is there that cannot be looked at (a loop of links another user made): not a reason to stop.
    return origin === "project" ? ignore((e as Error).message) : fail((e as Error).message);
  }
  if (!seen.isFile()) {
    const what = seen.isSymbolicLink() ? "it is a symbolic link, which is not followed" : "it is not a regular file";
    return origin === "project" ? ignore(what) : fail(what);
  }
  let fh: FileHandle | undefined;
  try {
    fh = await openFileNoWait(path);
    const st = await fh.stat();
    if (!st.isFile() || st.dev !== seen.dev || st.ino !== seen.ino) {
      return origin === "project" ? ignore("it was replaced while it was read") : fail("it changed while it was read");
    }
    if (origin === "project" && !trusted(path, st)) return undefined;
    const buf = new Uint8Array(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = (await fh.read(buf, n, buf.length - n, n)).bytesRead) > 0;) n += r;
    if (n > MAX_CONFIG_BYTES) throw invalid(path, `it is over ${MAX_CONFIG_BYTES} bytes`);
    return parseConfig(new TextDecoder().decode(buf.subarray(0, n)), path);
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    return origin === "project" ? ignore((e as Error).message) : fail((e as Error).message);
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * Whether a project file found upward may speak for the user: it must be
 * owned by the user running envelope and writable by nobody else, as git
 * treats a repository another user owns (`safe.directory`). Otherwise it is
 * ignored, with a warning: another user could plant one in a shared folder
 * (`/tmp`, a shared project root) and steer what `encrypt` wraps for.
 */
function trusted(path: string, st: FileStats): boolean {
  const uid = userId();
  if (uid === undefined) return true; // no owners to compare (Windows)
  if (st.uid !== uid || (st.mode & 0o022) !== 0) {
    warn(
      `ignoring ${path}: ${
        st.uid !== uid ? `it belongs to another user (uid ${st.uid})` : "others can write to it"
      }; its keys are not used (chown or chmod go-w it if it is yours)`,
      true,
    );
    return false;
  }
  return true;
}

/**
 * The nearest trusted `.envelope.json` from `cwd` upward, if any. The search
 * stops at the home folder (checked last), or at the root when `cwd` is not
 * under it.
 */
async function projectConfig(cwd: string): Promise<{ path: string; config: EnvelopeConfig } | undefined> {
  let dir = resolve(cwd);
  const home = getEnv("HOME") ?? getEnv("USERPROFILE");
  const stop = home === undefined ? undefined : resolve(home);
  for (;;) {
    const path = join(dir, PROJECT_FILE);
    const config = await readConfig(path, "project");
    if (config) return { path, config };
    const up = dirname(dir);
    if (up === dir || dir === stop) return undefined;
    dir = up;
  }
}

/**
 * `keys` with each relative `local:` path made relative to the folder of the
 * file that named it, so `"local:keys/team.key"` means the same key from any
 * folder below (not a missing file, whose hint would offer to make a new key).
 */
function anchored(keys: readonly string[] | undefined, file: string): readonly string[] | undefined {
  return keys?.map((k) => {
    if (!k.startsWith("local:")) return k;
    const p = k.slice("local:".length);
    return p === "" || isAbsolute(p) || p.startsWith("~") ? k : `local:${join(dirname(file), p)}`;
  });
}

/** The user's config file path. */
export function userConfigPath(): string {
  const xdg = getEnv("XDG_CONFIG_HOME");
  const home = getEnv("HOME") ?? getEnv("USERPROFILE") ?? ".";
  return join(xdg ?? join(home, ".config"), "envelope", "config.json");
}

/** The defaults for this run (see the module's notes for the order). */
export async function loadDefaults(cwd: string = workingFolder()): Promise<Defaults> {
  const found = await projectConfig(cwd);
  const project = found && { ...found, config: { ...found.config, keys: anchored(found.config.keys, found.path) } };
  const userPath = userConfigPath();
  const read = await readConfig(userPath, "user");
  // The user's config may be a link (dotfile managers): its keys are beside the file it leads to.
  const user = read && { ...read, keys: anchored(read.keys, await realpath(userPath).catch(() => userPath)) };
  const env = getEnv("ENVELOPE_KEYS");
  const envKeys = env?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  let keys: readonly string[] | undefined;
  let keysFrom: string | undefined;
  if (envKeys && envKeys.length > 0) [keys, keysFrom] = [envKeys, "ENVELOPE_KEYS"];
  else if (project?.config.keys?.length) [keys, keysFrom] = [project.config.keys, project.path];
  else if (user?.keys?.length) [keys, keysFrom] = [user.keys, userPath];
  let context: Readonly<Record<string, string>> | undefined;
  let contextFrom: string | undefined;
  if (project?.config.context) [context, contextFrom] = [project.config.context, project.path];
  else if (user?.context) [context, contextFrom] = [user.context, userPath];
  return { keys, keysFrom, context, contextFrom };
}
