/**
 * The process as the CLI sees it (its id, umask, environment, user, home
 * folder, signals and exit), without Deno's Node layer: under Deno these are
 * `Deno.*` (touching `process` there starts the Node compatibility layer, see
 * `./fs.ts`), on Node they are `process` and `node:os`.
 *
 * @module
 */
import type NodeProcess from "node:process";
import type * as NodeOs from "node:os";
import { getEnv as env } from "./env.ts";

/** The part of Deno's namespace used here. */
interface DenoProcess {
  readonly pid: number;
  readonly args: readonly string[];
  readonly build: { readonly os: string };
  readonly stdin: { readonly readable: ReadableStream<Uint8Array>; read(p: Uint8Array): Promise<number | null> };
  umask(mask?: number): number;
  uid(): number | null;
  cwd(): string;
  exit(code: number): never;
  addSignalListener(signal: string, handler: () => void): void;
  kill(pid: number, signal: string): void;
}

const deno = (globalThis as { Deno?: DenoProcess }).Deno;
const node = () => (globalThis as unknown as { process: typeof NodeProcess }).process;
/** `node:os`, imported only on Node. */
const nodeOs: typeof NodeOs | undefined = deno ? undefined : await import("node:os");

/** This process's id. */
export const pid: number = deno ? deno.pid : node().pid;

/** True on Windows, where file modes mean little. */
export const isWindows: boolean = deno ? deno.build.os === "windows" : node().platform === "win32";

/** The working folder. */
export function cwd(): string {
  return deno ? deno.cwd() : node().cwd();
}

/** The umask, once read (nothing in the process sets it). */
let mask: number | undefined;

/**
 * The process's umask; 0o077 where it cannot be read (Deno without
 * `--allow-sys`), so an output is then made readable by its owner only,
 * never more than the user's own umask would allow. Read once per process:
 * reading it is two `umask(2)` calls (set and set back), which a batch of
 * small files made for every file.
 */
export function umask(): number {
  if (mask === undefined) {
    try {
      mask = deno ? deno.umask() : node().umask();
    } catch {
      mask = 0o077;
    }
  }
  return mask;
}

/** The user id, where the system has one. */
export function uid(): number | undefined {
  if (deno) return deno.uid() ?? undefined;
  const p = node();
  return typeof p.getuid === "function" ? p.getuid() : undefined;
}

/** `$HOME`, else the system's idea of the user's home folder. */
export function homeDir(): string {
  const home = env("HOME");
  if (home) return home;
  if (nodeOs) return nodeOs.homedir();
  const profile = env("USERPROFILE");
  if (profile) return profile;
  // Deno has no call for the home folder but node:os, and loading it starts the Node layer: only when HOME is unset.
  const os = (node() as unknown as { getBuiltinModule(id: string): typeof NodeOs }).getBuiltinModule("node:os");
  return os.homedir();
}

/** The command line's arguments after the program (and, under Deno, the script). */
export function args(): string[] {
  return deno ? [...deno.args] : node().argv.slice(2);
}

/** Ends the process with `code` now. */
export function exit(code: number): never {
  return deno ? deno.exit(code) : node().exit(code);
}

/** Calls `handler` when the process receives `signal` (SIGINT, SIGTERM, SIGHUP). */
export function onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", handler: () => void): void {
  if (deno) {
    // Windows has only SIGINT and SIGBREAK; the others are never delivered there.
    if (deno.build.os === "windows" && signal !== "SIGINT") return;
    deno.addSignalListener(signal, handler);
  } else {
    node().on(signal, handler);
  }
}

/** True while process `id` exists (it may belong to another user). */
export function processAlive(id: number): boolean {
  if (id === pid) return true;
  try {
    // Signal 0 checks that the process exists without signalling it. Only Node's kill takes it, so under Deno
    // this starts the Node layer; it runs only when a temporary file of another run is found.
    node().kill(id, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code !== "ESRCH";
  }
}

/** Standard input as a web stream under Deno; `undefined` on Node (see cli/files.ts). */
export function denoStdin(): ReadableStream<Uint8Array> | undefined {
  return deno?.stdin.readable;
}

/**
 * One read of standard input into `p` under Deno (the bytes read, `null` at
 * its end), with no stream made; `undefined` on Node. A stream taken from
 * {@linkcode denoStdin} afterwards goes on where the reads stopped.
 */
export function denoStdinRead(): ((p: Uint8Array) => Promise<number | null>) | undefined {
  const stdin = deno?.stdin;
  return stdin && ((p) => stdin.read(p));
}
