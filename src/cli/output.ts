/**
 * The CLI's one place for terminal output: `error:`, `hint:` and `warning:`
 * lines on stderr, results on stdout, and a progress bar on stderr only when
 * stderr is a terminal.
 *
 * @module
 */
import process from "node:process";
import { EnvelopeError } from "../errors.ts";
import { COLLECT_EVERY, collector } from "./gc.ts";

/** Where the CLI writes; tests and embedders may capture it. */
export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  readonly errIsTty: boolean;
}

/** The process's stdout and stderr. */
export const processTerminal: Terminal = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get errIsTty() {
    return Boolean(process.stderr.isTTY);
  },
};

let term: Terminal = processTerminal;

/** Replaces the terminal (for embedding). */
export function setTerminal(t: Terminal): void {
  term = t;
}

/** A result line on stdout. */
export function say(text: string): void {
  term.out(text.endsWith("\n") ? text : text + "\n");
}

/** `warning: ...` on stderr. */
export function warn(text: string): void {
  term.err(`warning: ${text}\n`);
}

/** `note: ...` on stderr, for what the user should know but did not ask for. */
export function note(text: string): void {
  term.err(`note: ${text}\n`);
}

/** Prints an error and its hint; returns the exit code (2 for usage, 1 otherwise). */
export function reportError(err: unknown): number {
  if (err instanceof EnvelopeError) {
    term.err(`error: ${err.message} [${err.code}]\n`);
    if (err.hint) term.err(`hint: ${err.hint}\n`);
    return err.code === "USAGE" ? 2 : 1;
  }
  const msg = err instanceof Error ? err.message : String(err);
  term.err(`error: ${msg}\n`);
  term.err("hint: this is unexpected; please report it with the command you ran\n");
  return 1;
}

/**
 * A byte-counting progress bar on stderr, drawn only on a terminal, at most
 * 10 times a second; it also paces garbage collection on long files (gc.ts).
 */
export function progress(label: string, total: number | undefined): TransformStream<Uint8Array, Uint8Array> {
  let done = 0;
  let last = 0;
  let sinceCollect = 0;
  const gc = collector();
  const tty = term.errIsTty;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const mib = (done / 1048576).toFixed(1);
    if (total && total > 0) {
      const frac = Math.min(1, done / total);
      const width = 30;
      const fill = Math.round(frac * width);
      term.err(
        `\r${label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${
          (frac * 100).toFixed(0).padStart(3)
        }% ${mib} MiB`,
      );
    } else {
      term.err(`\r${label} ${mib} MiB`);
    }
    if (final) term.err("\n");
  };
  return new TransformStream({
    transform(chunk, controller) {
      done += chunk.length;
      sinceCollect += chunk.length;
      if (gc && sinceCollect >= COLLECT_EVERY) {
        sinceCollect = 0;
        gc();
      }
      if (tty) draw(false);
      controller.enqueue(chunk);
    },
    flush() {
      if (tty) draw(true);
    },
  });
}
