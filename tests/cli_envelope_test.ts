/**
 * The CLI run as a user runs it (`deno run -A mod.ts ...` in a child process
 * with a temporary HOME): file and stdin/stdout round trips, the default
 * local key, several keys, --data-key, usage errors and help, and the
 * progress bar only on a terminal. keygen, inspect and the atomic outputs
 * have their own files (cli_keygen_test.ts, cli_inspect_test.ts,
 * cli_output_file_test.ts).
 */
import assert from "node:assert/strict";
import { encrypt } from "../src/envelope/encrypt.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { LocalKey } from "../src/keys/local.ts";
import { RawDataKey } from "../src/keys/raw.ts";
import { cliArgv, cliEnv, leftovers, pathExists, randomBytes, REPO, show, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, fileMode, inspectJson, writeKey } from "./support/cli_asserts.ts";

const MAGIC = [0x89, 0x45, 0x4e, 0x56, 0x0d, 0x0a, 0x1a, 0x0a];

Deno.test("cli: a file round trip with default names, the default local key and a required context", async () => {
  await using ws = await workspace();
  const data = randomBytes(200_003);
  await Deno.writeFile(ws.path("data.bin"), data);
  const keyPath = `${ws.home}/.config/envelope/local.key`;

  // First encrypt: creates the default key, says where and to back it up.
  let r = await ws.run(["encrypt", "data.bin", "-c", "app=x", "-c", "env=test", "--chunk-size", "4096"]);
  assertOk(r);
  assert.equal(r.stdout, "encrypted to data.bin.envl\n");
  assert.match(r.stderr, /^warning: /m);
  assert.ok(r.stderr.includes(keyPath), `the warning names ${keyPath}: ${r.stderr}`);
  assert.match(r.stderr, /back it up/);
  assert.equal(await fileMode(keyPath), 0o600, "the new key file is mode 0600");
  assert.match(await Deno.readTextFile(keyPath), /^ENVELOPE-LOCAL-KEY-V1:[A-Za-z0-9_-]{43}\n$/);
  const key = await LocalKey.fromText(await Deno.readTextFile(keyPath));
  const sealed = await Deno.readFile(ws.path("data.bin.envl"));
  assert.deepEqual([...sealed.subarray(0, 8)], MAGIC);

  const info = await inspectJson(ws, "data.bin.envl");
  assert.equal(info.chunkSize, 4096);
  assert.deepEqual(info.context, { app: "x", env: "test" });
  assert.deepEqual(info.keys.map((k) => [k.provider, k.keyId]), [["local", key.keyId]]);
  // 4096-byte chunks: 49 chunks of 4096 + 16 after the header.
  assert.equal(sealed.length, info.headerLength + Math.ceil(data.length / 4096) * 16 + data.length);

  // The default output name is data.bin, which exists: refused, left as it was.
  await Deno.writeTextFile(ws.path("data.bin"), "mine");
  r = await ws.run(["decrypt", "data.bin.envl", "-c", "app=x", "-c", "env=test"]);
  assertFailed(r, "OUTPUT_EXISTS");
  assert.equal(await Deno.readTextFile(ws.path("data.bin")), "mine");
  await Deno.remove(ws.path("data.bin"));

  // No -k: the default key; the context given is exactly the stored one.
  r = await ws.run(["decrypt", "data.bin.envl", "-c", "env=test", "-c", "app=x"]);
  assertOk(r);
  assert.equal(r.stdout, "decrypted to data.bin\n");
  assert.equal(r.stderr, "", "decrypting with an existing default key warns of nothing");
  assert.deepEqual(await Deno.readFile(ws.path("data.bin")), data);

  // A missing pair and a different value both fail before any output.
  for (
    const ctx of [["-c", "app=x"], ["-c", "app=y", "-c", "env=test"], ["-c", "app=x", "-c", "env=test", "-c", "z=1"]]
  ) {
    r = await ws.run(["decrypt", "data.bin.envl", ...ctx, "-o", "wrong.bin"]);
    assertFailed(r, "CONTEXT_MISMATCH");
    assert.match(r.stderr, /"app":"x"/, "the hint shows the file's context");
    assert.equal(await pathExists(ws.path("wrong.bin")), false);
  }

  // A second encrypt reuses the key silently.
  r = await ws.run(["encrypt", "data.bin", "-o", "second.envl"]);
  assertOk(r);
  assert.equal(r.stderr, "", "the second encrypt does not warn");
  assert.deepEqual((await inspectJson(ws, "second.envl")).keys.map((k) => k.keyId), [key.keyId]);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: stdin to stdout both ways, with - and with no INPUT", async () => {
  await using ws = await workspace();
  const data = randomBytes(150_001);
  let r = await ws.run(["encrypt", "-c", "k=v"], { stdin: data });
  assertOk(r);
  assert.deepEqual([...r.stdoutBytes.subarray(0, 8)], MAGIC, "no INPUT: stdin in, the message on stdout");
  assert.match(r.stderr, /^warning: created a new local key/m);
  const viaDefault = r.stdoutBytes;

  r = await ws.run(["encrypt", "-", "-o", "-", "-c", "k=v", "--chunk-size", "1000"], { stdin: data });
  assertOk(r);
  assert.equal(r.stderr, "");
  const viaDash = r.stdoutBytes;
  assert.equal(viaDash.length > data.length, true);

  r = await ws.run(["decrypt", "-", "-c", "k=v"], { stdin: viaDash });
  assertOk(r);
  assert.deepEqual(r.stdoutBytes, data);
  assert.equal(r.stderr, "");

  r = await ws.run(["decrypt", "-o", "-"], { stdin: viaDefault });
  assertOk(r);
  assert.deepEqual(r.stdoutBytes, data);

  // The empty message round trips too.
  r = await ws.run(["encrypt", "-"], { stdin: new Uint8Array(0) });
  assertOk(r);
  r = await ws.run(["decrypt", "-"], { stdin: r.stdoutBytes });
  assertOk(r);
  assert.equal(r.stdoutBytes.length, 0);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: $ENVELOPE_LOCAL_KEY chooses the default key", async () => {
  await using ws = await workspace();
  await Deno.writeTextFile(ws.path("a.txt"), "hello");
  const custom = ws.path("keys", "nested", "custom.key");
  const env = { ENVELOPE_LOCAL_KEY: custom };
  let r = await ws.run(["encrypt", "a.txt"], { env });
  assertOk(r);
  assert.ok(r.stderr.includes(custom), `the warning names ${custom}: ${r.stderr}`);
  assert.equal(await fileMode(custom), 0o600);
  assert.equal(await pathExists(`${ws.home}/.config`), false, "nothing is written under HOME");

  r = await ws.run(["decrypt", "a.txt.envl", "-o", "a.out"], { env });
  assertOk(r);
  assert.equal(await Deno.readTextFile(ws.path("a.out")), "hello");

  // Without the variable the default is ~/.config/envelope/local.key, which does not exist.
  r = await ws.run(["decrypt", "a.txt.envl", "-o", "a.out2"]);
  assertFailed(r, "NO_KEY_MATCHED");
  const id = (await LocalKey.fromText(await Deno.readTextFile(custom))).keyId;
  assert.ok(r.stderr.includes(`local:${id}`), "the hint names the file's key");
  assert.equal(await pathExists(ws.path("a.out2")), false);
  assert.equal(await pathExists(`${ws.home}/.config`), false, "decrypt never creates a key");
});

