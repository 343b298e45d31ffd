/**
 * The AWS KMS provider with the real `@aws-sdk/client-kms`: against moto for
 * behaviour, and against a small loopback fake for retries, throttling and
 * timeouts (moto neither throttles nor hangs).
 */
import assert from "node:assert/strict";
import { KMSClient } from "@aws-sdk/client-kms";
import { AwsKms } from "../src/kms/aws.ts";
import { type EnvelopeError, isEnvelopeError } from "../src/errors.ts";
import { encodeBase64, encodeHex } from "../src/encoding/base64.ts";
import type { WrappedKey } from "../src/keys/provider.ts";
import { type Moto, MOTO_CREDENTIALS, startMoto } from "./support/moto.ts";

const CTX = { purpose: "test", tenant: "acme" };

/** Asserts that neither the message nor the hint quotes any of `secrets` (raw bytes as base64 or hex). */
function assertNoSecrets(err: EnvelopeError, secrets: Uint8Array[]): void {
  const text = `${err.message}\n${err.hint ?? ""}`;
  for (const s of secrets) {
    assert.ok(!text.includes(encodeBase64(s)), "the error quotes base64 key material");
    assert.ok(!text.includes(encodeHex(s)), "the error quotes hex key material");
    assert.ok(!text.includes(encodeBase64(s.subarray(0, 12))), "the error quotes part of the key material");
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<EnvelopeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isEnvelopeError(err), `expected an EnvelopeError, got ${err}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.hint && err.hint.length > 0, "the error says what to do next");
    assert.match(err.message, /AWS KMS/);
    assert.doesNotMatch(err.message, /\.$/);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** Runs `fn` with a fresh moto server. */
async function withMoto(fn: (moto: Moto) => Promise<void>): Promise<void> {
  const moto = await startMoto();
  try {
    await fn(moto);
  } finally {
    await moto.close();
  }
}

Deno.test("aws-kms: generateDataKey and unwrap round trip with a context, key given as ARN", () =>
  withMoto(async (moto) => {
    const arn = await moto.createKey();
    const kms = new AwsKms({ keyId: arn, client: moto.client() });
    assert.equal(kms.provider, "aws-kms");
    assert.equal(kms.keyId, arn);
    const { dataKey, wrapped } = await kms.generateDataKey(CTX);
    assert.equal(dataKey.length, 32);
    assert.equal(wrapped.provider, "aws-kms");
    assert.equal(wrapped.keyId, arn);
    assert.ok(wrapped.wrapped.length > 32);
    assert.deepEqual(await kms.unwrap(wrapped, CTX), dataKey);
    // Context order does not matter.
    assert.deepEqual(await kms.unwrap(wrapped, { tenant: "acme", purpose: "test" }), dataKey);
  }));

Deno.test("aws-kms: alias names, alias ARNs and bare key ids all work, and headers record the key ARN", () =>
  withMoto(async (moto) => {
    const arn = await moto.createKey();
    const alias = await moto.createAlias("app", arn);
    const aliasArn = arn.replace(/key\/.*$/, alias);
    const bareId = arn.slice(arn.lastIndexOf("/") + 1);
    for (const keyId of [alias, aliasArn, bareId]) {
      const kms = new AwsKms({ keyId, client: moto.client() });
      const { dataKey, wrapped } = await kms.generateDataKey(CTX);
      assert.equal(wrapped.keyId, arn, `header key id for ${keyId}`);
      // A fresh provider (nothing resolved yet) opens it too.
      const fresh = new AwsKms({ keyId, client: moto.client() });
      assert.deepEqual(await fresh.unwrap(wrapped, CTX), dataKey, keyId);
    }
  }));

Deno.test("aws-kms: a discovery provider decrypts any aws-kms key and refuses to encrypt", () =>
  withMoto(async (moto) => {
    const a = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const b = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const any = AwsKms.discovery({ client: moto.client() });
    assert.equal(any.provider, "aws-kms");
    assert.equal(any.keyId, "*");
    for (const kms of [a, b]) {
      const { dataKey, wrapped } = await kms.generateDataKey(CTX);
      assert.deepEqual(await any.unwrap(wrapped, CTX), dataKey);
    }
    assert.equal(await any.unwrap({ provider: "local", keyId: "x", wrapped: new Uint8Array(60) }, CTX), null);
    await rejects(any.generateDataKey(CTX), "INVALID_ARGUMENT");
    await rejects(any.wrap(new Uint8Array(32), CTX), "INVALID_ARGUMENT");
    const { wrapped } = await a.generateDataKey(CTX);
    assert.equal(await any.rewrap(wrapped, CTX), null);
    assert.throws(() => new AwsKms({ keyId: "" }), (e) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  }));

Deno.test("aws-kms: a wrong or missing context is CONTEXT_MISMATCH naming the key and the cause, without key material", () =>
  withMoto(async (moto) => {
    const arn = await moto.createKey();
    const kms = new AwsKms({ keyId: arn, client: moto.client() });
    const { dataKey, wrapped } = await kms.generateDataKey(CTX);
    const wrong = await rejects(kms.unwrap(wrapped, { ...CTX, tenant: "other" }), "CONTEXT_MISMATCH");
    assert.ok(wrong.message.includes(arn), wrong.message);
    assert.match(wrong.message, /encryption context does not match/);
    assert.match(wrong.message, /corrupt/);
    assertNoSecrets(wrong, [dataKey, wrapped.wrapped]);
    const none = await rejects(kms.unwrap(wrapped, {}), "CONTEXT_MISMATCH");
    assert.match(none.message, /none was given/);
    assertNoSecrets(none, [dataKey, wrapped.wrapped]);
    // A flipped bit in the blob reads the same way: KMS cannot tell the two apart.
    const bad = wrapped.wrapped.slice();
    bad[bad.length - 1] ^= 1;
    const corrupt = await rejects(kms.unwrap({ ...wrapped, wrapped: bad }, CTX), "CONTEXT_MISMATCH");
    assertNoSecrets(corrupt, [dataKey, wrapped.wrapped, bad]);
  }));

Deno.test("aws-kms: another key's wrapped key is not mine (null), for every way of naming the key", () =>
  withMoto(async (moto) => {
    const mine = await moto.createKey();
    const other = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const { wrapped } = await other.generateDataKey(CTX);
    const alias = await moto.createAlias("mine", mine);
    for (const keyId of [mine, mine.slice(mine.lastIndexOf("/") + 1), alias, mine.replace(/key\/.*$/, alias)]) {
      const kms = new AwsKms({ keyId, client: moto.client() });
      assert.equal(await kms.unwrap(wrapped, CTX), null, keyId);
    }
    const kms = new AwsKms({ keyId: mine, client: moto.client() });
    assert.equal(await kms.unwrap({ ...wrapped, provider: "aliyun-kms" }, CTX), null);
    assert.equal(await kms.rewrap({ ...wrapped, provider: "local" }, CTX), null);
  }));

Deno.test("aws-kms: wrap puts an existing data key under a second key, which alone unwraps that copy", () =>
  withMoto(async (moto) => {
    const first = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const secondArn = await moto.createKey();
    const second = new AwsKms({ keyId: secondArn, client: moto.client() });
    const { dataKey, wrapped } = await first.generateDataKey(CTX);
    const copy = await second.wrap(dataKey, CTX);
    assert.equal(copy.provider, "aws-kms");
    assert.equal(copy.keyId, secondArn);
    assert.deepEqual(await second.unwrap(copy, CTX), dataKey);
    assert.equal(await first.unwrap(copy, CTX), null);
    assert.equal(await second.unwrap(wrapped, CTX), null);
    await rejects(second.wrap(new Uint8Array(16), CTX), "INVALID_KEY");
  }));

Deno.test("aws-kms: rewrap moves a wrapped key to another key inside KMS", () =>
  withMoto(async (moto) => {
    const first = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const secondArn = await moto.createKey();
    const second = new AwsKms({ keyId: await moto.createAlias("second", secondArn), client: moto.client() });
    const { dataKey, wrapped } = await first.generateDataKey(CTX);
    const moved = await second.rewrap(wrapped, CTX);
    assert.ok(moved);
    assert.equal(moved.provider, "aws-kms");
    assert.equal(moved.keyId, secondArn);
    assert.notDeepEqual(moved.wrapped, wrapped.wrapped);
    assert.deepEqual(await second.unwrap(moved, CTX), dataKey);
    assert.equal(await first.unwrap(moved, CTX), null);
    // The source context must match.
    const err = await rejects(second.rewrap(wrapped, { other: "context" }), "CONTEXT_MISMATCH");
    assertNoSecrets(err, [dataKey, wrapped.wrapped]);
  }));

Deno.test("aws-kms: an unknown key is KMS_KEY_NOT_FOUND naming the key", () =>
  withMoto(async (moto) => {
    await moto.createKey();
    const missingId = "0b0e0b0e-1111-2222-3333-444455556666";
    for (const keyId of [missingId, "alias/missing", `arn:aws:kms:us-east-1:123456789012:key/${missingId}`]) {
      const kms = new AwsKms({ keyId, client: moto.client() });
      const err = await rejects(kms.generateDataKey(CTX), "KMS_KEY_NOT_FOUND");
      assert.ok(err.message.includes(keyId), err.message);
      await rejects(kms.wrap(new Uint8Array(32), CTX), "KMS_KEY_NOT_FOUND");
    }
    // An alias that does not exist cannot be told "not mine": say so rather than skip the key.
    const other = new AwsKms({ keyId: await moto.createKey(), client: moto.client() });
    const { wrapped } = await other.generateDataKey(CTX);
    const err = await rejects(
      new AwsKms({ keyId: "alias/missing", client: moto.client() }).unwrap(wrapped, CTX),
      "KMS_KEY_NOT_FOUND",
    );
    assert.ok(err.message.includes("alias/missing"), err.message);
  }));

Deno.test("aws-kms: generateDataKeyRaw and decryptRaw work with no context, as the Nitro format needs", () =>
  withMoto(async (moto) => {
    const arn = await moto.createKey();
    const alias = await moto.createAlias("enclavekey", arn);
    const kms = new AwsKms({ keyId: alias, client: moto.client() });
    const raw = await kms.generateDataKeyRaw();
    assert.equal(raw.plaintext.length, 32);
    assert.equal(raw.keyId, arn);
    const opened = await AwsKms.discovery({ client: moto.client() }).decryptRaw(raw.ciphertextBlob);
    assert.deepEqual(opened.plaintext, raw.plaintext);
    assert.equal(opened.keyId, arn);
    assert.deepEqual((await kms.decryptRaw(raw.ciphertextBlob)).plaintext, raw.plaintext);
    const short = await kms.generateDataKeyRaw({ keySpec: "AES_128", context: CTX });
    assert.equal(short.plaintext.length, 16);
    await rejects(kms.decryptRaw(short.ciphertextBlob), "CONTEXT_MISMATCH");
    assert.deepEqual((await kms.decryptRaw(short.ciphertextBlob, CTX)).plaintext, short.plaintext);
  }));

// ---------------------------------------------------------------------------
// The environment: a child process, since the environment is process-wide.

const SCRIPT = `
import { AwsKms } from ${JSON.stringify(new URL("../src/kms/aws.ts", import.meta.url).href)};
const [keyId, endpoint] = Deno.args;
const kms = new AwsKms({ keyId, endpoint });
try {
  const { dataKey, wrapped } = await kms.generateDataKey({ via: "env" });
  const back = await kms.unwrap(wrapped, { via: "env" });
  const any = await AwsKms.discovery({ endpoint }).unwrap(wrapped, { via: "env" });
  console.log(JSON.stringify({ ok: true, keyId: wrapped.keyId, same: back?.join() === dataKey.join() && any?.join() === dataKey.join() }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, hint: err.hint }));
}
`;

/** Runs SCRIPT with the parent's environment less every AWS_ variable, plus `env`. */
async function runWithEnv(
  keyId: string,
  env: Record<string, string>,
  endpoint?: string,
): Promise<Record<string, unknown>> {
  const base = Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("AWS_")));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--ext=ts",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      SCRIPT,
      keyId,
      ...(endpoint ? [endpoint] : []),
    ],
    clearEnv: true,
    env: { ...base, AWS_EC2_METADATA_DISABLED: "true", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, `child failed: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(text.split("\n").pop()!);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("aws-kms: a provider with no client follows AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL and the region variables", () =>
  withMoto(async (moto) => {
    const arn = await moto.createKey();
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    const creds = {
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    };

    assert.deepEqual(await runWithEnv(id, moto.env()), { ok: true, keyId: arn, same: true });
    assert.deepEqual(
      await runWithEnv(id, { ...creds, AWS_ENDPOINT_URL: moto.endpoint, AWS_DEFAULT_REGION: moto.region }),
      { ok: true, keyId: arn, same: true },
    );
    // The endpoint option, with the region and credentials from the environment.
    assert.deepEqual(await runWithEnv(id, { ...creds, AWS_REGION: moto.region }, moto.endpoint), {
      ok: true,
      keyId: arn,
      same: true,
    });
    // No region anywhere, but the key is an ARN: its region is used.
    assert.deepEqual(await runWithEnv(arn, { ...creds, AWS_ENDPOINT_URL_KMS: moto.endpoint }), {
      ok: true,
      keyId: arn,
      same: true,
    });
    // No region at all: a clear KMS_FAILED that says to set AWS_REGION.
    const noRegion = await runWithEnv(id, {
      ...creds,
      AWS_ENDPOINT_URL_KMS: moto.endpoint,
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    });
    assert.equal(noRegion.ok, false);
    assert.equal(noRegion.code, "KMS_FAILED");
    assert.match(String(noRegion.message), /no AWS region/);
    assert.match(String(noRegion.hint), /AWS_REGION/);
  }));

// ---------------------------------------------------------------------------
// Retries and timeouts, against a fake KMS on loopback.

type Reply = { status: number; body: Record<string, unknown> } | "hang";

/** A fake KMS endpoint: `script(target, n)` answers the n-th call (0-based, counted per target). */
async function withFakeKms(
  script: (target: string, n: number) => Reply,
  fn: (client: KMSClient, calls: Map<string, number>) => Promise<void>,
): Promise<void> {
  const calls = new Map<string, number>();
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    const target = (req.headers.get("x-amz-target") ?? "").replace("TrentService.", "");
    const n = calls.get(target) ?? 0;
    calls.set(target, n + 1);
    const reply = script(target, n);
    if (reply === "hang") {
      await released;
      return new Response("", { status: 503 });
    }
    return new Response(JSON.stringify(reply.body), {
      status: reply.status,
      headers: { "content-type": "application/x-amz-json-1.1" },
    });
  });
  const client = new KMSClient({
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await fn(client, calls);
  } finally {
    release();
    client.destroy();
    await server.shutdown();
  }
}

