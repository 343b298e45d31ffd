/**
 * `envelope key-id FILE...`: the key id of each key file, as headers, inspect
 * and NO_KEY_MATCHED hints name it (`local:<16 hex>`, or `age:<recipient>` for
 * each identity of an age identity file), so a user can tell which file opens
 * which wrapped key. It prints only public ids, never key material.
 *
 * @module
 */
import { open, stat } from "../../host/fs.ts";
import { EnvelopeError } from "../../errors.ts";
import { loadLocalKeyFile } from "../../keys/local_file.ts";
import { parseArgs, usageError } from "../args.ts";
import { loadIdentityFiles } from "../age_files.ts";
import { currentVerbosity, escapeControls as esc, report, say, warn } from "../output.ts";
import { ioError } from "../io_errors.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** Runs `envelope key-id`; returns the exit code. */
export async function keyIdCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "key-id");
  if (flags.help) {
    say(USAGE["key-id"]);
    return 0;
  }
  if (positionals.length === 0) {
    throw usageError("key-id", "Reading the command line failed: give at least one key FILE");
  }
  const found: { provider: string; keyId: string; file: string }[] = [];
  const show = (provider: string, keyId: string, file: string) => {
    found.push({ provider, keyId, file });
    if (!currentVerbosity().json) say(`${provider}:${keyId}  ${esc(file)}`);
  };
  for (const path of positionals) {
    const start = await firstText(path);
    if (start === undefined) {
      // Not a regular file (`<(cat id.txt)`, a device): only an age identity file may be one, and it can be read
      // once only, so no look ahead; the loader bounds it (256 KiB).
      for (const id of await loadIdentityFiles([path])) show("age", id.keyId, path);
    } else if (start.startsWith("ENVELOPE-LOCAL-KEY-V1:")) {
      const key = await loadLocalKeyFile(path, {
        onInsecurePermissions: (p, mode) =>
          warn(`the key file ${p} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${p}`),
      });
      show("local", key.keyId, path);
      key.dispose();
    } else if (/^(#|AGE-SECRET-KEY-)/.test(start)) {
      for (const id of await loadIdentityFiles([path])) show("age", id.keyId, path);
    } else {
      throw new EnvelopeError(
        "INVALID_KEY",
        `Reading the key file ${esc(path)} failed: it is not a key file envelope knows`,
        {
          hint: "give a local key file (from `envelope keygen`) or an age identity file (AGE-SECRET-KEY-...)",
        },
      );
    }
  }
  report({ command: "key-id", ok: true, keys: found });
  return 0;
}

/**
 * The first bytes of the regular file `path` as text, blank lines skipped,
 * which tell the kinds apart (the loaders then bound and check the whole
 * file themselves); undefined for anything else than a regular file.
 */
async function firstText(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!st.isFile()) return undefined;
    const fh = await open(path, "r");
    try {
      const buf = new Uint8Array(256);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return new TextDecoder().decode(buf.subarray(0, bytesRead)).trimStart();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw ioError("Reading", path, e);
  }
}
