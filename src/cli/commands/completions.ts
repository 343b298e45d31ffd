/**
 * `envelope completions bash|zsh|fish`: a completion script for the shell,
 * made from the usage text (usage.ts), which is the one list of each
 * command's flags, so the two cannot drift apart.
 *
 * @module
 */
import { parseArgs, usageError } from "../args.ts";
import { say } from "../output.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [{ name: "help", short: "h", kind: "boolean" }] as const;

/** One flag as the usage text lists it. */
export interface FlagInfo {
  readonly long: string;
  readonly short?: string;
  readonly takesValue: boolean;
  readonly help: string;
}

/** The commands, and each one's summary line, from the overview's table. */
export function commandTable(): { name: string; help: string }[] {
  const out: { name: string; help: string }[] = [];
  for (const line of USAGE[""].split("\n")) {
    const m = /^ {2}([a-z][a-z0-9-]*) {2,}(\S.*)$/.exec(line);
    if (m && Object.hasOwn(USAGE, m[1])) out.push({ name: m[1], help: m[2] });
  }
  return out;
}

/** The flags of `command`, read from its usage text (option lines start with `-x, --long` or `--long`). */
export function flagsOf(command: string): FlagInfo[] {
  const seen = new Map<string, FlagInfo>();
  for (const line of (USAGE[command] ?? "").split("\n")) {
    const m = /^ {2}(?:-([A-Za-z]), )?--([a-z][a-z0-9-]*)((?: [A-Z][A-Za-z0-9=._-]*)?)\s*(.*)$/.exec(line);
    if (!m || seen.has(m[2])) continue;
    seen.set(m[2], { long: m[2], short: m[1], takesValue: m[3].trim() !== "", help: m[4].trim() });
  }
  return [...seen.values()];
}

function words(flags: readonly FlagInfo[]): string {
  return flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]).join(" ");
}

function bash(): string {
  const cmds = commandTable().map((c) => c.name);
  const cases = cmds.map((c) => `    ${c}) opts="${words(flagsOf(c))}" ;;`).join("\n");
  return `# bash completion for envelope: eval "$(envelope completions bash)", e.g. in ~/.bashrc
_envelope() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${cmds.join(" ")} help --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [ "\${COMP_WORDS[1]}" = help ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=( $(compgen -W "${cmds.join(" ")}" -- "$cur") )
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -o bashdefault -F _envelope envelope
`;
}

function zshQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A description for zsh: its first clause, without the characters `_arguments` and `_describe` treat specially. */
function zshHelp(text: string): string {
  return text.split(/;|\(/)[0].trim().replaceAll("[", "").replaceAll("]", "").replaceAll(":", "\\:");
}

function zsh(): string {
  const table = commandTable();
  const cases = table.map((c) => {
    const specs = flagsOf(c.name).flatMap((f) =>
      [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])].map((name) =>
        zshQuote(`${name}[${zshHelp(f.help)}]${f.takesValue ? ":value:_files" : ""}`)
      )
    );
    return `    ${c.name}) _arguments -s ${specs.join(" ")} '*:file:_files' ;;`;
  }).join("\n");
  return `#compdef envelope
# zsh completion for envelope: envelope completions zsh > "\${fpath[1]}/_envelope" (then restart zsh),
# or source <(envelope completions zsh) after compinit
_envelope() {
  local -a commands
  commands=(${table.map((c) => zshQuote(`${c.name}:${zshHelp(c.help)}`)).join(" ")})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case $words[2] in
    help) _describe 'command' commands ;;
${cases}
  esac
}
if [ "$funcstack[1]" = "_envelope" ]; then
  _envelope "$@"
else
  compdef _envelope envelope
fi
`;
}

function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fish(): string {
  const table = commandTable();
  const lines = [
    "# fish completion for envelope: envelope completions fish > ~/.config/fish/completions/envelope.fish",
    "complete -c envelope -f",
    ...table.map((c) => `complete -c envelope -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(c.help)}`),
    `complete -c envelope -n '__fish_seen_subcommand_from help' -a ${fishQuote(table.map((c) => c.name).join(" "))}`,
  ];
  for (const c of table) {
    lines.push(`complete -c envelope -n '__fish_seen_subcommand_from ${c.name}' -F`);
    for (const f of flagsOf(c.name)) {
      lines.push(
        `complete -c envelope -n '__fish_seen_subcommand_from ${c.name}' -l ${f.long}${
          f.short ? ` -s ${f.short}` : ""
        }${f.takesValue ? " -r" : ""} -d ${fishQuote(f.help)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Runs `envelope completions SHELL`; returns the exit code. */
export function completionsCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "completions");
  if (flags.help) {
    say(USAGE.completions);
    return Promise.resolve(0);
  }
  const shell = positionals[0];
  const make = shell === "bash" ? bash : shell === "zsh" ? zsh : shell === "fish" ? fish : undefined;
  if (positionals.length !== 1 || make === undefined) {
    throw usageError("completions", "Reading the command line failed: give one shell: bash, zsh or fish");
  }
  say(make());
  return Promise.resolve(0);
}
