/**
 * Which implementation seals and opens a bulk AES-GCM message: the WASM core
 * or the platform's WebCrypto (`crypto.subtle`).
 *
 * WebCrypto runs natively (AES-NI, carry-less multiply) but every call costs
 * a promise round trip and a copy; the core is synchronous and cheap to call
 * but runs portable code. So small messages go to the core and large ones to
 * WebCrypto, with the crossover measured per runtime by `deno task bench`
 * (see `docs/benchmarks.md`, which records the measurement behind each
 * threshold below).
 *
 * WebCrypto is used only when it can produce the same bytes: a 12-byte IV
 * (Deno's WebCrypto accepts only 12- and 16-byte IVs and Node's fails below
 * 12, and the envelope format always uses 12) and `crypto.subtle` present
 * (it is missing on insecure browser pages).
 *
 * @module
 */

/**
 * An implementation of AES-GCM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Backend } from "./backend.ts";
 * const b: Backend = "webcrypto";
 * assert.ok(b === "webcrypto");
 * ```
 */
export type Backend = "wasm" | "webcrypto";

/**
 * The runtimes the thresholds are measured for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectRuntime, type Runtime } from "./backend.ts";
 * const r: Runtime = detectRuntime();
 * assert.ok(r === "deno");
 * ```
 */
export type Runtime = "deno" | "node" | "browser";

/**
 * The smallest message (plaintext bytes for sealing, sealed bytes for
 * opening) that goes to WebCrypto, per runtime. `Infinity` means never.
 * Measured on this project's benchmark machine; see `docs/benchmarks.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBCRYPTO_THRESHOLDS } from "./backend.ts";
 * assert.ok(WEBCRYPTO_THRESHOLDS.deno.seal > 0);
 * ```
 */
export const WEBCRYPTO_THRESHOLDS: Readonly<Record<Runtime, { readonly seal: number; readonly open: number }>> = {
  // Deno 2.9: WebCrypto overtakes the core between 4 and 8 KiB (nearer 4 KiB on a busy machine).
  deno: { seal: 8 * 1024, open: 8 * 1024 },
  // Node 20: between 4 and 8 KiB.
  node: { seal: 8 * 1024, open: 8 * 1024 },
  // Chromium: its WebCrypto answers fast; the core wins only below 1 to 2 KiB.
  browser: { seal: 2 * 1024, open: 2 * 1024 },
};

/**
 * The same for a whole message sealed or opened alone (`encrypt` and
 * `decrypt` of bytes that fit one chunk: nothing else is in flight beside
 * it). There the message waits for WebCrypto's promise round trip, a
 * hand-off to the runtime's thread pool and back; the core answers at once.
 * `deno task bench:whole-backend` (scripts/bench_whole_backend.ts,
 * 2026-12-07, Deno 2.9.6 and Node 20.20.2; core / WebCrypto, encrypt and
 * decrypt): at 8 KiB 2.43x / 2.32x in Deno and 2.18x / 2.32x in Node, at 16
 * KiB 1.73x / 1.66x and 1.54x / 1.49x, at 32 KiB 1.21x / 1.05x and 0.97x /
 * 0.94x, at 64 KiB 0.77x / 0.62x and 0.65x / 0.71x. The browser keeps its
 * chunk threshold (not measured alone). A message is alone only when no
 * other call is in progress and no batch is running (envelope/chunks.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBCRYPTO_THRESHOLDS, WHOLE_MESSAGE_THRESHOLDS } from "./backend.ts";
 * assert.ok(WHOLE_MESSAGE_THRESHOLDS.deno.seal >= WEBCRYPTO_THRESHOLDS.deno.seal);
 * ```
 */
export const WHOLE_MESSAGE_THRESHOLDS: Readonly<Record<Runtime, { readonly seal: number; readonly open: number }>> = {
  deno: { seal: 32 * 1024, open: 32 * 1024 },
  node: { seal: 32 * 1024, open: 32 * 1024 },
  browser: WEBCRYPTO_THRESHOLDS.browser,
};

/**
 * The runtime this code runs in, as far as the thresholds care.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectRuntime } from "./backend.ts";
 * assert.ok(["deno", "node", "browser"].includes(detectRuntime()));
 * ```
 */
export function detectRuntime(): Runtime {
  const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } } };
  if (g.Deno !== undefined) return "deno";
  if (g.process?.versions?.node !== undefined) return "node";
  return "browser";
}

/**
 * The platform's `crypto.subtle`, or `undefined` where it is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subtleOrUndefined } from "./backend.ts";
 * assert.ok(subtleOrUndefined() !== undefined); // Deno always has it
 * ```
 */
export function subtleOrUndefined(): SubtleCrypto | undefined {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  const s = c?.subtle;
  return s !== undefined && s !== null && typeof s.encrypt === "function" ? s : undefined;
}

let forced: Backend | undefined;

/**
 * Forces every later choice to `backend` (for tests and benchmarks), or
 * restores the measured choice with `"auto"`. A forced `"webcrypto"` still
 * falls back to the core where WebCrypto cannot do the job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseBackend, setBackendOverride } from "./backend.ts";
 * setBackendOverride("wasm");
 * assert.ok(chooseBackend("seal", 12, 1 << 20) === "wasm");
 * setBackendOverride("auto");
 * ```
 */
export function setBackendOverride(backend: Backend | "auto"): void {
  forced = backend === "auto" ? undefined : backend;
}

/**
 * Chooses the backend for one message of `size` bytes with an IV of
 * `ivLength` bytes; `alone` for a whole message sealed or opened with
 * nothing else in flight ({@linkcode WHOLE_MESSAGE_THRESHOLDS}), else one
 * chunk of a stream ({@linkcode WEBCRYPTO_THRESHOLDS}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseBackend } from "./backend.ts";
 * assert.ok(chooseBackend("seal", 12, 64) === "wasm");
 * assert.ok(chooseBackend("seal", 16, 1 << 20) === "wasm"); // only 12-byte IVs go to WebCrypto
 * assert.ok(chooseBackend("seal", 12, 16 * 1024) === "webcrypto"); // a stream's chunk
 * assert.ok(chooseBackend("seal", 12, 16 * 1024, true) === "wasm"); // a whole message alone
 * ```
 */
export function chooseBackend(op: "seal" | "open", ivLength: number, size: number, alone = false): Backend {
  if (ivLength !== 12) return "wasm";
  // Below the threshold the answer is the core whether or not WebCrypto exists: no look at
  // `crypto.subtle`, whose getter was a visible part of a small message's cost (issue 16).
  const thresholds = alone ? WHOLE_MESSAGE_THRESHOLDS : WEBCRYPTO_THRESHOLDS;
  if (forced === undefined && size < thresholds[detectRuntime()][op]) return "wasm";
  if (subtleOrUndefined() === undefined) return "wasm";
  return forced ?? "webcrypto";
}
