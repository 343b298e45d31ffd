/**
 * The Alibaba Cloud credential chain (src/kms/aliyun_credentials.ts) against
 * the loopback server: every link ends in a real KMS round trip
 * (GenerateDataKey + Decrypt through AliyunKms) signed with the credentials
 * that link produced. Settings come from an injected environment (the
 * process environment is shared with the other test files), HOME is a
 * temporary folder, and every request goes through a fetch that refuses
 * anything but 127.0.0.1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAliyunServer } from "./support/aliyun_server.ts";
import { assertNoSecrets, rejectsWith, roundTrip, roundTripWith, withFixture } from "./support/aliyun_chain.ts";
import { show, workspace } from "./support/cli.ts";

// ---------------------------------------------------------------- environment

Deno.test("environment AccessKey: the KMS round trip is signed with it; explicit options win; half a key is refused", () =>
  withFixture(async ({ server, chain }) => {
    const ak = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
    };
    const fromEnv = chain(ak);
    for (const c of await roundTrip(server, fromEnv)) assert.equal(c.accessKeyId, server.accessKeyId);
    assert.equal(fromEnv.source, "environment");

    const sts = server.createStsCredentials();
    const explicit = chain({ ...ak, ALIBABA_CLOUD_ROLE_ARN: server.createRole("unused") }, sts);
    for (const c of await roundTrip(server, explicit)) assert.equal(c.accessKeyId, sts.accessKeyId);
    assert.equal(explicit.source, "options");
    assert.equal(server.count("AssumeRole"), 0, "explicit options: the environment's role is not assumed");

    const half = chain({ ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret });
    const e = await rejectsWith(half.getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e.message, /ALIBABA_CLOUD_ACCESS_KEY_ID is not set/);
    assertNoSecrets(e, [server.accessKeySecret]);
  }));

Deno.test("environment AccessKey + ALIBABA_CLOUD_ROLE_ARN: signed AssumeRole, then KMS with the issued STS credentials", () =>
  withFixture(async ({ server, chain }) => {
    const roleArn = server.createRole("kms-user");
    const vars = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
      ALIBABA_CLOUD_ROLE_ARN: roleArn,
      ALIBABA_CLOUD_ROLE_SESSION_NAME: "ci-backup",
    };
    const c = chain(vars);
    await c.getCredentials();
    await roundTripWith(server, c, server.issued[0]);
    assert.equal(server.issued.length, 1, "one AssumeRole for both KMS calls");
    assert.equal(server.issued[0].via, "AssumeRole");
    assert.equal(server.issued[0].callerAccessKeyId, server.accessKeyId);
    assert.equal(server.issued[0].sessionName, "ci-backup");
    assert.equal(c.source, `environment (AssumeRole of ${roleArn})`);
    const call = server.calls.find((x) => x.action === "AssumeRole")!;
    assert.equal(call.params.Version, "2015-04-01");
    assert.equal(call.params.SignatureMethod, "HMAC-SHA1");

    // The server verifies the signature: a wrong secret is refused, and the message names the role, not the secret.
    const bad = chain({ ...vars, ALIBABA_CLOUD_ACCESS_KEY_SECRET: "wrong-secret-value" });
    const e1 = await rejectsWith(bad.getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /AssumeRole of acs:ram::\d+:role\/kms-user.*SignatureDoesNotMatch/);
    assertNoSecrets(e1, ["wrong-secret-value", server.accessKeySecret]);
    const e2 = await rejectsWith(
      chain({ ...vars, ALIBABA_CLOUD_ROLE_ARN: roleArn + "-gone" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(e2.message, /EntityNotExist\.Role/);
    assert.equal(server.issued.length, 1);
  }));

// ---------------------------------------------------------------- OIDC (RRSA)

Deno.test("OIDC (RRSA): AssumeRoleWithOIDC unsigned with the token file's content; a wrong or missing token file fails", () =>
  withFixture(async ({ server, chain, write, dir }) => {
    const roleArn = server.createRole("pod-role");
    const provider = server.createOidcProvider("ack-cluster");
    const tokenFile = await write("token", provider.token + "\n");
    const vars = {
      ALIBABA_CLOUD_ROLE_ARN: roleArn,
      ALIBABA_CLOUD_OIDC_PROVIDER_ARN: provider.arn,
      ALIBABA_CLOUD_OIDC_TOKEN_FILE: tokenFile,
    };
    const c = chain(vars);
    await c.getCredentials();
    await roundTripWith(server, c, server.issued[0]);
    assert.equal(server.issued[0].via, "AssumeRoleWithOIDC");
    assert.equal(c.source, `OIDC (AssumeRoleWithOIDC of ${roleArn})`);
    const call = server.calls.find((x) => x.action === "AssumeRoleWithOIDC")!;
    assert.equal(call.params.OIDCToken, provider.token, "the token is sent trimmed, as the file holds it");
    assert.equal(call.params.Signature, undefined, "the call is not signed");
    assert.equal(call.params.AccessKeyId, undefined);

    await Deno.writeTextFile(tokenFile, "eyJnot-the-token");
    const e1 = await rejectsWith(chain(vars).getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /AuthenticationFail\.OIDCToken\.Invalid/);
    assertNoSecrets(e1, ["eyJnot-the-token", provider.token]);

    const before = server.count("AssumeRoleWithOIDC");
    const missing = join(dir, "no-such-token");
    const e2 = await rejectsWith(
      chain({ ...vars, ALIBABA_CLOUD_OIDC_TOKEN_FILE: missing }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.ok(e2.message.includes(`${missing} does not exist`), e2.message);
    await Deno.writeTextFile(tokenFile, "  \n");
    const e3 = await rejectsWith(chain(vars).getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e3.message, /is empty/);
    assert.equal(server.count("AssumeRoleWithOIDC"), before, "no STS call without a token");
  }));

// ---------------------------------------------------------------- ECS metadata

Deno.test("ECS metadata: a named role is fetched with a token (PUT first), reaches KMS; tokenless requests are refused", () =>
  withFixture(async ({ server, chain }) => {
    server.createRole("ecs-role");
    server.attachInstanceRole("ecs-role");
    const c = chain({ ALIBABA_CLOUD_ECS_METADATA: "ecs-role" });
    await c.getCredentials();
    await roundTripWith(server, c, server.issued[0]);
    assert.equal(c.source, "ECS metadata (role ecs-role)");
    const meta = server.calls.filter((x) => x.action.startsWith("Metadata")).map((x) => `${x.action} ${x.status}`);
    assert.deepEqual(meta, ["Metadata PUT /latest/api/token 200", "Metadata credentials 200"]);

    // The service answers nothing without its token, or with a made-up one.
    const base = server.metadataEndpoint;
    for (const headers of [{}, { "X-aliyun-ecs-metadata-token": "made-up" }] as Record<string, string>[]) {
      for (
        const path of [
          "/latest/meta-data/ram/security-credentials/",
          "/latest/meta-data/ram/security-credentials/ecs-role",
        ]
      ) {
        const res = await fetch(base + path, { headers });
        assert.equal(res.status, 401, path);
        assert.equal(await res.text(), "Unauthorized");
      }
    }
    const noTtl = await fetch(base + "/latest/api/token", { method: "PUT" });
    assert.equal(noTtl.status, 400, "a token needs its TTL header");
    await noTtl.body?.cancel();

    // A role the instance does not have: the message names the one it has.
    const e = await rejectsWith(
      chain({ ALIBABA_CLOUD_ECS_METADATA: "other-role" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(e.message, /the instance has the role ecs-role, not other-role/);
  }));

Deno.test("ECS metadata is never asked without a named role, nor when ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", () =>
  withFixture(async ({ server, chain, write }) => {
    server.createRole("ecs-role");
    server.attachInstanceRole("ecs-role");
    const e1 = await rejectsWith(chain().getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /ECS metadata: ALIBABA_CLOUD_ECS_METADATA names no role/);
    const e2 = await rejectsWith(
      chain({ ALIBABA_CLOUD_ECS_METADATA: "ecs-role", ALIBABA_CLOUD_ECS_METADATA_DISABLED: "true" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(e2.message, /ECS metadata: ALIBABA_CLOUD_ECS_METADATA_DISABLED is true/);
    await write("home/.alibabacloud/credentials", "[default]\ntype = ecs_ram_role\nrole_name = ecs-role\n");
    const e3 = await rejectsWith(
      chain({ ALIBABA_CLOUD_ECS_METADATA_DISABLED: "TRUE" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(e3.message, /ECS RAM role ecs-role failed: ALIBABA_CLOUD_ECS_METADATA_DISABLED is true/);
    assert.equal(server.calls.filter((x) => x.action.startsWith("Metadata")).length, 0);
  }));

// ---------------------------------------------------------------- order, caching, nothing found

Deno.test("the chain's order: environment, then OIDC, then the credentials file, then config.json, then ECS metadata", () =>
  withFixture(async ({ server, chain, write, home }) => {
    const role = server.createRole("r");
    server.attachInstanceRole("r");
    const provider = server.createOidcProvider("p");
    const oidc = {
      ALIBABA_CLOUD_ROLE_ARN: role,
      ALIBABA_CLOUD_OIDC_PROVIDER_ARN: provider.arn,
      ALIBABA_CLOUD_OIDC_TOKEN_FILE: await write("t", provider.token),
    };
    const ak = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
    };
    const ecs = { ALIBABA_CLOUD_ECS_METADATA: "r" };
    await write(
      "home/.alibabacloud/credentials",
      `[default]\ntype = access_key\naccess_key_id = ${server.accessKeyId}\naccess_key_secret = ${server.accessKeySecret}\n`,
    );
    await write(
      "home/.aliyun/config.json",
      JSON.stringify({ current: "c", profiles: [{ name: "c", mode: "EcsRamRole", ram_role_name: "r" }] }),
    );
    const sourceOf = async (vars: Record<string, string>) => {
      const c = chain(vars);
      await c.getCredentials();
      return c.source!.replace(/ of .*/, "");
    };
    // With an AccessKey, ALIBABA_CLOUD_ROLE_ARN belongs to OIDC when an OIDC provider is set.
    assert.equal(await sourceOf({ ...ak, ...oidc, ...ecs }), "environment");
    assert.equal(await sourceOf({ ...oidc, ...ecs }), "OIDC (AssumeRoleWithOIDC");
    assert.equal(await sourceOf(ecs), "profile [default]");
    await Deno.remove(join(home, ".alibabacloud", "credentials"));
    assert.equal(await sourceOf(ecs), 'profile "c"');
    await write("home/.aliyun/config.json", "{}");
    assert.equal(await sourceOf(ecs), "ECS metadata (role r)");
  }));