const FAKE_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const FAKE_PLAINTEXT = new Uint8Array(32).map((_, i) => i + 101);
const FAKE_BLOB = new Uint8Array(64).map((_, i) => 255 - i);
const OK_GENERATE: Reply = {
  status: 200,
  body: { KeyId: FAKE_ARN, Plaintext: encodeBase64(FAKE_PLAINTEXT), CiphertextBlob: encodeBase64(FAKE_BLOB) },
};
const THROTTLED: Reply = { status: 400, body: { __type: "ThrottlingException", message: "Rate exceeded" } };

Deno.test("aws-kms: throttling is retried with backoff, a bounded number of times", async () => {
  let jitterDraws = 0;
  const random = () => {
    jitterDraws++;
    return 0.5;
  };
  // Throttled twice, then served: three calls reach the server, two backoff waits are drawn.
  await withFakeKms((_, n) => n < 2 ? THROTTLED : OK_GENERATE, async (client, calls) => {
    const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 5, baseDelayMs: 4, random } });
    const { dataKey, wrapped } = await kms.generateDataKey(CTX);
    assert.deepEqual(dataKey, FAKE_PLAINTEXT);
    assert.deepEqual(wrapped.wrapped, FAKE_BLOB);
    assert.equal(calls.get("GenerateDataKey"), 3);
    assert.equal(jitterDraws, 2);
  });
  // Always throttled: exactly `attempts` calls, then KMS_THROTTLED.
  await withFakeKms(() => THROTTLED, async (client, calls) => {
    const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 3, baseDelayMs: 1 } });
    const err = await rejects(kms.generateDataKey(CTX), "KMS_THROTTLED");
    assert.equal(calls.get("GenerateDataKey"), 3);
    assert.match(err.message, /after 3 attempts/);
    assert.ok(err.message.includes(FAKE_ARN));
  });
  // A bare 429 with no error type is throttling too.
  await withFakeKms(() => ({ status: 429, body: {} }), async (client, calls) => {
    const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 2, baseDelayMs: 1 } });
    await rejects(kms.generateDataKey(CTX), "KMS_THROTTLED");
    assert.equal(calls.get("GenerateDataKey"), 2);
  });
});

