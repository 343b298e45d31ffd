// The `envelope` command of the installed package: `npx envelope --help`,
// then usage errors, key files, stdin/stdout and tampering through the bin
// npx resolves (node_modules/.bin/envelope; support/cli.mjs).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliSandbox, INSTALL_DIR } from "./support/cli.mjs";

const { work, npx, bin } = cliSandbox();

test("npx envelope --help exits 0 and prints the usage; --version prints the package version", () => {
  const help = npx(["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: envelope <command>/);
  assert.match(help.stdout, /encrypt/);
  const version = bin(["--version"]);
  assert.equal(version.status, 0, version.stderr);
  const pkg = JSON.parse(
    readFileSync(join(INSTALL_DIR, "node_modules", "@envelope", "envelope", "package.json"), "utf8"),
  );
  assert.equal(version.stdout.trim(), `envelope ${pkg.version}`);
});

test("a bad command exits 2 with error: and hint: lines; no command prints the usage and exits 0", () => {
  const bad = bin(["frobnicate"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: .*unknown command "frobnicate" \[USAGE\]$/m);
  assert.match(bad.stderr, /^hint: /m);
  const none = bin([]);
  assert.equal(none.status, 0);
  assert.match(none.stdout, /Usage: envelope/);
});

test("stdin to stdout through a key file from keygen, and a tampered file refused with exit 1", () => {
  const key = join(work, "team.key");
  const kg = bin(["keygen", "-o", key]);
  assert.equal(kg.status, 0, kg.stderr);
  const sealedPath = join(work, "piped.envl");
  const enc = bin(["encrypt", "-", "-k", `local:${key}`, "-o", sealedPath], { input: "piped secret" });
  assert.equal(enc.status, 0, enc.stderr);
  const dec = bin(["decrypt", sealedPath, "-k", `local:${key}`, "-o", "-"]);
  assert.equal(dec.status, 0, dec.stderr);
  assert.equal(dec.stdout, "piped secret");

  const bytes = readFileSync(sealedPath);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(sealedPath, bytes);
  const bad = bin(["decrypt", sealedPath, "-k", `local:${key}`, "-o", join(work, "tampered.out")]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: .*\[PAYLOAD_AUTH_FAILED\]$/m);
  assert.ok(!existsSync(join(work, "tampered.out")));
});