Deno.test("temporary credentials are cached until 3 minutes before Expiration; concurrent callers share one refresh", () =>
  withFixture(async ({ server, chain }) => {
    let t = Date.now();
    const c = chain({
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
      ALIBABA_CLOUD_ROLE_ARN: server.createRole("refresh"),
    }, { now: () => t });
    const first = await c.getCredentials();
    const expires = first.expiration!.getTime();
    assert.ok(Math.abs(expires - (t + 3600_000)) < 5000, "an hour, the default DurationSeconds");
    await roundTripWith(server, c, server.issued[0]);
    t = expires - 181_000;
    assert.equal(await c.getCredentials(), first, "still more than 3 minutes left: cached");
    assert.equal(server.count("AssumeRole"), 1);

    t = expires - 179_000;
    const many = await Promise.all(Array.from({ length: 8 }, () => c.getCredentials()));
    assert.equal(server.count("AssumeRole"), 2, "one refresh for eight concurrent callers");
    assert.ok(many.every((x) => x === many[0]));
    assert.notEqual(many[0].accessKeyId, first.accessKeyId);
    // The new credentials expire an hour after the server's (real) clock: back to it, they are fresh.
    t = Date.now();
    assert.equal(await c.getCredentials(), many[0]);
    await roundTripWith(server, c, server.issued[1]);
    assert.equal(server.count("AssumeRole"), 2, "the round trip used the refreshed credentials");
  }));

