/**
 * The CLI's entry: picks the command, runs it, turns errors into `error:` /
 * `hint:` lines and an exit code (0 success, 1 failure, 2 usage, 141 when the
 * reader of stdout went away, as age and cat give).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { exitQuietlyOnClosedStdout, reportError, say } from "./output.ts";
import { USAGE } from "./usage.ts";

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

type Command = (argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  encrypt: async () => (await import("./commands/encrypt.ts")).encryptCommand,
  decrypt: async () => (await import("./commands/decrypt.ts")).decryptCommand,
  inspect: async () => (await import("./commands/inspect.ts")).inspectCommand,
  rewrap: async () => (await import("./commands/rewrap.ts")).rewrapCommand,
  keygen: async () => (await import("./commands/keygen.ts")).keygenCommand,
  convert: async () => (await import("./commands/convert.ts")).convertCommand,
  "extract-key": async () => (await import("./commands/extract_key.ts")).extractKeyCommand,
  policy: async () => (await import("./commands/policy.ts")).policyCommand,
};

/** Registers a command (the compatibility commands add themselves here). */
export function registerCommand(name: string, load: () => Promise<Command>): void {
  COMMANDS[name] = load;
}

/** Runs the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  exitQuietlyOnClosedStdout();
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      say(USAGE[""]);
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "-V") {
      say(`envelope ${VERSION}`);
      return 0;
    }
    const load = COMMANDS[name];
    if (!load) {
      throw new EnvelopeError("USAGE", `Reading the command line failed: unknown command "${name}"`, {
        hint: "run `envelope --help` for the commands",
      });
    }
    return await (await load())(rest);
  } catch (e) {
    return reportError(e);
  }
}