Deno.test("cli: two -k local keys each decrypt alone; a third key and a missing key file fail", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  const b = await writeKey(ws.path("B.key"));
  const c = await writeKey(ws.path("C.key"));
  const data = randomBytes(70_000);
  await Deno.writeFile(ws.path("f"), data);
  let r = await ws.run(["encrypt", "f", "-k", "local:A.key", "--key", "local:B.key", "-c", "t=1"]);
  assertOk(r);
  assert.equal(r.stderr, "", "explicit keys: no default key is created");
  assert.equal(await pathExists(`${ws.home}/.config`), false);
  const info = await inspectJson(ws, "f.envl");
  assert.deepEqual(info.keys.map((k) => `${k.provider}:${k.keyId}`), [`local:${a.keyId}`, `local:${b.keyId}`]);

  for (const k of ["A", "B"]) {
    r = await ws.run(["decrypt", "f.envl", "-k", `local:${k}.key`, "-o", `out-${k}`]);
    assertOk(r);
    assert.deepEqual(await Deno.readFile(ws.path(`out-${k}`)), data);
  }

  r = await ws.run(["decrypt", "f.envl", "-k", "local:C.key", "-o", "out-C"]);
  assertFailed(r, "NO_KEY_MATCHED");
  assert.ok(r.stderr.includes(c.keyId), "names the key tried");
  assert.ok(r.stderr.includes(a.keyId) && r.stderr.includes(b.keyId), "names the file's keys");
  assert.equal(await pathExists(ws.path("out-C")), false);

  // A key file others can read still works, with a warning naming it.
  await Deno.chmod(ws.path("B.key"), 0o644);
  r = await ws.run(["decrypt", "f.envl", "-k", "local:B.key", "-o", "out-B644"]);
  assertOk(r);
  assert.match(r.stderr, /^warning: .*B\.key.*chmod 600/m, show(r));

  r = await ws.run(["decrypt", "f.envl", "-k", "local:nope.key", "-o", "out-D"]);
  assertFailed(r, "INVALID_KEY");
  assert.match(r.stderr, /nope\.key/);
  assert.equal(await pathExists(ws.path("out-D")), false);

  r = await ws.run(["encrypt", "f", "-k", "bogus-key", "-o", "g.envl"]);
  assertFailed(r, "USAGE", 2);
  assert.equal(await pathExists(ws.path("g.envl")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: an encrypt that fails creates no default local key", async () => {
  await using ws = await workspace();
  const keyDir = `${ws.home}/.config/envelope`;
  await Deno.writeTextFile(ws.path("f"), "x");
  await Deno.writeTextFile(ws.path("f.envl"), "already here");
  const failing: [string[], string][] = [
    [["encrypt", "absent.txt"], "IO_FAILED"],
    [["encrypt", "f"], "OUTPUT_EXISTS"],
    [["encrypt", "f", "-o", "g.envl", "--chunk-size", "10"], "LIMIT_EXCEEDED|USAGE"],
  ];
  for (const [args, code] of failing) {
    const r = await ws.run(args);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, new RegExp(`^error: .*\\[(${code})\\]$`, "m"), show(r));
    assert.doesNotMatch(
      r.stderr,
      /created a new local key/,
      `${args.join(" ")}: announced a key for a run that failed`,
    );
    assert.equal(await pathExists(keyDir), false, `${args.join(" ")}: created ${keyDir}`);
  }
  assert.equal(await Deno.readTextFile(ws.path("f.envl")), "already here");
});

