/**
 * The CLI's one place for terminal output: `error:`, `hint:`, `warning:` and
 * `note:` lines on stderr, results on stdout, and a progress bar on stderr
 * only when stderr is a terminal.
 *
 * Everything printed here may hold text from a file (key ids, provider
 * names, context, zip entry names, paths), so every line goes through
 * {@linkcode escapeControls}: a forged `ESC[2K\r` or newline shows as
 * `\x1b[2K\r\n` and cannot draw a fake `error:` or `hint:` line.
 *
 * In Deno the lines go through `Deno.stdout`/`Deno.stderr`: importing
 * `node:process` starts Deno's Node layer, which costs about as much as an
 * empty `deno run` (`scripts/bench_startup.ts`), so `envelope --version` and
 * `--help` would pay it for nothing. On Node, `process` (a global there).
 *
 * @module
 */
import type NodeProcess from "node:process";
import { EnvelopeError } from "../errors.ts";
import { gcPacer } from "./gc.ts";

/** Where the CLI writes; tests and embedders may capture it. */
export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  readonly errIsTty: boolean;
}

/** The part of Deno's namespace the terminal needs. */
interface DenoStdio {
  readonly stdin: { isTerminal(): boolean };
  readonly stdout: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  readonly stderr: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  readonly errors: { readonly BrokenPipe: new () => Error };
  exit(code: number): never;
}

/** Deno's namespace when running in Deno (then Node's layer is left unloaded). */
const deno = (globalThis as { Deno?: DenoStdio }).Deno;
/** Node's `process`; in Deno, touching it starts the Node layer, so only the Node paths do. */
const nodeProcess = () => (globalThis as unknown as { process: typeof NodeProcess }).process;
const encoder = new TextEncoder();

/** Writes all of `text` to a Deno stdio resource; a reader gone from stdout ends the run with 141. */
function denoWrite(which: "stdout" | "stderr", text: string): void {
  const w = deno![which];
  const bytes = encoder.encode(text);
  try {
    for (let off = 0; off < bytes.length;) off += w.writeSync(bytes.subarray(off));
  } catch (e) {
    if (!(e instanceof deno!.errors.BrokenPipe)) throw e;
    // Nobody reads stderr any more: nothing to tell. A closed stdout ends the run as age and cat end it.
    if (which === "stdout") exitOnClosedPipe();
  }
}

/** The process's stdout and stderr. */
export const processTerminal: Terminal = deno
  ? {
    out: (t) => denoWrite("stdout", t),
    err: (t) => denoWrite("stderr", t),
    get errIsTty() {
      return deno.stderr.isTerminal();
    },
  }
  : {
    out: (t) => void nodeProcess().stdout.write(t),
    err: (t) => void nodeProcess().stderr.write(t),
    get errIsTty() {
      return Boolean(nodeProcess().stderr.isTTY);
    },
  };

/** True when stdout is a terminal. */
export const stdoutIsTerminal = (): boolean => deno ? deno.stdout.isTerminal() : Boolean(nodeProcess().stdout.isTTY);
const stdinIsTty = () => deno ? deno.stdin.isTerminal() : Boolean(nodeProcess().stdin.isTTY);

let term: Terminal = processTerminal;

/** Replaces the terminal (for embedding). */
export function setTerminal(t: Terminal): void {
  term = t;
}