Deno.test("aws-kms: 5xx is retried, client errors are not", async () => {
  await withFakeKms(
    (_, n) => n === 0 ? { status: 500, body: { __type: "KMSInternalException", message: "internal" } } : OK_GENERATE,
    async (client, calls) => {
      const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 3, baseDelayMs: 1 } });
      assert.deepEqual((await kms.generateDataKey(CTX)).dataKey, FAKE_PLAINTEXT);
      assert.equal(calls.get("GenerateDataKey"), 2);
    },
  );
  for (
    const [type, code] of [
      ["AccessDeniedException", "KMS_ACCESS_DENIED"],
      ["UnrecognizedClientException", "KMS_ACCESS_DENIED"],
      ["ExpiredTokenException", "KMS_ACCESS_DENIED"],
      ["NotFoundException", "KMS_KEY_NOT_FOUND"],
      ["DisabledException", "KMS_FAILED"],
    ] as const
  ) {
    await withFakeKms(() => ({ status: 400, body: { __type: type, message: "refused" } }), async (client, calls) => {
      const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 4, baseDelayMs: 1 } });
      const err = await rejects(kms.generateDataKey(CTX), code);
      assert.ok(err.message.includes(type), err.message);
      assert.equal(calls.get("GenerateDataKey"), 1, type);
    });
  }
});

