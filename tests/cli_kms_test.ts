/**
 * The CLI with cloud keys: AWS KMS through moto and Alibaba Cloud KMS through
 * the loopback server, configured only through the environment a user would
 * set, in a child process.
 */
import assert from "node:assert/strict";
import { LocalKey } from "../src/keys/local.ts";
import { type AliyunServer, startAliyunServer } from "./support/aliyun_server.ts";
import {
  type CliResult,
  type InspectJson,
  leftovers,
  pathExists,
  randomBytes,
  show,
  type Workspace,
  workspace,
} from "./support/cli.ts";
import { type Moto, startMoto } from "./support/moto.ts";

function assertFailed(r: CliResult, code: string): void {
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, new RegExp(`^error: .*\\[(${code})\\]$`, "m"), show(r));
  assert.match(r.stderr, /^hint: \S/m, show(r));
}

function assertOk(r: CliResult): void {
  assert.equal(r.code, 0, show(r));
}

function aliyunEnv(server: AliyunServer, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ALIBABA_CLOUD_KMS_ENDPOINT: server.endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
    ALIBABA_CLOUD_REGION_ID: server.regionId,
    ...overrides,
  };
}

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function inspectJson(ws: Workspace, file: string): Promise<InspectJson> {
  const r = await ws.run(["inspect", "--json", file]);
  assertOk(r);
  return JSON.parse(r.stdout);
}

async function withServers(fn: (moto: Moto, aliyun: AliyunServer) => Promise<void>): Promise<void> {
  const moto = await startMoto();
  try {
    const aliyun = await startAliyunServer();
    try {
      await fn(moto, aliyun);
    } finally {
      await aliyun.close();
    }
  } finally {
    await moto.close();
  }
}