/**
 * C0 controls (tab and newline included), DEL, C1 controls, the line and
 * paragraph separators, and the bidirectional marks, overrides and isolates.
 */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character shown as an escape: `\xHH` for C0 and
 * DEL, `\uHHHH` for the rest (valid inside a JSON string too, so JSON
 * output stays JSON). Printable text, backslashes included, is unchanged.
 *
 * @example A forged terminal line is shown, not drawn
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeControls } from "./output.ts";
 * assert.equal(escapeControls("k\x1b[2K\r\nhint: run x"), "k\\x1b[2K\\r\\nhint: run x");
 * assert.equal(escapeControls("a\u202eb\u0085"), "a\\u202eb\\u0085");
 * ```
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    if (n === 0x0a) return "\\n";
    if (n === 0x0d) return "\\r";
    if (n === 0x09) return "\\t";
    return n < 0x80 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Plaintext made safe for a terminal (`envelope cat` when stdout is one):
 * each call takes the next bytes (none: the end) and gives them decoded as
 * UTF-8 (what is not UTF-8 shows as U+FFFD) with every control character but
 * line breaks and tabs escaped, so a file's escape sequences cannot drive the
 * terminal. Only for a terminal: a pipe or a file gets the bytes.
 */
export function terminalText(): (chunk?: Uint8Array) => Uint8Array {
  const decoder = new TextDecoder("utf-8");
  const encoder = new TextEncoder();
  return (chunk) => {
    const text = chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    return encoder.encode(text.replace(CONTROLS, (c) => c === "\n" || c === "\t" ? c : escapeControls(c)));
  };
}

/** Each line of `text` escaped, the line breaks kept. */
function escapeLines(text: string): string {
  return text.split("\n").map(escapeControls).join("\n");
}

/**
 * Terminal manners, as age has them: binary output is refused on a terminal
 * unless `-o -` was given explicitly, and a command about to read stdin from a
 * terminal says so instead of waiting in silence.
 */
export function guardTerminal(command: string, io: { input?: string; output?: string; explicitOutput: boolean }): void {
  if (io.output === "-" && !io.explicitOutput && stdoutIsTerminal()) {
    throw new EnvelopeError("USAGE", "Refusing to write binary to the terminal", {
      hint: `use -o FILE, or -o - if you mean it (run \`envelope ${command} --help\`)`,
    });
  }
  if (io.input === "-" && stdinIsTty()) note("reading from stdin; ^D to end");
}

/** True once the output file turned out to be stdout itself (`-o /dev/stdout`). */
let stdoutTaken = false;

/**
 * Marks stdout as carrying the output's bytes (`-o /dev/stdout`,
 * `-o /dev/fd/1`): result lines go to stderr from then on, so they cannot
 * end up inside the data.
 */
export function claimStdout(): void {
  stdoutTaken = true;
}

/** The exit status of a run whose stdout reader went away (128 + SIGPIPE), as age and cat give. */
export const CLOSED_PIPE_STATUS = 141;

/** Ends the run quietly with status 141: the reader of stdout (or of a FIFO output) is gone. */
export function exitOnClosedPipe(): never {
  return deno ? deno.exit(CLOSED_PIPE_STATUS) : nodeProcess().exit(CLOSED_PIPE_STATUS);
}

let pipeWatched = false;

/**
 * Turns `EPIPE` on Node's stdout (`envelope decrypt -o - f | head -c 10`)
 * into a quiet exit 141 instead of an uncaught stack trace. In Deno the lines
 * of this module handle a closed stdout as they write, so the watch is set
 * only when `nodeStdout` says the caller writes through Node's stdout (the
 * data of `-o -`, output_file.ts), which loads Node's layer anyway.
 */
export function exitQuietlyOnClosedStdout(nodeStdout = false): void {
  if (pipeWatched || (deno && !nodeStdout)) return;
  pipeWatched = true;
  nodeProcess().stdout.on("error", (e: unknown) => {
    if ((e as { code?: string }).code === "EPIPE") exitOnClosedPipe();
    throw e;
  });
}

/**
 * How much a run says, from the flags every command takes (args.ts):
 * `-q/--quiet` prints nothing but errors (and the warnings that ask for an
 * action, such as backing up a key just created); `-v/--verbose` adds
 * `detail:` lines (which key opened a file, what each KMS was asked, the
 * timings); `--json` replaces the status lines with one JSON document on
 * stdout ({@linkcode report}).
 */
export interface Verbosity {
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly json: boolean;
}

let verbosity: Verbosity = { quiet: false, verbose: false, json: false };

/** Sets the run's verbosity (args.ts does, once the command line is read). */
export function setVerbosity(v: Verbosity): void {
  verbosity = v;
}

/** The run's verbosity. */
export function currentVerbosity(): Verbosity {
  return verbosity;
}

/**
 * A result (one or more lines) on stdout; on stderr when stdout carries the
 * output file. The line breaks `text` holds are kept (usage, JSON, inspect's
 * layout) and every other control is escaped; a value from a file that
 * could hold a newline must go through {@linkcode escapeControls} first.
 * This is for what the user asked to see (help, inspect, key ids); a line
 * that only reports what was done goes through {@linkcode status}.
 */
export function say(text: string): void {
  const line = escapeLines(text.endsWith("\n") ? text.slice(0, -1) : text) + "\n";
  if (stdoutTaken) term.err(line);
  else term.out(line);
}

/** A line that reports what was done (`encrypted to X`): silent with `-q` and with `--json`. */
export function status(text: string): void {
  if (verbosity.quiet || verbosity.json) return;
  say(text);
}

