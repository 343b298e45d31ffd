// The `envelope` command of the installed package, run as users run it:
// `npx envelope ...` in the install folder, with a temporary HOME so the
// default local key is created there.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const home = mkdtempSync(join(tmpdir(), "envelope-npm-home-"));
const work = mkdtempSync(join(tmpdir(), "envelope-npm-cli-"));
after(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const ENV = {
  ...process.env,
  HOME: home,
  USERPROFILE: home,
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  // The bin is local: npx needs no registry (and is seconds faster without looking).
  npm_config_offline: "true",
};
delete ENV.ENVELOPE_LOCAL_KEY;

/** `npx --no -- envelope ARGS` in the install folder (--no: never download; the local bin must be found). */
function npx(args, { input } = {}) {
  const r = spawnSync("npx", ["--no", "--", "envelope", ...args], { cwd: here, env: ENV, encoding: "utf8", input, timeout: 60_000 });
  if (r.error) throw r.error;
  return r;
}

test("npx envelope --help exits 0 and prints the usage; --version prints the package version", () => {
  const help = npx(["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: envelope <command>/);
  assert.match(help.stdout, /encrypt/);
  const version = npx(["--version"]);
  assert.equal(version.status, 0, version.stderr);
  const pkg = JSON.parse(readFileSync(join(here, "node_modules", "@envelope", "envelope", "package.json"), "utf8"));
  assert.equal(version.stdout.trim(), `envelope ${pkg.version}`);
});

test("a bad command exits 2 with error: and hint: lines; no command prints the usage and exits 2", () => {
  const bad = npx(["frobnicate"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: .*unknown command "frobnicate" \[USAGE\]$/m);
  assert.match(bad.stderr, /^hint: /m);
  const none = npx([]);
  assert.equal(none.status, 2);
  assert.match(none.stdout, /Usage: envelope/);
});

test("encrypt a file with the default local key (created in HOME), inspect --json, decrypt it back", () => {
  const file = join(work, "report.txt");
  const text = "quarterly numbers\n".repeat(5000);
  writeFileSync(file, text);
  const enc = npx(["encrypt", file, "-c", "team=finance"]);
  assert.equal(enc.status, 0, enc.stderr);
  assert.match(enc.stderr, /warning: created a new local key at .*local\.key/);
  const keyPath = join(home, ".config", "envelope", "local.key");
  assert.ok(existsSync(keyPath), "the default key is in the temporary HOME");
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.ok(existsSync(`${file}.envl`));

  const info = npx(["inspect", `${file}.envl`, "--json"]);
  assert.equal(info.status, 0, info.stderr);
  const header = JSON.parse(info.stdout);
  assert.equal(header.format, "envelope");
  assert.deepEqual(header.context, { team: "finance" });
  assert.deepEqual(header.keys.map((k) => k.provider), ["local"]);

  rmSync(file);
  const dec = npx(["decrypt", `${file}.envl`, "-c", "team=finance"]);
  assert.equal(dec.status, 0, dec.stderr);
  assert.equal(readFileSync(file, "utf8"), text);

  const wrong = npx(["decrypt", `${file}.envl`, "-c", "team=sales", "-o", join(work, "nope.txt")]);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /\[CONTEXT_MISMATCH\]/);
  assert.ok(!existsSync(join(work, "nope.txt")), "a failed decrypt leaves no output");
});

test("stdin to stdout through a key file from keygen, and a tampered file refused with exit 1", () => {
  const key = join(work, "team.key");
  const kg = npx(["keygen", "-o", key]);
  assert.equal(kg.status, 0, kg.stderr);
  const sealedPath = join(work, "piped.envl");
  const enc = spawnSync("npx", ["--no", "--", "envelope", "encrypt", "-", "-k", `local:${key}`, "-o", sealedPath], {
    cwd: here,
    env: ENV,
    input: "piped secret",
    timeout: 60_000,
  });
  assert.equal(enc.status, 0, String(enc.stderr));
  const dec = npx(["decrypt", sealedPath, "-k", `local:${key}`, "-o", "-"]);
  assert.equal(dec.status, 0, dec.stderr);
  assert.equal(dec.stdout, "piped secret");

  const bytes = readFileSync(sealedPath);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(sealedPath, bytes);
  const bad = npx(["decrypt", sealedPath, "-k", `local:${key}`, "-o", join(work, "tampered.out")]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: .*\[PAYLOAD_AUTH_FAILED\]$/m);
  assert.ok(!existsSync(join(work, "tampered.out")));
});
