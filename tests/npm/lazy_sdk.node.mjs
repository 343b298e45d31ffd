// The cloud SDKs load only for callers of ./aws (client-kms) and ./s3 (client-s3): importing the package and
// using a LocalKey (library or CLI) never resolves @aws-sdk/client-kms; and
// under the browser condition the package loads no node: builtin at all.
// Proved in child processes with a resolve hook (support/sdk_hooks.mjs) that
// logs every specifier and can refuse @aws-sdk/* as if it were not installed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const REGISTER = join(here, "support", "register_sdk_hooks.mjs");
const work = mkdtempSync(join(tmpdir(), "envelope-npm-lazy-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs ESM `code` with the hooks in a child Node whose cwd is the install folder. */
function runChild(code, env, nodeFlags = []) {
  const r = spawnSync(process.execPath, [...nodeFlags, "--import", REGISTER, "--input-type=module", "-e", code], {
    cwd: here,
    env: { ...process.env, HOME: work, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `child failed (${r.status} ${r.signal ?? ""}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const LOCAL_ROUND_TRIP = `
  import { decrypt, encrypt, encryptStream, decryptStream, LocalKey } from "@envelope/envelope";
  const key = await LocalKey.generate();
  const sealed = await encrypt(new TextEncoder().encode("lazy"), { keys: key, context: { a: "b" } });
  const text = new TextDecoder().decode(await decrypt(sealed, { keys: key, context: { a: "b" } }));
  if (text !== "lazy") throw new Error("round trip gave " + text);
  const streamed = await new Response(
    new Blob(["x".repeat(100000)]).stream().pipeThrough(encryptStream({ keys: key })).pipeThrough(decryptStream({ keys: key })),
  ).text();
  if (streamed.length !== 100000) throw new Error("stream round trip gave " + streamed.length);
  await import("@envelope/envelope/fs");
  await import("@envelope/envelope/browser");
  await import("@envelope/envelope/aliyun");
`;

test("with @aws-sdk refused at resolve time, the package, ./fs, ./browser and ./aliyun work with a LocalKey", () => {
  const out = runChild(
    LOCAL_ROUND_TRIP + `
    try {
      await import("@envelope/envelope/aws");
      console.log("aws loaded");
    } catch (e) {
      console.log(e.code === "ERR_DENIED_BY_TEST_HOOK" ? "aws denied" : "aws failed otherwise: " + e.message);
    }
    try {
      await import("@envelope/envelope/s3");
      console.log("s3 loaded");
    } catch (e) {
      console.log(e.code === "ERR_DENIED_BY_TEST_HOOK" ? "s3 denied" : "s3 failed otherwise: " + e.message);
    }
    console.log("local ok");
  `,
    { ENVELOPE_DENY: "@aws-sdk/" },
  );
  assert.match(out, /local ok/);
  // The hook really is in force: the ./aws subpath, which needs the SDK, is refused.
  assert.match(out, /aws denied/);
  assert.match(out, /s3 denied/);
});

test("the resolve log: no @aws-sdk specifier until ./aws is imported, then client-kms; client-s3 only for ./s3", () => {
  const log = join(work, "resolved.log");
  writeFileSync(log, "");
  runChild(
    LOCAL_ROUND_TRIP + `
    import { appendFileSync } from "node:fs";
    appendFileSync(process.env.ENVELOPE_HOOK_LOG, "=== local done\\n");
    const { AwsKms } = await import("@envelope/envelope/aws");
    if (typeof AwsKms !== "function") throw new Error("no AwsKms");
    appendFileSync(process.env.ENVELOPE_HOOK_LOG, "=== aws done\\n");
    const { s3Source, s3Sink } = await import("@envelope/envelope/s3");
    if (typeof s3Source !== "function" || typeof s3Sink !== "function") throw new Error("no s3Source/s3Sink");
    appendFileSync(process.env.ENVELOPE_HOOK_LOG, "=== s3 done\\n");
  `,
    { ENVELOPE_HOOK_LOG: log },
  );
  const lines = readFileSync(log, "utf8").split("\n");
  const mark = lines.indexOf("=== local done");
  assert.ok(mark > 0 && lines.includes("=== aws done"), "the child wrote both marks");
  const before = lines.slice(0, mark);
  const awsMark = lines.indexOf("=== aws done");
  const afterAws = lines.slice(mark + 1, awsMark);
  const afterS3 = lines.slice(awsMark + 1);
  assert.ok(before.includes("@envelope/envelope"), "the hook saw the package being resolved");
  assert.deepEqual(before.filter((s) => s.startsWith("@aws-sdk")), []);
  assert.ok(afterAws.includes("@aws-sdk/client-kms"), "importing ./aws resolved @aws-sdk/client-kms");
  assert.ok(!afterAws.includes("@aws-sdk/client-s3"), "importing ./aws did not resolve @aws-sdk/client-s3");
  assert.ok(lines.includes("=== s3 done") && afterS3.includes("@aws-sdk/client-s3"), "importing ./s3 resolved it");
});

test("the CLI with a local key never loads @aws-sdk: keygen, encrypt, inspect, decrypt with the SDK refused", () => {
  const env = {
    ...process.env,
    HOME: work,
    NODE_OPTIONS: `--import=${REGISTER}`,
    ENVELOPE_DENY: "@aws-sdk/",
    npm_config_update_notifier: "false",
  };
  const bin = join(here, "node_modules", ".bin", "envelope");
  const run = (...args) => {
    const r = spawnSync(bin, args, { cwd: work, env, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `envelope ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const key = join(work, "lazy.key");
  const file = join(work, "lazy.txt");
  writeFileSync(file, "no cloud here\n");
  run("keygen", "-o", key);
  run("encrypt", file, "-k", `local:${key}`, "-o", `${file}.envl`);
  assert.match(run("inspect", `${file}.envl`, "--json").stdout, /"provider": "local"/);
  run("decrypt", `${file}.envl`, "-k", `local:${key}`, "-o", join(work, "lazy.out"));
  assert.equal(readFileSync(join(work, "lazy.out"), "utf8"), "no cloud here\n");
});

test("the browser condition: the bare name resolves to the browser entry, which loads no node: builtin", () => {
  const out = runChild(
    `
    const url = import.meta.resolve("@envelope/envelope");
    if (!url.endsWith("/src/browser.js")) throw new Error("resolved to " + url);
    const m = await import("@envelope/envelope");
    const key = await m.RawDataKey.create(new Uint8Array(32).fill(5));
    const sealed = await m.encrypt(new TextEncoder().encode("bundled"), { keys: key });
    const text = new TextDecoder().decode(await m.decrypt(sealed, { keys: key }));
    if (text !== "bundled") throw new Error("round trip gave " + text);
    try {
      await import("@envelope/envelope/fs");
      console.log("fs loaded");
    } catch (e) {
      console.log(e.code === "ERR_DENIED_BY_TEST_HOOK" ? "fs denied" : "fs failed otherwise: " + e.message);
    }
    console.log("browser ok");
  `,
    { ENVELOPE_DENY: "node:" },
    ["--conditions=browser"],
  );
  assert.match(out, /browser ok/);
  // The hook is in force: ./fs, which needs node:fs, is refused.
  assert.match(out, /fs denied/);
});