/**
 * The JSON document of a `--json` run (nothing otherwise), on stdout (stderr when stdout carries
 * the data): one object, the same shape for every format. Strings from files
 * are escaped the JSON way by `JSON.stringify`, and controls that survive as
 * text are escaped again by {@linkcode say}.
 */
export function report(doc: unknown): void {
  if (!verbosity.json) return;
  say(JSON.stringify(doc, null, 2));
}

/** `detail: ...` on stderr with `-v`; nothing otherwise. */
export function detail(text: string): void {
  if (!verbosity.verbose || verbosity.quiet) return;
  term.err(`detail: ${escapeControls(text)}\n`);
}

/** `warning: ...` on stderr (kept with `-q` only when `urgent`: an action the user must take). */
export function warn(text: string, urgent = false): void {
  if (verbosity.quiet && !urgent) return;
  term.err(`warning: ${escapeControls(text)}\n`);
}

/** `note: ...` on stderr, for what the user should know but did not ask for; silent with `-q`. */
export function note(text: string): void {
  if (verbosity.quiet) return;
  term.err(`note: ${escapeControls(text)}\n`);
}

/** Prints an error and its hint; returns the exit code (2 for usage, 1 otherwise). */
export function reportError(err: unknown): number {
  if (err instanceof EnvelopeError) {
    term.err(`error: ${escapeControls(err.message)} [${err.code}]\n`);
    if (err.hint) term.err(`hint: ${escapeControls(err.hint)}\n`);
    return err.code === "USAGE" ? 2 : 1;
  }
  const msg = err instanceof Error ? err.message : String(err);
  term.err(`error: ${escapeControls(msg)}\n`);
  term.err("hint: this is unexpected; please report it with the command you ran\n");
  return 1;
}

/** Inputs smaller than this draw no bar: they are done before a bar would tell anything. */
export const BAR_THRESHOLD = 4 * 1024 * 1024;

/** `bytes` in binary units, one decimal: `512 B`, `12.3 MiB`, `1.0 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A duration in seconds as `m:ss` (or `h:mm:ss`). */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * One line of the progress bar: done/total, percent, rate and ETA when the
 * total is known (`12.0 MiB / 100.0 MiB [###---] 12% 210.0 MiB/s ETA 0:01`),
 * else bytes and rate (stdin). Exported for its tests.
 */
export function progressLine(label: string, done: number, total: number | undefined, seconds: number): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const speed = `${formatBytes(rate)}/s`;
  if (total === undefined || total <= 0) return `${label} ${formatBytes(done)} ${speed}`;
  const frac = Math.min(1, done / total);
  const width = 24;
  const fill = Math.round(frac * width);
  const eta = rate > 0 ? ` ETA ${clock((total - Math.min(done, total)) / rate)}` : "";
  return `${label} ${formatBytes(done)} / ${formatBytes(total)} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${
    (frac * 100).toFixed(0).padStart(3)
  }% ${speed}${eta}`;
}

/**
 * A byte-counting progress bar on stderr, drawn only on a terminal, never
 * with `-q` or `--json`, at most 10 times a second, and only for inputs of
 * at least {@linkcode BAR_THRESHOLD} (an input of unknown size shows once
 * that much has passed). `total` is what the bar counts to: plaintext
 * bytes for both encrypt and decrypt. It also paces garbage collection on
 * long files (gc.ts), and every `collectEveryCalls` chunks if given (a
 * folder's zip, gc.ts DIR_COLLECT_CALLS).
 */
export function progress(
  label: string,
  total: number | undefined,
  collectEveryCalls = 0,
): TransformStream<Uint8Array, Uint8Array> {
  let done = 0;
  let last = 0;
  let drawn = false;
  let width = 0;
  const pace = gcPacer(total, collectEveryCalls);
  const started = Date.now();
  const show = term.errIsTty && !verbosity.quiet && !verbosity.json &&
    (total === undefined || total >= BAR_THRESHOLD);
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!final && (now - last < 100 || (total === undefined && done < BAR_THRESHOLD))) return;
    if (final && !drawn) return;
    last = now;
    drawn = true;
    // Padded to the last line's width, so a shorter line leaves no tail (no escape codes: TERM may be dumb).
    const line = progressLine(label, done, total, (now - started) / 1000);
    term.err(`\r${line.padEnd(width)}`);
    width = line.length;
    if (final) term.err("\n");
  };
  return new TransformStream({
    transform(chunk, controller) {
      done += chunk.length;
      pace(chunk.length);
      if (show) draw(false);
      controller.enqueue(chunk);
    },
    flush() {
      if (show) draw(true);
    },
  });
}
