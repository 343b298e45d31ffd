/**
 * `envelope keygen`: a new local key file, mode 0600; with `--age [--pq]` a
 * new age identity file (mode 0600), printing its recipient.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { createLocalKeyFile, defaultLocalKeyPath } from "../../keys/local_file.ts";
import { parseArgs } from "../args.ts";
import { missingFolder } from "../io_errors.ts";
import { currentVerbosity, note, report, say, status, warn } from "../output.ts";
import { USAGE } from "../usage.ts";
import { importLater } from "../../import_later.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "force", kind: "boolean" },
  { name: "age", kind: "boolean" },
  { name: "pq", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** Runs `envelope keygen`; returns the exit code. */
export async function keygenCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "keygen");
  if (flags.help) {
    say(USAGE.keygen);
    return 0;
  }
  if (positionals.length > 0) {
    throw new EnvelopeError("USAGE", "Reading the command line failed: keygen takes no INPUT", {
      hint: "use -o PATH to choose where the key goes",
    });
  }
  if (flags.pq && !flags.age) {
    throw new EnvelopeError("USAGE", "Reading the command line failed: --pq needs --age", {
      hint: "run `envelope keygen --age --pq -o PATH` for a post-quantum age identity",
    });
  }
  if (flags.age) {
    const out = flags.output as string | undefined;
    if (out === undefined) {
      throw new EnvelopeError("USAGE", "Reading the command line failed: keygen --age needs -o PATH", {
        hint: "give -o PATH for the identity file (mode 0600), or -o - to print it",
      });
    }
    const { createIdentityFile } = await importLater<typeof import("../age_files.ts")>(
      import.meta.url,
      "../age_files.ts",
    );
    const recipient = await createIdentityFile(out, { pq: Boolean(flags.pq), force: Boolean(flags.force) });
    // The recipient is public: on stdout, unless the identity itself went there.
    report({ command: "keygen", ok: true, file: out, keys: [{ provider: "age", keyId: recipient }] });
    if (out === "-") note(`public key: ${recipient}`);
    else {
      if (!currentVerbosity().json) say(recipient);
      warn(`back up ${out}: files encrypted for ${recipient.slice(0, 16)}... cannot be decrypted without it`, true);
    }
    return 0;
  }
  if (flags.output === "-") {
    throw new EnvelopeError("USAGE", "Reading the command line failed: a local key is written to a file, not stdout", {
      hint: "give -o PATH (the file is made with mode 0600); keygen --age -o - prints an age identity",
    });
  }
  const path = (flags.output as string | undefined) ?? defaultLocalKeyPath();
  // The default key's folder is made on first use; a folder named with -o must exist, as for every other output.
  const missing = flags.output === undefined ? undefined : missingFolder("Writing", path);
  if (missing) throw missing;
  const key = await createLocalKeyFile(path, { force: Boolean(flags.force) });
  report({ command: "keygen", ok: true, file: path, keys: [{ provider: "local", keyId: key.keyId }] });
  status(`created local key ${key.keyId} at ${path}`);
  warn(`back up ${path}: files encrypted with it cannot be decrypted without it`, true);
  key.dispose();
  return 0;
}