Deno.test("nothing configured: the error lists every source tried, in order, and why each gave nothing", () =>
  withFixture(async ({ chain, home }) => {
    const e = await rejectsWith(
      chain({ ALIBABA_CLOUD_ROLE_ARN: "acs:ram::1:role/x" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    const expected = [
      "1) options: no accessKeyId and accessKeySecret given",
      "2) environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set",
      "3) OIDC (RRSA): ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE are not set",
      `4) credentials file: ${home}/.alibabacloud/credentials does not exist`,
      `5) aliyun CLI config: ${home}/.aliyun/config.json does not exist`,
      "6) ECS metadata: ALIBABA_CLOUD_ECS_METADATA names no role",
    ];
    let at = 0;
    for (const part of expected) {
      const i = e.message.indexOf(part, at);
      assert.ok(i >= at, `missing or out of order: ${part}\n${e.message}`);
      at = i + part.length;
    }
    assert.ok(!e.message.includes("\n"), "one line, for the CLI's error: line");
    assert.match(e.hint!, /docs\/aliyun\.md/);
  }));

// ---------------------------------------------------------------- CLI

Deno.test("cli: encrypt and decrypt with aliyun-kms through a ram_role_arn profile in ~/.alibabacloud/credentials", async () => {
  const server = await startAliyunServer();
  try {
    await using ws = await workspace();
    const role = server.createRole("cli-profile-role");
    await Deno.mkdir(join(ws.home, ".alibabacloud"));
    await Deno.writeTextFile(
      join(ws.home, ".alibabacloud", "credentials"),
      `[default]\ntype = ram_role_arn\naccess_key_id = ${server.accessKeyId}\n` +
        `access_key_secret = ${server.accessKeySecret}\nrole_arn = ${role}\nrole_session_name = envelope-cli\n`,
    );
    const keyId = server.createKey();
    const env = {
      ALIBABA_CLOUD_KMS_ENDPOINT: server.endpoint,
      ALIBABA_CLOUD_STS_ENDPOINT: server.stsEndpoint,
      ALIBABA_CLOUD_ECS_METADATA_ENDPOINT: server.metadataEndpoint,
      ALIBABA_CLOUD_REGION_ID: server.regionId,
    };
    await Deno.writeTextFile(ws.path("f"), "sealed by a profile's role");
    let r = await ws.run(["encrypt", "f", "-k", `aliyun-kms:${keyId}`, "-c", "app=creds"], { env });
    assert.equal(r.code, 0, show(r));
    r = await ws.run(["decrypt", "f.envl", "-c", "app=creds", "-o", "out"], { env });
    assert.equal(r.code, 0, show(r));
    assert.equal(await Deno.readTextFile(ws.path("out")), "sealed by a profile's role");
    assert.equal(server.count("AssumeRole"), 2, "one AssumeRole per run");
    const kmsCalls = server.calls.filter((c) => c.action === "GenerateDataKey" || c.action === "Decrypt");
    assert.equal(kmsCalls.length, 2);
    kmsCalls.forEach((c, i) => assert.equal(c.accessKeyId, server.issued[i].accessKeyId));
    assert.ok(server.issued.every((i) => i.sessionName === "envelope-cli" && i.roleArn === role));

    // The same run with no profile: the error lists the sources and exits 1.
    await Deno.remove(join(ws.home, ".alibabacloud"), { recursive: true });
    r = await ws.run(["decrypt", "f.envl", "-o", "out2"], { env });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /Finding Alibaba Cloud credentials failed: .*credentials file: .* does not exist/);
    assert.ok(!r.stderr.includes(server.accessKeySecret));
  } finally {
    await server.close();
  }
});

Deno.test("ECS metadata: a hostile metadata service (an endless answer, a token that is no header value) fails fast and quotes no token", () =>
  withFixture(async ({ chain }) => {
    let mode: "huge" | "nul" = "huge";
    let served = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      served++;
      if (mode === "nul") return new Response("AQAEAmetadataTOKEN-secret-1234\u0000x");
      // 64 MiB of token, streamed: read no further than the bound.
      let left = 64;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (left-- <= 0) return c.close();
            c.enqueue(new Uint8Array(1024 * 1024).fill(65));
          },
        }),
      );
    });
    try {
      const endpoint = `http://127.0.0.1:${server.addr.port}`;
      const vars = { ALIBABA_CLOUD_ECS_METADATA: "ecs-role", ALIBABA_CLOUD_ECS_METADATA_ENDPOINT: endpoint };
      const e1 = await rejectsWith(chain(vars).getCredentials(), "KMS_FAILED");
      assert.match(e1.message, /over 16384 bytes/);
      assert.equal(served, 1, "an over-long answer is not asked for again");
      mode = "nul";
      const e2 = await rejectsWith(chain(vars).getCredentials(), "KMS_FAILED");
      assert.match(e2.message, /session token is malformed/);
      assertNoSecrets(e2, ["metadataTOKEN-secret"]);
    } finally {
      await server.shutdown();
    }
  }));
