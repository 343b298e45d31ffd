/**
 * Local key files on disk: where the default key lives, loading it, and
 * creating it on first use with mode 0600. Uses `node:` modules so it runs
 * on Deno and Node alike; the browser entry never imports it.
 *
 * @module
 */
import { mkdir, open, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { EnvelopeError } from "../errors.ts";
import { LocalKey } from "./local.ts";

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
  const fromEnv = process.env.ENVELOPE_LOCAL_KEY;
  if (fromEnv) return fromEnv;
  const home = process.env.HOME || homedir();
  return join(home, ".config", "envelope", "local.key");
}

/**
 * Loads a key file.
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
 */
export async function loadLocalKeyFile(path: string): Promise<LocalKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new EnvelopeError(
      "INVALID_KEY",
      `Loading the local key ${path} failed: ${code === "ENOENT" ? "the file does not exist" : (e as Error).message}`,
      {
        hint: code === "ENOENT"
          ? "create it with `envelope keygen -o PATH`, or check the path"
          : "check the file's permissions",
      },
    );
  }
  if (text.length > 4096) {
    throw new EnvelopeError(
      "INVALID_KEY",
      `Loading the local key ${path} failed: the file is too large to be a key file`,
      {
        hint: "pass a key file made by `envelope keygen`",
      },
    );
  }
  try {
    return await LocalKey.fromText(text);
  } catch (e) {
    if (e instanceof EnvelopeError) {
      throw new EnvelopeError(e.code, e.message.replace("the local key", `the local key ${path}`), { hint: e.hint });
    }
    throw e;
  }
}

/**
 * Writes a new key file with mode 0600; refuses to overwrite unless `force`.
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
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let fh;
  try {
    fh = await open(path, options.force ? "w" : "wx", 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === "EEXIST") {
      throw new EnvelopeError("OUTPUT_EXISTS", `Creating the key file ${path} failed: it already exists`, {
        hint:
          "choose another path, or pass --force to replace it (data encrypted under the old key becomes unreadable)",
      });
    }
    throw new EnvelopeError("IO_FAILED", `Creating the key file ${path} failed: ${(e as Error).message}`);
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(key.toText(), "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  return key;
}

/**
 * Loads the key file at `path`, creating it first when it does not exist;
 * `onCreate` is told the path so the caller can warn the user to back it up.
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
export async function loadOrCreateLocalKey(path: string, onCreate: (path: string) => void): Promise<LocalKey> {
  try {
    await stat(path);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") {
      throw new EnvelopeError("IO_FAILED", `Reading the local key ${path} failed: ${(e as Error).message}`);
    }
    try {
      const k = await createLocalKeyFile(path);
      onCreate(path);
      return k;
    } catch (err) {
      if (!(err instanceof EnvelopeError && err.code === "OUTPUT_EXISTS")) throw err;
      // Another process created it first: load theirs.
    }
  }
  return await loadLocalKeyFile(path);
}
