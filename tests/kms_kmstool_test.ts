/**
 * KmstoolKey (src/kms/kmstool.ts) through the real CLI: `-k kmstool:PATH` drives
 * replicas of kmstool_enclave_cli of both generations (region, proxy port, credentials)
 * against moto, for the Nitro-enclave format.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { failsWith, listing, ok, runCli, supportFile, tree } from "./support/compat_cli.ts";
import { pythonEncrypted, withSetup } from "./support/nitro_setup.ts";
import { splitNitro } from "../src/compat/nitro.ts";

/** Executable wrappers that run the fake tool as one generation each, logging their arguments. */
async function fakeTools(dir: string): Promise<{ modern: string; legacy: string; legacyStop: string; log: string }> {
  const log = join(dir, "kmstool.log");
  const make = async (name: string, generation: string) => {
    const path = join(dir, name);
    await Deno.writeTextFile(
      path,
      `#!/bin/sh\nFAKE_KMSTOOL_GENERATION=${generation} FAKE_KMSTOOL_LOG=${JSON.stringify(log)} exec python3 ${
        JSON.stringify(supportFile("compat_kmstool_cli.py"))
      } "$@"\n`,
    );
    await Deno.chmod(path, 0o755);
    return path;
  };
  return {
    modern: await make("kmstool-v0.4", "subcommand"),
    legacy: await make("kmstool-v0.2", "legacy"),
    legacyStop: await make("kmstool-v0.1", "legacy-stop"),
    log,
  };
}

async function readLog(path: string): Promise<{ generation: string; argv: string[] }[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const lines = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  await Deno.remove(path).catch(() => {});
  return lines;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

Deno.test("nitro: -k kmstool:PATH drives kmstool_enclave_cli of both generations with region, proxy port and credentials", () =>
  withSetup(async (ctx) => {
    const { dir, home, env } = ctx;
    const { app, file } = await pythonEncrypted(ctx);
    const { blob } = splitNitro(await Deno.readFile(file));
    const tools = await fakeTools(dir);
    const enclaveEnv: Record<string, string> = {
      ...env,
      AWS_SESSION_TOKEN: "session-token-for-test",
      ENVELOPE_KMSTOOL_PROXY_PORT: "8123",
    };

    // v0.3.1 and later: one run, with the subcommand.
    const outNew = join(dir, "out-new");
    ok(
      await runCli(["decrypt", file, "-d", outNew, "-k", `kmstool:${tools.modern}`], {
        cwd: dir,
        home,
        env: enclaveEnv,
      }),
      "decrypt with the new tool",
    );
    assert.deepEqual(await tree(outNew), await tree(app));
    const runsNew = await readLog(tools.log);
    assert.equal(runsNew.length, 1);
    const argv = runsNew[0].argv;
    assert.equal(argv[0], "decrypt");
    assert.equal(flag(argv, "--region"), env.AWS_REGION);
    assert.equal(flag(argv, "--proxy-port"), "8123");
    assert.equal(flag(argv, "--aws-access-key-id"), env.AWS_ACCESS_KEY_ID);
    assert.equal(flag(argv, "--aws-secret-access-key"), env.AWS_SECRET_ACCESS_KEY);
    assert.equal(flag(argv, "--aws-session-token"), "session-token-for-test");
    assert.equal(flag(argv, "--ciphertext"), btoa(String.fromCharCode(...blob)));

    // The older tool: the new form fails as a usage error, then the old form works.
    const outOld = join(dir, "out-old");
    const noDefaults = { ...enclaveEnv };
    delete noDefaults.ENVELOPE_KMSTOOL_PROXY_PORT;
    delete noDefaults.AWS_REGION;
    ok(
      await runCli(["decrypt", file, "-d", outOld, "-k", `kmstool:${tools.legacy}`], {
        cwd: dir,
        home,
        env: { ...noDefaults, AWS_DEFAULT_REGION: "us-east-1" },
      }),
      "decrypt with the old tool",
    );
    assert.deepEqual(await tree(outOld), await tree(app));
    const runsOld = await readLog(tools.log);
    assert.deepEqual(runsOld.map((r) => r.argv[0]), ["decrypt", "--region"]);
    // Defaults when the environment says nothing: us-east-1 and port 8000.
    assert.equal(flag(runsOld[1].argv, "--region"), "us-east-1");
    assert.equal(flag(runsOld[1].argv, "--proxy-port"), "8000");

    // An old tool whose parser stops at the first positional: "... must be set", then the old form works.
    const outStop = join(dir, "out-stop");
    ok(
      await runCli(["decrypt", file, "-d", outStop, "-k", `kmstool:${tools.legacyStop}`], {
        cwd: dir,
        home,
        env: enclaveEnv,
      }),
      "decrypt with the oldest tool",
    );
    assert.deepEqual(await tree(outStop), await tree(app));
    assert.deepEqual((await readLog(tools.log)).map((r) => r.argv[0]), ["decrypt", "--region"]);

    // A KMS refusal is the tool's error, as KMS_FAILED, without the secret; the old form is not tried.
    const bad = await runCli(["decrypt", file, "-o", join(dir, "x.zip"), "-k", `kmstool:${tools.modern}`], {
      cwd: dir,
      home,
      // One attempt: boto3 would otherwise retry the refused connection with backoff.
      env: { ...enclaveEnv, AWS_ENDPOINT_URL_KMS: "http://127.0.0.1:9", AWS_MAX_ATTEMPTS: "1" },
    });
    failsWith(bad, "KMS_FAILED", "a tool that cannot reach KMS");
    assert.match(bad.stderr, /Could not decrypt/);
    assert.doesNotMatch(bad.stderr, /session-token-for-test/);
    assert.equal((await readLog(tools.log)).length, 1);
    assert.ok(!(await listing(dir)).includes("x.zip"));

    // A path that does not exist.
    failsWith(
      await runCli(["decrypt", file, "-o", join(dir, "y.zip"), "-k", `kmstool:${join(dir, "nope")}`], {
        cwd: dir,
        home,
        env,
      }),
      "KMS_FAILED",
      "a missing tool",
    );
  }));
