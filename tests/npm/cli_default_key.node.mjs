// `npx envelope` with no -k: encrypt creates the default local key in HOME
// (here a temporary one) and decrypt finds it from the file's header.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliSandbox } from "./support/cli.mjs";

const { home, work, npx, bin } = cliSandbox();

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

  const wrong = bin(["decrypt", `${file}.envl`, "-c", "team=sales", "-o", join(work, "nope.txt")]);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /\[CONTEXT_MISMATCH\]/);
  assert.ok(!existsSync(join(work, "nope.txt")), "a failed decrypt leaves no output");
});
