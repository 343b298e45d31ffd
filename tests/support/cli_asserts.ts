/**
 * Assertions and small steps shared by the CLI test files that were one file
 * (cli_envelope_test.ts, cli_inspect_test.ts, cli_keygen_test.ts,
 * cli_output_file_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { LocalKey } from "../../src/keys/local.ts";
import { type CliResult, type InspectJson, show, type Workspace } from "./cli.ts";

/** Asserts a failed run: the exit code, an `error:` line ending in `[CODE]` with no trailing period, and a `hint:` line. */
export function assertFailed(r: CliResult, code: string | RegExp, exit = 1): void {
  assert.equal(r.code, exit, show(r));
  const codeText = typeof code === "string" ? code : code.source;
  const line = r.stderr.split("\n").find((l) => l.startsWith("error: "));
  assert.ok(line, `no error: line\n${show(r)}`);
  assert.match(line, new RegExp(`\\[(${codeText})\\]$`), show(r));
  assert.doesNotMatch(line, /\.\s\[[A-Z_]+\]$/, "error messages have no trailing period");
  assert.match(r.stderr, /^hint: \S/m, `no hint: line\n${show(r)}`);
  assert.equal(r.stdout, "", "a failed run prints no result");
}

export function assertOk(r: CliResult): void {
  assert.equal(r.code, 0, show(r));
}

/** Writes a local key file (mode 0600) made with the library; returns the key. */
export async function writeKey(path: string): Promise<LocalKey> {
  const key = await LocalKey.generate();
  await Deno.writeTextFile(path, key.toText(), { mode: 0o600 });
  return key;
}

export async function inspectJson(ws: Workspace, file: string): Promise<InspectJson> {
  const r = await ws.run(["inspect", "--json", file]);
  assertOk(r);
  return JSON.parse(r.stdout);
}

export async function fileMode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}