Deno.test("aws-kms: a KMS that never answers is KMS_TIMEOUT after the bounded attempts", async () => {
  await withFakeKms(() => "hang", async (client, calls) => {
    const kms = new AwsKms({ keyId: FAKE_ARN, client, retry: { attempts: 2, timeoutMs: 300, baseDelayMs: 1 } });
    const err = await rejects(
      kms.unwrap({ provider: "aws-kms", keyId: FAKE_ARN, wrapped: FAKE_BLOB }, CTX),
      "KMS_TIMEOUT",
    );
    assert.match(err.message, /no answer within 300 ms after 2 attempts/);
    assert.equal(calls.get("Decrypt"), 2);
    assertNoSecrets(err, [FAKE_BLOB]);
  });
});

Deno.test("aws-kms: where DescribeKey is refused, an alias is checked by Decrypt and IncorrectKeyException means not mine", async () => {
  const wrapped: WrappedKey = { provider: "aws-kms", keyId: FAKE_ARN, wrapped: FAKE_BLOB };
  await withFakeKms((target) => {
    if (target === "DescribeKey") {
      return { status: 400, body: { __type: "AccessDeniedException", message: "no DescribeKey" } };
    }
    return { status: 400, body: { __type: "IncorrectKeyException", message: "wrong key" } };
  }, async (client, calls) => {
    const kms = new AwsKms({ keyId: "alias/elsewhere", client });
    assert.equal(await kms.unwrap(wrapped, CTX), null);
    assert.equal(calls.get("DescribeKey"), 1);
    assert.equal(calls.get("Decrypt"), 1);
  });
  await withFakeKms((target) => {
    if (target === "DescribeKey") {
      return { status: 400, body: { __type: "AccessDeniedException", message: "no DescribeKey" } };
    }
    return { status: 200, body: { KeyId: FAKE_ARN, Plaintext: encodeBase64(FAKE_PLAINTEXT) } };
  }, async (client) => {
    const kms = new AwsKms({ keyId: "alias/here", client });
    assert.deepEqual(await kms.unwrap(wrapped, CTX), FAKE_PLAINTEXT);
  });
  // ReEncrypt refused: null, so the caller falls back to unwrap and wrap.
  await withFakeKms(
    () => ({ status: 400, body: { __type: "AccessDeniedException", message: "no ReEncrypt" } }),
    async (client) => {
      const kms = new AwsKms({ keyId: FAKE_ARN, client });
      assert.equal(await kms.rewrap(wrapped, CTX), null);
    },
  );
});

Deno.test("aws-kms: a multi-Region replica's ARN matches its primary's blobs, other keys stay not mine without a call", async () => {
  const primary = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab";
  const replica = primary.replace("us-east-1", "eu-west-1");
  await withFakeKms(
    () => ({ status: 200, body: { KeyId: replica, Plaintext: encodeBase64(FAKE_PLAINTEXT) } }),
    async (client, calls) => {
      const kms = new AwsKms({ keyId: replica, client });
      assert.deepEqual(
        await kms.unwrap({ provider: "aws-kms", keyId: primary, wrapped: FAKE_BLOB }, CTX),
        FAKE_PLAINTEXT,
      );
      assert.equal(calls.get("Decrypt"), 1);
      const stranger = primary.replace("mrk-1234", "mrk-9999");
      assert.equal(await kms.unwrap({ provider: "aws-kms", keyId: stranger, wrapped: FAKE_BLOB }, CTX), null);
      assert.equal(await kms.unwrap({ provider: "aws-kms", keyId: FAKE_ARN, wrapped: FAKE_BLOB }, CTX), null);
      assert.equal(calls.get("Decrypt"), 1);
    },
  );
});
