/**
 * Credential profiles (src/kms/aliyun_profiles.ts) through the chain: every
 * type of `~/.alibabacloud/credentials` and every supported mode of the
 * aliyun CLI's `~/.aliyun/config.json` ends in a real KMS round trip against
 * the loopback server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertNoSecrets, rejectsWith, roundTrip, roundTripWith, withFixture } from "./support/aliyun_chain.ts";

// ---------------------------------------------------------------- profile files

Deno.test("~/.alibabacloud/credentials: access_key, sts, ram_role_arn, oidc_role_arn and ecs_ram_role profiles each reach KMS", () =>
  withFixture(async ({ server, chain, write, home }) => {
    const sts = server.createStsCredentials();
    const role = server.createRole("from-profile");
    server.createRole("instance-role");
    server.attachInstanceRole("instance-role");
    const provider = server.createOidcProvider("profile-cluster");
    const tokenFile = await write("oidc-token", provider.token);
    const ini = [
      "# written by hand",
      "[default]",
      "type = access_key",
      `access_key_id = ${server.accessKeyId}`,
      `access_key_secret = ${server.accessKeySecret}`,
      "",
      "[temp]",
      "type = sts",
      `access_key_id = ${sts.accessKeyId}`,
      `access_key_secret = ${sts.accessKeySecret}`,
      `security_token = ${sts.securityToken}`,
      "[role]",
      "type = ram_role_arn",
      `access_key_id = ${server.accessKeyId}`,
      `access_key_secret = ${server.accessKeySecret}`,
      `role_arn = ${role}`,
      "role_session_name = from-ini",
      "role_session_expiration = 900",
      "[oidc]",
      "type = oidc_role_arn",
      `role_arn = ${role}`,
      `oidc_provider_arn = ${provider.arn}`,
      `oidc_token_file_path = ${tokenFile}`,
      "[ecs]",
      "type = ecs_ram_role",
      "role_name = instance-role",
      "[broken]",
      "type = ram_role_arn",
      `access_key_id = ${server.accessKeyId}`,
      `access_key_secret = ${server.accessKeySecret}`,
    ].join("\n");
    const path = await write("home/.alibabacloud/credentials", ini);

    const byDefault = chain();
    for (const c of await roundTrip(server, byDefault)) assert.equal(c.accessKeyId, server.accessKeyId);
    assert.equal(byDefault.source, `profile [default] of ${path} (type access_key)`);

    const temp = chain({ ALIBABA_CLOUD_PROFILE: "temp" });
    for (const c of await roundTrip(server, temp)) assert.equal(c.params.SecurityToken, sts.securityToken);

    const viaRole = chain({ ALIBABA_CLOUD_PROFILE: "role" });
    await viaRole.getCredentials();
    const assumed = server.issued.at(-1)!;
    assert.equal(assumed.via, "AssumeRole");
    assert.equal(assumed.sessionName, "from-ini");
    assert.equal(server.calls.findLast((x) => x.action === "AssumeRole")!.params.DurationSeconds, "900");
    await roundTripWith(server, viaRole, assumed);

    const viaOidc = chain({ ALIBABA_CLOUD_PROFILE: "oidc" });
    await viaOidc.getCredentials();
    assert.equal(server.issued.at(-1)!.via, "AssumeRoleWithOIDC");
    await roundTripWith(server, viaOidc, server.issued.at(-1)!);

    const viaEcs = chain({ ALIBABA_CLOUD_PROFILE: "ecs" });
    await viaEcs.getCredentials();
    assert.equal(server.issued.at(-1)!.via, "Metadata");
    await roundTripWith(server, viaEcs, server.issued.at(-1)!);

    // An incomplete profile names the missing field, not any value.
    const e1 = await rejectsWith(chain({ ALIBABA_CLOUD_PROFILE: "broken" }).getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /profile \[broken\] .* type ram_role_arn needs role_arn/);
    assertNoSecrets(e1, [server.accessKeySecret]);

    // ALIBABA_CLOUD_CREDENTIALS_FILE moves the file; one that does not exist is an error, not a skip.
    const moved = await write(
      "elsewhere.ini",
      `[default]\ntype = sts\naccess_key_id = ${sts.accessKeyId}\n` +
        `access_key_secret = ${sts.accessKeySecret}\nsecurity_token = ${sts.securityToken}\n`,
    );
    const elsewhere = chain({ ALIBABA_CLOUD_CREDENTIALS_FILE: moved });
    for (const c of await roundTrip(server, elsewhere)) assert.equal(c.accessKeyId, sts.accessKeyId);
    const e2 = await rejectsWith(
      chain({ ALIBABA_CLOUD_CREDENTIALS_FILE: join(home, "nope") }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(e2.message, /nope failed: the file does not exist/);
  }));

Deno.test("~/.aliyun/config.json: current picks the profile; AK, StsToken, RamRoleArn, EcsRamRole and OIDC modes reach KMS", () =>
  withFixture(async ({ server, chain, write }) => {
    const sts = server.createStsCredentials();
    const role = server.createRole("cli-role");
    server.attachInstanceRole("cli-role");
    const provider = server.createOidcProvider("cli-cluster");
    const tokenFile = await write("cli-token", provider.token);
    const ak = { access_key_id: server.accessKeyId, access_key_secret: server.accessKeySecret };
    const config = {
      current: "work",
      profiles: [
        { name: "default", mode: "AK", access_key_id: "LTAIunused", access_key_secret: "unused" },
        { name: "work", mode: "AK", ...ak, region_id: "cn-hangzhou" },
        {
          name: "temp",
          mode: "StsToken",
          access_key_id: sts.accessKeyId,
          access_key_secret: sts.accessKeySecret,
          sts_token: sts.securityToken,
        },
        {
          name: "role",
          mode: "RamRoleArn",
          ...ak,
          ram_role_arn: role,
          ram_session_name: "from-cli",
          expired_seconds: 1200,
        },
        { name: "ecs", mode: "EcsRamRole", ram_role_name: "cli-role" },
        { name: "oidc", mode: "OIDC", ram_role_arn: role, oidc_provider_arn: provider.arn, oidc_token_file: tokenFile },
        { name: "sso", mode: "CloudSSO" },
      ],
    };
    const path = await write("home/.aliyun/config.json", JSON.stringify(config));

    const current = chain();
    for (const c of await roundTrip(server, current)) assert.equal(c.accessKeyId, server.accessKeyId);
    assert.equal(current.source, `profile "work" of ${path} (mode AK)`);

    const temp = chain({ ALIBABA_CLOUD_PROFILE: "temp" });
    for (const c of await roundTrip(server, temp)) assert.equal(c.params.SecurityToken, sts.securityToken);

    for (const [name, via] of [["role", "AssumeRole"], ["ecs", "Metadata"], ["oidc", "AssumeRoleWithOIDC"]] as const) {
      const c = chain({ ALIBABA_CLOUD_PROFILE: name });
      await c.getCredentials();
      assert.equal(server.issued.at(-1)!.via, via, name);
      await roundTripWith(server, c, server.issued.at(-1)!);
    }
    assert.equal(server.issued.find((i) => i.via === "AssumeRole")!.sessionName, "from-cli");

    const e = await rejectsWith(chain({ ALIBABA_CLOUD_PROFILE: "sso" }).getCredentials(), "KMS_ACCESS_DENIED");
    assert.match(e.message, /mode CloudSSO is not supported/);
    // ALIBABA_CLOUD_CLI_PROFILE_DISABLED skips the file.
    const off = await rejectsWith(
      chain({ ALIBABA_CLOUD_CLI_PROFILE_DISABLED: "true" }).getCredentials(),
      "KMS_ACCESS_DENIED",
    );
    assert.match(off.message, /aliyun CLI config: ALIBABA_CLOUD_CLI_PROFILE_DISABLED is true/);
  }));

Deno.test("~/.alibabacloud/credentials readable by others: used, with a warning to chmod 600 it (as a local key file)", () =>
  withFixture(async ({ server, chain, write }) => {
    const ini = [
      "[default]",
      "type = access_key",
      `access_key_id = ${server.accessKeyId}`,
      `access_key_secret = ${server.accessKeySecret}`,
    ].join("\n");
    const path = await write("home/.alibabacloud/credentials", ini);
    const warned: string[] = [];
    const original = console.warn;
    console.warn = (...a: unknown[]) => void warned.push(a.join(" "));
    try {
      await Deno.chmod(path, 0o644);
      await chain().getCredentials();
      assert.equal(warned.length, 1, warned.join("\n"));
      assert.match(warned[0], /credentials file .* is accessible to other users \(mode 0644\); run chmod 600/);
      assert.ok(!warned[0].includes(server.accessKeySecret));
      warned.length = 0;
      await Deno.chmod(path, 0o600);
      await chain().getCredentials();
      assert.deepEqual(warned, []);
    } finally {
      console.warn = original;
    }
  }));
