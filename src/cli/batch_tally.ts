/**
 * What a batch of files did, for its summary line and its `--json` document
 * ({@linkcode Tally}; batch.ts prints both). A run without `--json` keeps counters only:
 * each file's line and each failure's error are printed as they end, so
 * nothing per file outlives it and a batch of any size runs in the same
 * memory.
 *
 * With `--json` the document lists every file (`files`, `failed`,
 * `skipped`), so those entries are kept until the end. Streaming them out
 * instead would not save that: the document starts with `ok`, known only
 * once the last file ended, and `failed` and `skipped` come after `files`,
 * so two of the three lists would wait anyway, and the keys cannot move
 * without changing a document scripts read.
 *
 * @module
 */
import { currentVerbosity } from "./output.ts";

/** A key as reports name it. */
export interface KeyName {
  readonly provider: string;
  readonly keyId: string;
}

/** What one file's run did. */
export interface Outcome {
  readonly input: string;
  readonly output: string;
  readonly format: string;
  /** Bytes read (plaintext for encrypt, the message for decrypt and rewrap). */
  readonly bytesIn: number;
  /** Bytes written. */
  readonly bytesOut: number;
  /** The wrapped keys the output holds (encrypt, rewrap) or the key that opened it (decrypt). */
  readonly keys: readonly KeyName[];
}

/** One file that failed. */
export interface Failure {
  readonly input: string;
  readonly code: string;
  readonly message: string;
}

/** A file left alone because its output was there already (`--skip-existing`). */
export interface Skipped {
  readonly input: string;
  readonly output: string;
}

/** The `--json` document of a run that wrote files. */
export interface RunDocument {
  readonly command: string;
  readonly ok: boolean;
  readonly files: readonly Outcome[];
  readonly failed: readonly Failure[];
  readonly skipped: readonly Skipped[];
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/**
 * The counts of a run, and, when it lists (by default with `--json`), its
 * entries. Files end out of order when several run at once: each entry
 * comes with its place in the input, and the lists are put in input order
 * once, at the end.
 */
export class Tally {
  done = 0;
  failed = 0;
  skipped = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly #lists?: {
    readonly files: { at: number; entry: Outcome }[];
    readonly failed: { at: number; entry: Failure }[];
    readonly skipped: Skipped[];
  };

  constructor(list: boolean = currentVerbosity().json) {
    if (list) this.#lists = { files: [], failed: [], skipped: [] };
  }

  /** Whether the run keeps one entry per file (for `--json`). */
  get listing(): boolean {
    return this.#lists !== undefined;
  }

  /** The input at place `at` ended with `o`. */
  addDone(o: Outcome, at: number): void {
    this.done++;
    this.bytesIn += o.bytesIn;
    this.bytesOut += o.bytesOut;
    this.#lists?.files.push({ at, entry: o });
  }

  /** The input at place `at` failed. */
  addFailed(f: Failure, at: number): void {
    this.failed++;
    this.#lists?.failed.push({ at, entry: f });
  }

  /** An input left alone (these are met in input order). */
  addSkipped(s: Skipped): void {
    this.skipped++;
    this.#lists?.skipped.push({ input: s.input, output: s.output });
  }

  /** The `--json` document: the lists in input order (empty when the run did not list). */
  document(command: string): RunDocument {
    const inOrder = <E>(l: { at: number; entry: E }[] | undefined) =>
      (l ?? []).sort((a, b) => a.at - b.at).map((x) => x.entry);
    return {
      command,
      ok: this.failed === 0,
      files: inOrder(this.#lists?.files),
      failed: inOrder(this.#lists?.failed),
      skipped: this.#lists?.skipped ?? [],
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }
}