Deno.test("cli: an early failure is reported as an error, never an uncaught exception", async () => {
  // A failure found before the payload is read (wrong context, wrong key)
  // cancels the input while it is still being read; the CLI must still end
  // with its own error: and hint: lines and leave nothing behind. Run a few
  // times: the input reader and the cancel race.
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await writeKey(ws.path("B.key"));
  await Deno.writeFile(ws.path("plain"), randomBytes(4 * 1024 * 1024));
  assertOk(await ws.run(["encrypt", "plain", "-k", "local:A.key", "-c", "app=x", "-o", "good.envl"]));
  const jobs = Array.from({ length: 16 }, (_, i) => async () => {
    const args = i % 2 === 0 ? ["-k", "local:A.key", "-c", "app=y"] : ["-k", "local:B.key"];
    return { i, r: await ws.run(["decrypt", "good.envl", ...args, "-o", `out-${i}`]) };
  });
  for (const { i, r } of await pool(jobs, 3)) {
    assert.doesNotMatch(r.stderr, /Uncaught/, `run ${i} crashed:\n${r.stderr}`);
    assertFailed(r, i % 2 === 0 ? "CONTEXT_MISMATCH" : "NO_KEY_MATCHED");
    assert.equal(await pathExists(ws.path(`out-${i}`)), false);
  }
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: decrypt --data-key opens a message with a data key fetched elsewhere, and never prints it", async () => {
  await using ws = await workspace();
  const a = await writeKey(ws.path("A.key"));
  const dataKey = crypto.getRandomValues(new Uint8Array(32));
  const data = randomBytes(100_000);
  // Made by the library: the data key comes from the raw entry, and A wraps it too.
  const sealed = await encrypt(data, { keys: [await RawDataKey.create(dataKey), a], context: { "名前": "値" } });
  await Deno.writeFile(ws.path("m.envl"), sealed);
  const b64 = encodeBase64(dataKey);

  let r = await ws.run(["decrypt", "m.envl", "--data-key", b64, "-c", "名前=値", "-o", "by-raw"]);
  assertOk(r);
  assert.deepEqual(await Deno.readFile(ws.path("by-raw")), data);
  r = await ws.run(["decrypt", "m.envl", "-k", "local:A.key", "-o", "by-local"]);
  assertOk(r);
  assert.deepEqual(await Deno.readFile(ws.path("by-local")), data);
  r = await ws.run(["inspect", "m.envl"]);
  assert.match(r.stdout, /^ {2}名前="値"$/m);

  const wrong = crypto.getRandomValues(new Uint8Array(32));
  r = await ws.run(["decrypt", "m.envl", "--data-key", encodeBase64(wrong), "-o", "bad"]);
  assertFailed(r, "NO_KEY_MATCHED|KEY_COMMITMENT_MISMATCH");
  assert.ok(!r.stderr.includes(encodeBase64(wrong)) && !r.stderr.includes(b64), "stderr quotes a data key");
  r = await ws.run(["decrypt", "m.envl", "--data-key", "not base64!", "-o", "bad"]);
  assertFailed(r, "INVALID_KEY|USAGE", r.code === 2 ? 2 : 1);
  r = await ws.run(["decrypt", "m.envl", "--data-key", encodeBase64(wrong.subarray(0, 16)), "-o", "bad"]);
  assertFailed(r, "INVALID_KEY|USAGE", r.code === 2 ? 2 : 1);
  assert.equal(await pathExists(ws.path("bad")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
});

/** Runs `jobs` with at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

Deno.test("cli: usage errors exit 2, --help for every command exits 0 and names the exit codes, --version", async () => {
  await using ws = await workspace();
  await Deno.writeTextFile(ws.path("f"), "x");
  const usage: string[][] = [
    [],
    ["frobnicate"],
    ["encrypt", "--bogus"],
    ["encrypt", "f", "-c", "novalue"],
    ["encrypt", "f", "-c", "=v"],
    ["encrypt", "f", "-c", "a=1", "-c", "a=2"],
    ["encrypt", "f", "--chunk-size", "big"],
    ["encrypt", "f", "-o"],
    ["encrypt", "f", "-"],
    ["decrypt", "f.envl", "-o", "a", "-d", "b"],
    ["decrypt", "f", "-c", "x"],
    ["decrypt", "f"],
    ["rewrap", "f.envl"],
    ["keygen", "--force=yes"],
  ];
  const helps = ["encrypt", "decrypt", "inspect", "rewrap", "keygen"];
  const results = await pool([
    ...usage.map((a) => () => ws.run(a)),
    ...helps.map((c) => () => ws.run([c, "--help"])),
    () => ws.run(["-h"]),
    () => ws.run(["--help"]),
    () => ws.run(["--version"]),
  ], 4);
  for (const [i, args] of usage.entries()) {
    const r = results[i];
    if (args.length === 0) {
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Usage: envelope <command>/, "no command: the overview");
      assert.match(r.stdout, /envelope --version/, "the overview names --version");
      continue;
    }
    assertFailed(r, "USAGE", 2);
    assert.match(r.stderr, /^hint: .*--help/m, `${args.join(" ")}: the hint points at --help`);
  }
  for (const [j, c] of helps.entries()) {
    const r = results[usage.length + j];
    assertOk(r);
    assert.match(r.stdout, new RegExp(`^Usage: envelope ${c}`), c);
    assert.match(r.stdout, /Exit codes: 0 success; 1 failure .*; 2 usage error/, `${c} --help names the exit codes`);
    assert.equal(r.stderr, "");
  }
  const [h, help, version] = results.slice(usage.length + helps.length);
  for (const r of [h, help]) {
    assertOk(r);
    assert.match(r.stdout, /Commands:/);
    assert.match(r.stdout, /Exit codes:/);
  }
  assertOk(version);
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  assert.equal(version.stdout, `envelope ${denoJson.version}\n`);
  assert.deepEqual(await leftovers(ws.dir), []);
  assert.equal(await pathExists(`${ws.home}/.config`), false, "usage errors create no key");
});

Deno.test("cli: no progress bar when stderr is not a terminal; a bar on a terminal (script)", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const data = randomBytes(5 * 1024 * 1024);
  await Deno.writeFile(ws.path("big"), data);
  let r = await ws.run(["encrypt", "big", "-k", "local:A.key"]);
  assertOk(r);
  assert.equal(r.stderr, "");
  assert.ok(!r.stdout.includes("\r") && !r.stderr.includes("\r"));
  r = await ws.run(["decrypt", "big.envl", "-k", "local:A.key", "-o", "big.out"]);
  assertOk(r);
  assert.equal(r.stderr, "");
  assert.deepEqual(await Deno.readFile(ws.path("big.out")), data);

  // On a terminal: util-linux `script` gives the CLI a pseudo-terminal. It is
  // part of Debian's essential set; when it is missing the test fails (never skips).
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), ...cliArgv(["encrypt", "big", "-k", "local:A.key", "-o", "tty.envl"])]
    .map(quote).join(" ");
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: ws.dir,
      clearEnv: true,
      env: await cliEnv(ws.home, { TERM: "dumb" }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("util-linux `script` is missing: apt-get install bsdutils (or util-linux)");
    }
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  // done / total [bar] percent rate ETA
  assert.match(
    text,
    /\rencrypting [\d.]+ [KM]iB \/ 5\.0 MiB \[[#-]{24}\] +\d+% [\d.]+ [KMG]?i?B\/s ETA \d+:\d\d/,
    "a bar with done/total, rate and ETA is drawn on a terminal",
  );
  assert.match(
    text,
    /\rencrypting 5\.0 MiB \/ 5\.0 MiB \[#{24}\] 100% [^\r\n]*\r?\n/,
    "the bar ends at 100% with a newline",
  );
  assert.match(text, /encrypted to tty\.envl/);
  r = await ws.run(["decrypt", "tty.envl", "-k", "local:A.key", "-o", "tty.out"]);
  assertOk(r);
  assert.deepEqual(await Deno.readFile(ws.path("tty.out")), data);
});
