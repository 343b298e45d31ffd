/**
 * Terminal manners (issue 13), under a real pseudo-terminal made by
 * util-linux's `script`: binary output is refused on a terminal unless
 * `-o -` is explicit, and reading stdin from a terminal is announced.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgv, cliEnv, show, workspace } from "./support/cli.ts";

/** Runs the CLI with stdout (and stdin unless redirected in `shellTail`) on a pty; returns the exit code and what the pty showed. */
async function onTerminal(
  dir: string,
  home: string,
  args: string[],
  shellTail = "",
  seconds = 60,
): Promise<{ code: number; screen: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), ...cliArgv(args)].map(quote).join(" ") + shellTail;
  const empty = join(dir, "empty-stdin");
  await Deno.writeFile(empty, new Uint8Array(0));
  // `script` runs the command on a new pty; its session log goes to a file of the test's own. Its stdin is an empty
  // file, so nothing is typed: a run reading the terminal waits until `timeout` ends it.
  const inner = `timeout ${seconds} ${command}`;
  const r = await new Deno.Command("sh", {
    args: ["-c", `exec script -q -e -c ${quote(inner)} ${quote(join(dir, "typescript.log"))} < ${quote(empty)}`],
    cwd: dir,
    clearEnv: true,
    env: await cliEnv(home),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, screen: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}

Deno.test("terminal: binary to a terminal is refused unless -o - is explicit; stdin from a terminal is announced", async () => {
  await using ws = await workspace();
  await Deno.writeTextFile(ws.path("in.txt"), "hello");
  const kg = await ws.run(["keygen", "-o", "k"]);
  assert.equal(kg.code, 0, show(kg));

  // encrypt from stdin (a file) to stdout (the terminal), no -o: refused, exit 2.
  let t = await onTerminal(ws.dir, ws.home, ["encrypt", "-k", "local:k"], " < in.txt");
  assert.equal(t.code, 2, t.screen);
  assert.match(t.screen, /error: Refusing to write binary to the terminal \[USAGE\]/);
  assert.match(t.screen, /hint: use -o FILE, or -o -/);

  // With -o - given, the ciphertext goes to the terminal as asked.
  t = await onTerminal(ws.dir, ws.home, ["encrypt", "-k", "local:k", "-o", "-"], " < in.txt");
  assert.equal(t.code, 0, t.screen);

  // decrypt from stdin to the terminal, no -o: refused too.
  assert.equal((await ws.run(["encrypt", "in.txt", "-k", "local:k"])).code, 0);
  t = await onTerminal(ws.dir, ws.home, ["decrypt", "-k", "local:k"], " < in.txt.envl");
  assert.equal(t.code, 2, t.screen);
  assert.match(t.screen, /Refusing to write binary to the terminal/);

  // stdin is the terminal and no input is named: the run says so instead of waiting in silence (nothing is typed
  // here, so `timeout` ends the wait after a few seconds, and no output appears).
  t = await onTerminal(ws.dir, ws.home, ["encrypt", "-k", "local:k", "-o", "typed.envl"], "", 6);
  assert.match(t.screen, /note: reading from stdin; \^D to end/);
  assert.notEqual(t.code, 0, "it waited for input");
  assert.equal(await Deno.stat(ws.path("typed.envl")).then(() => true, () => false), false);

  // Not a terminal (a pipe): no refusal and no note, as before.
  const piped = await ws.run(["encrypt", "-k", "local:k"], { stdin: new TextEncoder().encode("x") });
  assert.equal(piped.code, 0, show(piped));
  assert.doesNotMatch(piped.stderr, /reading from stdin/);
});

Deno.test("terminal: cat shows a file's text on a terminal with its escape sequences shown, not run; a pipe gets the bytes", async () => {
  await using ws = await workspace();
  const kg = await ws.run(["keygen", "-o", "k"]);
  assert.equal(kg.code, 0, show(kg));
  const text = "line one\n\ttabbed \u001b[2J\u001b]0;owned\u0007 end\n";
  await Deno.writeTextFile(ws.path("esc.txt"), text);
  assert.equal((await ws.run(["encrypt", "esc.txt", "-k", "local:k"])).code, 0);
  const t = await onTerminal(ws.dir, ws.home, ["cat", "esc.txt.envl", "-k", "local:k"]);
  assert.equal(t.code, 0, t.screen);
  assert.ok(!t.screen.includes("\u001b[2J") && !t.screen.includes("\u001b]0;"), JSON.stringify(t.screen));
  assert.match(t.screen, /line one/);
  assert.match(t.screen, /\\x1b\[2J\\x1b\]0;owned\\x07 end/);
  // Not a terminal: the plaintext byte for byte.
  const piped = await ws.run(["cat", "esc.txt.envl", "-k", "local:k"]);
  assert.equal(piped.code, 0, show(piped));
  assert.equal(piped.stdout, text);
});
