/**
 * The CLI's entry: picks the command (`envelope` alone and `envelope help [CMD]`
 * print help and exit 0, as age and git do), runs it, turns errors into `error:` /
 * `hint:` lines and an exit code (0 success, 1 failure, 2 usage, 141 when the
 * reader of stdout went away, as age and cat give).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { withCommandFlags } from "./key_hints.ts";
import { currentVerbosity, exitQuietlyOnClosedStdout, report, reportError, say } from "./output.ts";
import { USAGE } from "./usage.ts";
import { importLater } from "../import_later.ts";

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

type Command = (argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  encrypt: async () =>
    (await importLater<typeof import("./commands/encrypt.ts")>(import.meta.url, "./commands/encrypt.ts"))
      .encryptCommand,
  decrypt: async () =>
    (await importLater<typeof import("./commands/decrypt.ts")>(import.meta.url, "./commands/decrypt.ts"))
      .decryptCommand,
  inspect: async () =>
    (await importLater<typeof import("./commands/inspect.ts")>(import.meta.url, "./commands/inspect.ts"))
      .inspectCommand,
  rewrap: async () =>
    (await importLater<typeof import("./commands/rewrap.ts")>(import.meta.url, "./commands/rewrap.ts")).rewrapCommand,
  keygen: async () =>
    (await importLater<typeof import("./commands/keygen.ts")>(import.meta.url, "./commands/keygen.ts")).keygenCommand,
  "key-id": async () =>
    (await importLater<typeof import("./commands/key_id.ts")>(import.meta.url, "./commands/key_id.ts")).keyIdCommand,
  convert: async () =>
    (await importLater<typeof import("./commands/convert.ts")>(import.meta.url, "./commands/convert.ts"))
      .convertCommand,
  "extract-key": async () =>
    (await importLater<typeof import("./commands/extract_key.ts")>(import.meta.url, "./commands/extract_key.ts"))
      .extractKeyCommand,
  policy: async () =>
    (await importLater<typeof import("./commands/policy.ts")>(import.meta.url, "./commands/policy.ts")).policyCommand,
  cat: async () =>
    (await importLater<typeof import("./commands/cat.ts")>(import.meta.url, "./commands/cat.ts")).catCommand,
  "s3-cleanup": async () =>
    (await importLater<typeof import("./commands/s3_cleanup.ts")>(import.meta.url, "./commands/s3_cleanup.ts"))
      .s3CleanupCommand,
  "data-key": async () =>
    (await importLater<typeof import("./commands/data_key.ts")>(import.meta.url, "./commands/data_key.ts"))
      .dataKeyCommand,
  "serve-keys": async () =>
    (await importLater<typeof import("./commands/serve_keys.ts")>(import.meta.url, "./commands/serve_keys.ts"))
      .serveKeysCommand,
  completions: async () =>
    (await importLater<typeof import("./commands/completions.ts")>(import.meta.url, "./commands/completions.ts"))
      .completionsCommand,
};

/** Runs the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  exitQuietlyOnClosedStdout();
  try {
    if (name === "help" && rest.length === 1 && rest[0] === "--all") {
      // Every help text in one, as a manual: the overview, then each command's.
      say(
        [USAGE[""], ...Object.keys(USAGE).filter((k) => k !== "").map((k) => `${"=".repeat(78)}\n${USAGE[k]}`)]
          .join("\n"),
      );
      return 0;
    }
    if (name === "help" && rest.length > 0) {
      // `envelope help CMD`: that command's help, as `envelope CMD --help` prints it.
      if (!Object.hasOwn(USAGE, rest[0]) || rest[0] === "") {
        throw new EnvelopeError("USAGE", `Reading the command line failed: unknown command "${rest[0]}"`, {
          hint: "run `envelope help` for the commands",
        });
      }
      say(USAGE[rest[0]]);
      return 0;
    }
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      say(USAGE[""]);
      return 0;
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
    const err = withCommandFlags(e, name);
    if (currentVerbosity().json) {
      // One document even when the run failed: scripts read ok:false and the error's code.
      report({
        command: name,
        ok: false,
        error: err instanceof EnvelopeError
          ? { code: err.code, message: err.message, hint: err.hint }
          : { code: "UNEXPECTED", message: err instanceof Error ? err.message : String(err) },
      });
    }
    return reportError(err);
  }
}