Deno.test("cli + aws-kms (moto): encrypt by alias, inspect shows the ARN, decrypt with no -k, context failures name the key and cause", () =>
  withServers(async (moto) => {
    await using ws = await workspace();
    const arn = await moto.createKey("cli test");
    await moto.createAlias("cli-test", arn);
    const env = moto.env();
    const data = randomBytes(100_000);
    await Deno.writeFile(ws.path("f"), data);

    let r = await ws.run(["encrypt", "f", "-k", "alias/cli-test", "-c", "app=x"], { env });
    assertOk(r);
    assert.equal(r.stderr, "", "a KMS key: no local key is created");
    assert.equal(await pathExists(`${ws.home}/.config`), false);

    // inspect needs no credentials at all.
    const info = await inspectJson(ws, "f.envl");
    assert.equal(info.keys.length, 1);
    assert.equal(info.keys[0].provider, "aws-kms");
    assert.equal(info.keys[0].keyId, arn, "the header records the key ARN, not the alias");
    assert.deepEqual(info.context, { app: "x" });
    r = await ws.run(["inspect", "f.envl"]);
    assert.ok(r.stdout.includes(`aws-kms:${arn}`), r.stdout);

    // No -k: the header says which key.
    r = await ws.run(["decrypt", "f.envl", "-c", "app=x", "-o", "out"], { env });
    assertOk(r);
    assert.deepEqual(await Deno.readFile(ws.path("out")), data);

    // A different required context is refused before any KMS call, showing the file's.
    r = await ws.run(["decrypt", "f.envl", "-c", "app=y", "-o", "out2"], { env });
    assertFailed(r, "CONTEXT_MISMATCH");
    assert.match(r.stderr, /"app":"x"/);

    // The stored context changed in the header (same length): the KMS itself
    // refuses, and the message names the key and the cause.
    const sealed = await Deno.readFile(ws.path("f.envl"));
    const at = sealed.indexOf(0x78, /* x */ 46);
    assert.equal(sealed[at - 1], 0x01, "found the context value");
    const tampered = sealed.slice();
    tampered[at] = 0x79; /* y */
    await Deno.writeFile(ws.path("t.envl"), tampered);
    r = await ws.run(["decrypt", "t.envl", "-o", "out3"], { env });
    assertFailed(r, "NO_KEY_MATCHED|CONTEXT_MISMATCH");
    assert.ok(r.stderr.includes(arn), `the message names the key: ${r.stderr}`);
    assert.match(r.stderr, /context|InvalidCiphertext|ciphertext/i, "the message gives the cause");
    for (const f of ["out2", "out3"]) assert.equal(await pathExists(ws.path(f)), false);

    // The KMS cannot be reached: a clear failure naming the key, no output.
    const t0 = Date.now();
    r = await ws.run(["decrypt", "f.envl", "-o", "out4"], {
      env: { ...env, AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${closedPort()}` },
    });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: .*\[(NO_KEY_MATCHED|KMS_[A-Z_]+)\]$/m);
    assert.ok(r.stderr.includes(arn), r.stderr);
    assert.equal(await pathExists(ws.path("out4")), false);
    console.log(`unreachable KMS run: ${Date.now() - t0} ms`);
    assert.deepEqual(await leftovers(ws.dir), []);
  }));

Deno.test("cli: one data key wrapped by AWS, Alibaba Cloud and a local key; each decrypts alone; all failing lists each key and cause", () =>
  withServers(async (moto, aliyun) => {
    await using ws = await workspace();
    const arn = await moto.createKey("three");
    await moto.createAlias("cli-test", arn);
    const aliKey = aliyun.createKey();
    const local = await LocalKey.generate();
    await Deno.writeTextFile(ws.path("L.key"), local.toText(), { mode: 0o600 });
    const other = await LocalKey.generate();
    await Deno.writeTextFile(ws.path("O.key"), other.toText(), { mode: 0o600 });
    const data = randomBytes(200_000);
    await Deno.writeFile(ws.path("f"), data);
    const both = { ...moto.env(), ...aliyunEnv(aliyun) };

    let r = await ws.run(
      ["encrypt", "f", "-k", "alias/cli-test", "-k", `aliyun-kms:${aliKey}`, "-k", "local:L.key", "-c", "app=three"],
      { env: both },
    );
    assertOk(r);
    const info = await inspectJson(ws, "f.envl");
    assert.deepEqual(info.keys.map((k) => `${k.provider}:${k.keyId}`), [
      `aws-kms:${arn}`,
      `aliyun-kms:${aliKey}`,
      `local:${local.keyId}`,
    ]);
    assert.equal(aliyun.count("Encrypt") + aliyun.count("GenerateDataKey"), 1);

    // Each key alone, with only its own provider's settings. With no -k the
    // header's providers are tried in turn, so the other cloud is pointed at a
    // closed loopback port: no test may send traffic off this machine (no
    // instance-metadata probe, no real endpoint).
    const awsOff = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "offline",
      AWS_SECRET_ACCESS_KEY: "offline",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${closedPort()}`,
    };
    const aliyunOff = aliyunEnv(aliyun, { ALIBABA_CLOUD_KMS_ENDPOINT: `http://127.0.0.1:${closedPort()}/` });
    const alone: [string, string[], Record<string, string>][] = [
      ["aws", ["-k", "alias/cli-test"], moto.env()],
      ["aliyun", ["-k", `aliyun-kms:${aliKey}`], aliyunEnv(aliyun)],
      ["local", ["-k", "local:L.key"], {}],
      ["aws-by-header", [], { ...aliyunOff, ...moto.env() }],
      ["aliyun-by-header", [], { ...awsOff, ...aliyunEnv(aliyun) }],
    ];
    for (const [name, args, env] of alone) {
      const decryptsBefore = aliyun.count("Decrypt");
      r = await ws.run(["decrypt", "f.envl", ...args, "-c", "app=three", "-o", `out-${name}`], { env });
      assertOk(r);
      assert.deepEqual(await Deno.readFile(ws.path(`out-${name}`)), data, name);
      if (name.startsWith("aliyun")) assert.equal(aliyun.count("Decrypt"), decryptsBefore + 1);
    }

    // Every key fails: AWS unreachable (a closed loopback port), Alibaba with
    // a wrong secret, a local key that is not in the file. stderr names each
    // key and why it failed.
    const r2 = await ws.run(
      ["decrypt", "f.envl", "-k", arn, "-k", `aliyun-kms:${aliKey}`, "-k", "local:O.key", "-o", "none"],
      {
        env: {
          ...moto.env(),
          AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${closedPort()}`,
          ...aliyunEnv(aliyun, { ALIBABA_CLOUD_ACCESS_KEY_SECRET: "wrong-secret" }),
        },
      },
    );
    r = r2;
    assertFailed(r, "NO_KEY_MATCHED");
    assert.ok(r.stderr.includes(arn), `names the AWS key: ${r.stderr}`);
    assert.ok(r.stderr.includes(aliKey), `names the Alibaba key: ${r.stderr}`);
    assert.ok(r.stderr.includes(other.keyId), `names the local key tried: ${r.stderr}`);
    assert.match(r.stderr, /reach|connect|refused/i, `says why AWS failed: ${r.stderr}`);
    assert.match(r.stderr, /SignatureDoesNotMatch/, `says why Alibaba failed: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /wrong-secret/, "no secret in messages");
    assert.equal(await pathExists(ws.path("none")), false);
    assert.deepEqual(await leftovers(ws.dir), []);
  }));

Deno.test("cli: rewrap to a second key of the same KMS re-encrypts inside the KMS (AWS and Alibaba Cloud)", () =>
  withServers(async (moto, aliyun) => {
    await using ws = await workspace();
    const data = randomBytes(50_000);
    await Deno.writeFile(ws.path("f"), data);

    // AWS: the output says re-encrypted inside the KMS.
    const arn1 = await moto.createKey("first");
    const arn2 = await moto.createKey("second");
    const env = moto.env();
    let r = await ws.run(["encrypt", "f", "-k", arn1, "-c", "app=rw", "-o", "aws.envl"], { env });
    assertOk(r);
    const before = await Deno.readFile(ws.path("aws.envl"));
    const h1 = (await inspectJson(ws, "aws.envl")).headerLength;
    r = await ws.run(["rewrap", "aws.envl", "-k", `aws-kms:${arn2}`, "--remove", `aws-kms:${arn1}`], { env });
    assertOk(r);
    assert.match(r.stdout, new RegExp(`^added aws-kms:${arn2} \\(re-encrypted inside the KMS\\)$`, "m"));
    assert.match(r.stdout, new RegExp(`^removed aws-kms:${arn1}$`, "m"));
    const info = await inspectJson(ws, "aws.envl");
    assert.deepEqual(info.keys.map((k) => k.keyId), [arn2]);
    const after = await Deno.readFile(ws.path("aws.envl"));
    assert.deepEqual(after.subarray(info.headerLength), before.subarray(h1), "the payload changed");
    r = await ws.run(["decrypt", "aws.envl", "-c", "app=rw", "-o", "aws.out"], { env });
    assertOk(r);
    assert.deepEqual(await Deno.readFile(ws.path("aws.out")), data);

    // Alibaba Cloud: the server counts one ReEncrypt and one Decrypt (the proof, with the new key).
    const k1 = aliyun.createKey();
    const k2 = aliyun.createKey("cli-second");
    const aenv = aliyunEnv(aliyun);
    r = await ws.run(["encrypt", "f", "-k", `aliyun-kms:${k1}`, "-c", "app=rw", "-o", "ali.envl"], { env: aenv });
    assertOk(r);
    const aliBefore = await Deno.readFile(ws.path("ali.envl"));
    const ah1 = (await inspectJson(ws, "ali.envl")).headerLength;
    const reencrypts = aliyun.count("ReEncrypt");
    const decrypts = aliyun.count("Decrypt");
    r = await ws.run(["rewrap", "ali.envl", "-k", `aliyun-kms:${k2}`, "--replace"], { env: aenv });
    assertOk(r);
    assert.match(r.stdout, /\(re-encrypted inside the KMS\)/);
    assert.equal(aliyun.count("ReEncrypt"), reencrypts + 1, "one ReEncrypt");
    // One Decrypt with the new key proves the re-encrypted entry opens to the committed data key (FORMAT.md §9).
    assert.equal(aliyun.count("Decrypt"), decrypts + 1, "one Decrypt, with the new key, to prove the new entry");
    const ainfo = await inspectJson(ws, "ali.envl");
    assert.deepEqual(ainfo.keys.map((k) => `${k.provider}:${k.keyId}`), [`aliyun-kms:${k2}`]);
    assert.deepEqual(
      (await Deno.readFile(ws.path("ali.envl"))).subarray(ainfo.headerLength),
      aliBefore.subarray(ah1),
    );
    r = await ws.run(["decrypt", "ali.envl", "-c", "app=rw", "-o", "ali.out"], { env: aenv });
    assertOk(r);
    assert.deepEqual(await Deno.readFile(ws.path("ali.out")), data);
    r = await ws.run(["decrypt", "ali.envl", "-k", `aliyun-kms:${k1}`, "-o", "ali.out2"], { env: aenv });
    assertFailed(r, "NO_KEY_MATCHED");
  }));
