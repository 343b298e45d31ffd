/**
 * `envelope keygen`: a new local key file, mode 0600.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { createLocalKeyFile, defaultLocalKeyPath } from "../../keys/local_file.ts";
import { parseArgs } from "../args.ts";
import { say, warn } from "../output.ts";
import { USAGE } from "../usage.ts";

const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "force", kind: "boolean" },
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
  const path = (flags.output as string | undefined) ?? defaultLocalKeyPath();
  const key = await createLocalKeyFile(path, { force: Boolean(flags.force) });
  say(`created local key ${key.keyId} at ${path}`);
  warn(`back up ${path}: files encrypted with it cannot be decrypted without it`);
  key.dispose();
  return 0;
}
