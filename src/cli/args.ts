/**
 * A small, strict command-line parser: known flags only, repeatable flags
 * collected, `--flag=value` and `-f value` forms, `--` ends flags, `-` is a
 * positional (stdin/stdout).
 *
 * @module
 */
import { EnvelopeError } from "../errors.ts";
import { setVerbosity } from "./output.ts";

/** One flag's definition. */
export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  /** `boolean` flags take no value; `string` take one; `list` take one each time and repeat. */
  readonly kind: "boolean" | "string" | "list";
}

/** Parsed arguments. */
export interface Parsed {
  readonly positionals: string[];
  readonly flags: Record<string, string | boolean | string[] | undefined>;
}

/**
 * A usage error (exit 2) of `envelope COMMAND`, by default with the hint to
 * read that command's help: the one helper every command throws its usage
 * errors with.
 */
export function usageError(
  command: string,
  message: string,
  hint = `run \`envelope ${command} --help\` for the options`,
): EnvelopeError {
  return new EnvelopeError("USAGE", message, { hint });
}

/** The flags every command takes: `-q/--quiet`, `-v/--verbose` and `--json` (output.ts says what each does). */
export const COMMON_FLAGS: readonly FlagSpec[] = [
  { name: "quiet", short: "q", kind: "boolean" },
  { name: "verbose", short: "v", kind: "boolean" },
  { name: "json", kind: "boolean" },
];

/**
 * Parses `args` against `specs` and the {@linkcode COMMON_FLAGS}; throws
 * USAGE for anything unknown or malformed. Sets the run's verbosity.
 */
export function parseArgs(args: readonly string[], commandSpecs: readonly FlagSpec[], command: string): Parsed {
  const specs = [...COMMON_FLAGS, ...commandSpecs];
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Parsed["flags"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a === "-" || !a.startsWith("-")) {
      positionals.push(a);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let spec: FlagSpec | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      spec = byLong.get(name);
    } else {
      name = a.slice(1, 2);
      inline = a.length > 2 ? a.slice(2) : undefined;
      spec = byShort.get(name);
    }
    if (!spec) throw usageError(command, `Reading the command line failed: unknown option ${a}`);
    if (spec.kind === "boolean") {
      if (inline !== undefined) {
        throw usageError(command, `Reading the command line failed: --${spec.name} takes no value`);
      }
      flags[spec.name] = true;
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw usageError(command, `Reading the command line failed: --${spec.name} needs a value`);
    if (spec.kind === "list") {
      ((flags[spec.name] ??= []) as string[]).push(value);
    } else {
      if (flags[spec.name] !== undefined) {
        throw usageError(command, `Reading the command line failed: --${spec.name} was given twice`);
      }
      flags[spec.name] = value;
    }
  }
  if (flags.quiet && flags.verbose) {
    throw usageError(command, "Reading the command line failed: give either -q or -v, not both");
  }
  setVerbosity({ quiet: Boolean(flags.quiet), verbose: Boolean(flags.verbose), json: Boolean(flags.json) });
  return { positionals, flags };
}

/** Parses `-c name=value` pairs into a context. */
export function parseContext(
  pairs: readonly string[] | undefined,
  command: string,
): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw usageError(command, `Reading the command line failed: context "${p}" is not name=value`);
    const k = p.slice(0, eq);
    if (Object.hasOwn(out, k)) {
      throw usageError(command, `Reading the command line failed: context name "${k}" was given twice`);
    }
    out[k] = p.slice(eq + 1);
  }
  return out;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * Parses a size option: a whole number of bytes, optionally with a unit
 * (`64KiB`, `1MiB`, `2G`; K/M/G/T and KiB.. are powers of 1024, KB.. of
 * 1000). Anything else is a usage error (exit 2).
 */
export function parseSize(text: string | undefined, name: string, command: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new EnvelopeError(
      "USAGE",
      `Reading --${name} failed: "${text}" is not a size (a whole number of bytes, or with a unit: 64KiB, 1MiB, 2GiB)`,
      { hint: `run \`envelope ${command} --help\`` },
    );
  }
  return value;
}
