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
 * A project file is used only when the user running envelope owns it and no
 * one else can write to it, and the search stops at the home folder.
 * The context comes from the nearest file that has one (`-c` replaces it
 * whole). A file is JSON: `{ "keys": ["aws-kms:alias/team", "age1..."],
 * "context": { "project": "x" } }`; any other field, or a value of the
 * wrong type, is refused (CONFIG_INVALID), so a typo never silently drops a
 * key. A run that takes its keys from a file or the environment says where
 * from, on stderr, since a file found upward may not be the user's own.
 *
 * @module
 */
import { type FileStats, readFile, stat } from "../host/fs.ts";
import { dirname, join, resolve } from "../host/path.ts";
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

/** Config files are small; anything larger is refused before it is read whole. */
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
    throw invalid(path, `it is not JSON (${(e as Error).message})`);
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

/**
 * What is at `path`, or `undefined` when nothing is (the usual case for
 * config files). A stat, synchronous under Deno, says "absent" for about a
 * tenth of what a failed read costs there [0.02-0.1 ms against 0.3-0.9 ms, by
 * hand]; the lookup tries up to one path per folder up to the home folder,
 * on every encrypt. Other errors are left to the read to report.
 */
async function statIfThere(path: string): Promise<FileStats | "unknown" | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === "ENOENT" || code === "ENOTDIR" ? undefined : "unknown";
  }
}

async function readConfig(path: string): Promise<EnvelopeConfig | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new EnvelopeError("CONFIG_INVALID", `Reading the config file ${path} failed: ${(e as Error).message}`, {
      hint: "check its permissions, or remove it",
    });
  }
  if (bytes.length > MAX_CONFIG_BYTES) throw invalid(path, `it is over ${MAX_CONFIG_BYTES} bytes`);
  return parseConfig(new TextDecoder().decode(bytes), path);
}

/**
 * Whether a project file found upward may speak for the user: it must be
 * owned by the user running envelope and writable by nobody else, as git
 * treats a repository another user owns (`safe.directory`). Otherwise it is
 * ignored, with a warning: another user could plant one in a shared folder
 * (`/tmp`, a shared project root) and steer what `encrypt` wraps for.
 */
function trusted(path: string, st: FileStats | "unknown"): boolean {
  const uid = userId();
  if (uid === undefined) return true; // no owners to compare (Windows)
  if (st === "unknown") return true; // the stat failed (not for absence): readConfig reports it
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
    // Trusted first: a file planted by someone else is not even parsed (a broken one must not stop encrypt).
    const st = await statIfThere(path);
    const config = st !== undefined && trusted(path, st) ? await readConfig(path) : undefined;
    if (config) return { path, config };
    const up = dirname(dir);
    if (up === dir || dir === stop) return undefined;
    dir = up;
  }
}

/** The user's config file path. */
export function userConfigPath(): string {
  const xdg = getEnv("XDG_CONFIG_HOME");
  const home = getEnv("HOME") ?? getEnv("USERPROFILE") ?? ".";
  return join(xdg ?? join(home, ".config"), "envelope", "config.json");
}

/** The defaults for this run (see the module's notes for the order). */
export async function loadDefaults(cwd: string = workingFolder()): Promise<Defaults> {
  const project = await projectConfig(cwd);
  const userPath = userConfigPath();
  const user = await statIfThere(userPath) === undefined ? undefined : await readConfig(userPath);
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
