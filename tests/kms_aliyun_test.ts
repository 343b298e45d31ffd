import assert from "node:assert/strict";
import { EnvelopeError } from "../src/errors.ts";
import { encodeBase64, encodeHex } from "../src/encoding/base64.ts";
import { aliyunContextString, AliyunKms, AliyunKmsClient, regionFromArn } from "../src/kms/aliyun.ts";
import type { RetryOptions } from "../src/kms/retry.ts";
import { type AliyunServer, startAliyunServer } from "./support/aliyun_server.ts";

const FAST: RetryOptions = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5000 };

function opts(server: AliyunServer, extra: object = {}) {
  return {
    endpoint: server.endpoint,
    accessKeyId: server.accessKeyId,
    accessKeySecret: server.accessKeySecret,
    retry: FAST,
    ...extra,
  };
}

async function withServer(fn: (s: AliyunServer) => Promise<void>, options?: Parameters<typeof startAliyunServer>[0]) {
  const server = await startAliyunServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<EnvelopeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EnvelopeError, `expected an EnvelopeError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** No secret, in any of the usual spellings, appears in the error's message, hint or cause chain. */
function assertNoSecrets(err: unknown, secrets: (string | Uint8Array)[]) {
  let text = "";
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error) text += `${e.message}\n${(e as { hint?: string }).hint ?? ""}\n`;
  }
  for (const s of secrets) {
    const forms = typeof s === "string" ? [s] : [encodeBase64(s), encodeHex(s), Array.from(s).join(",")];
    for (const f of forms) assert.ok(!text.includes(f), `error text leaks a secret: ${text}`);
  }
}

// ---------------------------------------------------------------- provider

Deno.test("generateDataKey and unwrap round-trip with a context; discovery decrypts too", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const kms = new AliyunKms({ keyId, ...opts(server) });
    assert.equal(kms.provider, "aliyun-kms");
    const context = { purpose: "backup", "a b*c~é": "x=y&z" };
    const { dataKey, wrapped } = await kms.generateDataKey(context);
    assert.equal(dataKey.length, 32);
    assert.equal(wrapped.provider, "aliyun-kms");
    assert.equal(wrapped.keyId, keyId);
    const blob = new TextDecoder().decode(wrapped.wrapped);
    assert.match(blob, /^[A-Za-z0-9+/]+=*$/);
    // The context went to KMS as sorted JSON text; the key spec was AES_256.
    const sent = server.calls.find((c) => c.action === "GenerateDataKey")!.params;
    assert.equal(sent.EncryptionContext, JSON.stringify({ "a b*c~é": "x=y&z", purpose: "backup" }));
    assert.equal(sent.KeySpec, "AES_256");
    assert.equal(sent.Format, "JSON");

    assert.deepEqual(await kms.unwrap(wrapped, { purpose: "backup", "a b*c~é": "x=y&z" }), dataKey);
    const discovery = AliyunKms.discovery(opts(server));
    assert.deepEqual(await discovery.unwrap(wrapped, context), dataKey);
    // Decrypt needs no key id: none is sent.
    const decrypts = server.calls.filter((c) => c.action === "Decrypt");
    assert.equal(decrypts.length, 2);
    assert.ok(decrypts.every((c) => c.params.KeyId === undefined && c.params.CiphertextBlob === blob));

    // Not mine: another provider, or another key for a keyed provider. No call is made.
    const before = server.calls.length;
    assert.equal(await kms.unwrap({ ...wrapped, provider: "aws-kms" }, context), null);
    assert.equal(await discovery.unwrap({ ...wrapped, provider: "local" }, context), null);
    assert.equal(await kms.unwrap({ ...wrapped, keyId: crypto.randomUUID() }, context), null);
    assert.equal(server.calls.length, before);
    // The same key named by ARN is still mine.
    const byArn = new AliyunKms({ keyId: server.arn(keyId), ...opts(server) });
    assert.deepEqual(await byArn.unwrap(wrapped, context), dataKey);
    // A discovery provider cannot wrap.
    await rejectsWith(discovery.generateDataKey(context), "INVALID_ARGUMENT");
    await rejectsWith(discovery.wrap(dataKey, context), "INVALID_ARGUMENT");
    assert.equal(await discovery.rewrap(wrapped, context), null);
  });
});

Deno.test("an empty context sends no EncryptionContext; context strings are sorted JSON", async () => {
  assert.equal(aliyunContextString({}), undefined);
  assert.equal(aliyunContextString({ b: "2", a: "1" }), '{"a":"1","b":"2"}');
  assert.equal(aliyunContextString({ "\u00e9": "1", z: "2" }), '{"z":"2","\u00e9":"1"}');
  await withServer(async (server) => {
    const kms = new AliyunKms({ keyId: server.createKey(), ...opts(server) });
    const { dataKey, wrapped } = await kms.generateDataKey({});
    assert.equal(server.calls[0].params.EncryptionContext, undefined);
    assert.deepEqual(await kms.unwrap(wrapped, {}), dataKey);
  });
});

Deno.test("a wrong context fails with CONTEXT_MISMATCH naming the provider, the key, the cause and the request id", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const kms = new AliyunKms({ keyId, ...opts(server) });
    const { dataKey, wrapped } = await kms.generateDataKey({ purpose: "backup" });
    const contexts: Record<string, string>[] = [{ purpose: "restore" }, {}, { purpose: "backup", extra: "1" }];
    for (const ctx of contexts) {
      const err = await rejectsWith(kms.unwrap(wrapped, ctx), "CONTEXT_MISMATCH");
      assert.match(err.message, /^Alibaba Cloud KMS Decrypt/);
      assert.ok(err.message.includes(keyId), err.message);
      assert.match(err.message, /encryption context differs/);
      assert.match(err.message, /request id [0-9A-F-]{36}/);
      assert.ok(err.hint);
      assertNoSecrets(err, [dataKey, server.accessKeySecret]);
    }
    // A context mismatch is not retried.
    assert.equal(server.count("Decrypt"), 3);
    // An altered blob is refused the same way; a non-base64 blob never reaches the service.
    const blob = new TextDecoder().decode(wrapped.wrapped);
    const flipped = blob.slice(0, 60) + (blob[60] === "A" ? "B" : "A") + blob.slice(61);
    await rejectsWith(
      kms.unwrap({ ...wrapped, wrapped: new TextEncoder().encode(flipped) }, { purpose: "backup" }),
      "CONTEXT_MISMATCH",
    );
    await rejectsWith(
      kms.unwrap({ ...wrapped, wrapped: new TextEncoder().encode("not base64!") }, { purpose: "backup" }),
      "HEADER_INVALID",
    );
  });
});

Deno.test("wrap with a second key uses Encrypt; rewrap uses ReEncrypt without a Decrypt", async () => {
  await withServer(async (server) => {
    const keyA = server.createKey();
    const keyB = server.createKey("backup-b");
    const a = new AliyunKms({ keyId: keyA, ...opts(server) });
    const b = new AliyunKms({ keyId: keyB, ...opts(server) });
    const context = { file: "a.txt" };
    const { dataKey, wrapped } = await a.generateDataKey(context);

    const byB = await b.wrap(dataKey, context);
    assert.equal(byB.keyId, keyB);
    const enc = server.calls.find((c) => c.action === "Encrypt")!;
    assert.equal(enc.params.Plaintext, encodeBase64(dataKey));
    assert.equal(enc.params.KeyId, keyB);
    assert.deepEqual(await b.unwrap(byB, context), dataKey);
    assert.equal(await a.unwrap(byB, context), null);

    const decryptsBefore = server.count("Decrypt");
    const rewrapped = await b.rewrap(wrapped, context);
    assert.ok(rewrapped);
    assert.equal(rewrapped.keyId, keyB);
    assert.notDeepEqual(rewrapped.wrapped, wrapped.wrapped);
    const re = server.calls.find((c) => c.action === "ReEncrypt")!.params;
    assert.equal(re.DestinationKeyId, keyB);
    assert.equal(re.SourceEncryptionContext, '{"file":"a.txt"}');
    assert.equal(re.DestinationEncryptionContext, '{"file":"a.txt"}');
    assert.equal(server.count("Decrypt"), decryptsBefore);
    assert.deepEqual(await b.unwrap(rewrapped, context), dataKey);
    assert.equal(await b.rewrap({ ...wrapped, provider: "aws-kms" }, context), null);
    await rejectsWith(b.rewrap(wrapped, { file: "b.txt" }), "CONTEXT_MISMATCH");

    // A provider named by alias resolves through the service: KeyId comes back as the key's id.
    const byAlias = new AliyunKms({ keyId: "alias/backup-b", ...opts(server) });
    const viaAlias = await byAlias.wrap(dataKey, context);
    assert.equal(viaAlias.keyId, keyB);
    assert.deepEqual(await byAlias.unwrap(viaAlias, context), dataKey);
    await rejectsWith(
      new AliyunKms({ keyId: "alias/none", ...opts(server) }).wrap(dataKey, context),
      "KMS_KEY_NOT_FOUND",
    );
    await rejectsWith(b.wrap(dataKey.subarray(0, 16), context), "INVALID_KEY");
  });
});

Deno.test("the raw client passes a context string byte for byte and exposes Encrypt/Decrypt/ReEncrypt", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const client = new AliyunKmsClient(opts(server));
    const ctx = '{ "b" : "2", "a": "1" }';
    const gen = await client.generateDataKey({ keyId, keySpec: "AES_128", encryptionContext: ctx });
    assert.equal(gen.plaintext.length, 16);
    assert.ok(gen.keyVersionId && gen.requestId);
    assert.equal(server.calls.at(-1)!.params.EncryptionContext, ctx);
    const n = await client.generateDataKey({ keyId, numberOfBytes: 7 });
    assert.equal(n.plaintext.length, 7);
    const dec = await client.decrypt({ ciphertextBlob: gen.ciphertextBlob, encryptionContext: ctx });
    assert.deepEqual(dec.plaintext, gen.plaintext);
    assert.equal(dec.keyId, keyId);
    const enc = await client.encrypt({ keyId, plaintext: btoa("hello"), encryptionContext: ctx });
    const re = await client.reEncrypt({
      ciphertextBlob: enc.ciphertextBlob,
      destinationKeyId: keyId,
      sourceEncryptionContext: ctx,
    });
    const back = await client.decrypt({ ciphertextBlob: re.ciphertextBlob });
    assert.equal(new TextDecoder().decode(back.plaintext), "hello");
  });
});

Deno.test("STS credentials work with their token and are refused without it", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const sts = server.createStsCredentials();
    const good = new AliyunKms({ keyId, ...opts(server, sts) });
    const { dataKey, wrapped } = await good.generateDataKey({ k: "v" });
    assert.deepEqual(await good.unwrap(wrapped, { k: "v" }), dataKey);
    assert.ok(server.calls.every((c) => c.params.SecurityToken === sts.securityToken));

    const noToken = new AliyunKms({
      keyId,
      ...opts(server, { accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret }),
    });
    const e1 = await rejectsWith(noToken.generateDataKey({}), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /InvalidSecurityToken/);
    assert.match(e1.hint!, /STS/);
    const badToken = new AliyunKms({ keyId, ...opts(server, { ...sts, securityToken: "CAISold" }) });
    await rejectsWith(badToken.unwrap(wrapped, { k: "v" }), "KMS_ACCESS_DENIED");
    assertNoSecrets(e1, [sts.accessKeySecret, sts.securityToken]);
  });
});

// ---------------------------------------------------------------- failures the client maps

Deno.test("the client maps a bad secret, an unknown AccessKey, an unknown key, a stale clock and a replayed nonce", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const wrongSecret = new AliyunKms({ keyId, ...opts(server, { accessKeySecret: "wrong-secret-value" }) });
    const e1 = await rejectsWith(wrongSecret.generateDataKey({}), "KMS_ACCESS_DENIED");
    assert.match(e1.message, /SignatureDoesNotMatch/);
    assert.ok(e1.message.includes(keyId));
    assertNoSecrets(e1, ["wrong-secret-value", server.accessKeySecret]);

    const unknownAk = new AliyunKms({ keyId, ...opts(server, { accessKeyId: "LTAIunknown" }) });
    const e2 = await rejectsWith(unknownAk.generateDataKey({}), "KMS_ACCESS_DENIED");
    assert.match(e2.message, /InvalidAccessKeyId\.NotFound/);

    const unknownKey = new AliyunKms({ keyId: crypto.randomUUID(), ...opts(server) });
    const e3 = await rejectsWith(unknownKey.generateDataKey({}), "KMS_KEY_NOT_FOUND");
    assert.match(e3.message, /Forbidden\.KeyNotFound/);
    assert.ok(e3.message.includes(unknownKey.keyId));
    const dk = crypto.getRandomValues(new Uint8Array(32));
    const e3b = await rejectsWith(unknownKey.wrap(dk, {}), "KMS_KEY_NOT_FOUND");
    assertNoSecrets(e3b, [dk]);

    // Access errors are final: one call each, no retries.
    assert.equal(server.count("GenerateDataKey"), 3);

    // A replayed request: a fetch that sends the first body again.
    let firstBody: string | undefined;
    const replaying: typeof fetch = (input, init) => {
      firstBody ??= String(init?.body);
      return fetch(input, { ...init, body: firstBody });
    };
    const replay = new AliyunKms({ keyId, ...opts(server, { fetch: replaying }) });
    await replay.generateDataKey({});
    const e4 = await rejectsWith(replay.generateDataKey({}), "KMS_ACCESS_DENIED");
    assert.match(e4.message, /SignatureNonceUsed/);
  });
  // A server whose clock is 20 minutes ahead sees every request as stale.
  await withServer(async (server) => {
    const kms = new AliyunKms({ keyId: server.createKey(), ...opts(server) });
    const e = await rejectsWith(kms.generateDataKey({}), "KMS_ACCESS_DENIED");
    assert.match(e.message, /InvalidTimeStamp\.Expired/);
    assert.match(e.hint!, /clock/);
  }, { now: () => Date.now() + 20 * 60 * 1000 });
});

Deno.test("throttling is retried a bounded number of times, then KMS_THROTTLED", async () => {
  await withServer(async (server) => {
    const kms = new AliyunKms({ keyId: server.createKey(), ...opts(server, { retry: { ...FAST, attempts: 4 } }) });
    server.throttleNext(2);
    const { wrapped } = await kms.generateDataKey({});
    assert.equal(server.count("GenerateDataKey"), 3);
    assert.deepEqual(server.calls.map((c) => c.code ?? "ok"), ["Rejected.Throttling", "Rejected.Throttling", "ok"]);
    // Every attempt was signed afresh (new nonce), or the service would refuse the retry.
    assert.equal(new Set(server.calls.map((c) => c.params.SignatureNonce)).size, 3);

    server.throttleNext(100);
    const err = await rejectsWith(kms.unwrap(wrapped, {}), "KMS_THROTTLED");
    assert.equal(server.count("Decrypt"), 4);
    assert.match(err.message, /Rejected\.Throttling/);
    assert.match(err.message, /request id/);
    assert.ok(err.hint);
  });
});

Deno.test("a call that gets no answer times out with KMS_TIMEOUT after the bounded retries", async () => {
  await withServer(async (server) => {
    const kms = new AliyunKms({
      keyId: server.createKey(),
      ...opts(server, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 150 } }),
    });
    server.holdNext(2);
    const err = await rejectsWith(kms.generateDataKey({}), "KMS_TIMEOUT");
    assert.match(err.message, /^Alibaba Cloud KMS GenerateDataKey with key /);
    assert.match(err.message, /150 ms/);
    assert.equal(server.count("GenerateDataKey"), 2);
  });
});

Deno.test("network failures and 5xx answers are retried, then KMS_FAILED", async () => {
  let n = 0;
  const failing: typeof fetch = () => {
    n++;
    return Promise.reject(new TypeError("connection refused"));
  };
  const kms = new AliyunKms({
    keyId: "k",
    endpoint: "http://127.0.0.1:9/",
    accessKeyId: "a",
    accessKeySecret: "s",
    fetch: failing,
    retry: FAST,
  });
  const e = await rejectsWith(kms.generateDataKey({}), "KMS_FAILED");
  assert.equal(n, 3);
  assert.match(e.message, /did not reach the service/);

  let m = 0;
  const fiveHundred: typeof fetch = () => {
    m++;
    return Promise.resolve(
      new Response(JSON.stringify({ Code: "InternalFailure", Message: "Internal Failure.", RequestId: "R-1" }), {
        status: 500,
      }),
    );
  };
  const kms2 = new AliyunKms({
    keyId: "k",
    endpoint: "http://127.0.0.1:9/",
    accessKeyId: "a",
    accessKeySecret: "s",
    fetch: fiveHundred,
    retry: FAST,
  });
  const e2 = await rejectsWith(kms2.generateDataKey({}), "KMS_FAILED");
  assert.equal(m, 3);
  assert.match(e2.message, /InternalFailure.*request id R-1/);

  const html: typeof fetch = () => Promise.resolve(new Response("<html>ok</html>", { status: 200 }));
  const kms3 = new AliyunKms({
    keyId: "k",
    endpoint: "http://127.0.0.1:9/",
    accessKeyId: "a",
    accessKeySecret: "s",
    fetch: html,
    retry: FAST,
  });
  await rejectsWith(kms3.generateDataKey({}), "KMS_FAILED");
});

// ---------------------------------------------------------------- configuration

Deno.test("region and endpoint: explicit, from a key ARN, or a clear error", () => {
  assert.equal(regionFromArn("acs:kms:cn-shanghai:123:key/abc"), "cn-shanghai");
  assert.equal(regionFromArn("acs:kms:ap-southeast-1:123:alias/x"), "ap-southeast-1");
  assert.equal(regionFromArn("1234abcd-12ab-34cd-56ef-1234567890ab"), undefined);
  const c = new AliyunKmsClient({ accessKeyId: "a", accessKeySecret: "s", regionId: "cn-beijing" });
  assert.equal(c.endpointFor(), "https://kms.cn-beijing.aliyuncs.com/");
  const e = new AliyunKmsClient({ accessKeyId: "a", accessKeySecret: "s", endpoint: "http://127.0.0.1:1/x" });
  assert.equal(e.endpointFor("acs:kms:cn-shanghai:1:key/k"), "http://127.0.0.1:1/x");
  assert.throws(
    () => new AliyunKms({ keyId: "" }),
    (err) => err instanceof EnvelopeError && err.code === "INVALID_ARGUMENT",
  );
});

Deno.test("configuration comes from the ALIBABA_CLOUD_* environment (in a subprocess)", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const sts = server.createStsCredentials();
    const mod = new URL("../src/kms/aliyun.ts", import.meta.url).href;
    const script = `
      import { AliyunKms, AliyunKmsClient } from ${JSON.stringify(mod)};
      const out = {};
      const kms = new AliyunKms({ keyId: Deno.args[0], retry: { attempts: 1 } });
      const { dataKey, wrapped } = await kms.generateDataKey({ env: "1" });
      const back = await AliyunKms.discovery().unwrap(wrapped, { env: "1" });
      out.roundTrip = back.length === 32 && back.every((b, i) => b === dataKey[i]);
      out.keyId = wrapped.keyId;
      Deno.env.delete("ALIBABA_CLOUD_KMS_ENDPOINT");
      out.fromRegion = new AliyunKmsClient().endpointFor();
      Deno.env.delete("ALIBABA_CLOUD_REGION_ID");
      out.fromArn = new AliyunKmsClient().endpointFor("acs:kms:cn-shanghai:1:key/x");
      try { new AliyunKmsClient().endpointFor(); } catch (e) { out.noRegion = e.code; }
      Deno.env.delete("ALIBABA_CLOUD_ACCESS_KEY_ID");
      try { await new AliyunKms({ keyId: "k", endpoint: "http://127.0.0.1:9/" }).generateDataKey({}); } catch (e) { out.noCreds = e.code; }
      console.log(JSON.stringify(out));
    `;
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script, keyId],
      cwd: new URL("..", import.meta.url),
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
        ALIBABA_CLOUD_ACCESS_KEY_ID: sts.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: sts.accessKeySecret,
        ALIBABA_CLOUD_SECURITY_TOKEN: sts.securityToken,
        ALIBABA_CLOUD_REGION_ID: "cn-beijing",
        ALIBABA_CLOUD_KMS_ENDPOINT: server.endpoint,
      },
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await cmd.output();
    const errText = new TextDecoder().decode(stderr);
    assert.equal(code, 0, errText);
    const out = JSON.parse(new TextDecoder().decode(stdout));
    assert.deepEqual(out, {
      roundTrip: true,
      keyId,
      fromRegion: "https://kms.cn-beijing.aliyuncs.com/",
      fromArn: "https://kms.cn-shanghai.aliyuncs.com/",
      noRegion: "INVALID_ARGUMENT",
      noCreds: "KMS_ACCESS_DENIED",
    });
    // The subprocess signed with the STS key from the environment and sent its token.
    const used = server.calls.filter((c) => c.action === "GenerateDataKey" || c.action === "Decrypt");
    assert.equal(used.length, 2);
    assert.ok(
      used.every((c) =>
        c.accessKeyId === sts.accessKeyId && c.params.SecurityToken === sts.securityToken && c.status === 200
      ),
    );
  });
});

Deno.test("aliyun kms: a redirect is not followed (the body carries the data key and the token), and an endless answer is cut", async () => {
  let collected = 0;
  const collector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    collected++;
    await req.body?.cancel();
    return new Response("{}");
  });
  let huge = false;
  const endpoint = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    if (huge) return new Response("x".repeat(300 * 1024));
    return new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.1:${collector.addr.port}/collect` },
    });
  });
  try {
    const kms = new AliyunKms({
      keyId: "k1",
      endpoint: `http://127.0.0.1:${endpoint.addr.port}`,
      accessKeyId: "LTAI-test",
      accessKeySecret: "secret-test",
      securityToken: "STS-TOKEN-SECRET",
      retry: FAST,
    });
    const e = await rejectsWith(kms.wrap(new Uint8Array(32).fill(7), { app: "x" }), "KMS_FAILED");
    assert.match(e.message, /redirect, which is not followed/);
    assert.equal(collected, 0, "the redirect's target was never asked");
    assert.doesNotMatch(e.message, /STS-TOKEN-SECRET|BwcHBwcH/);
    huge = true;
    const e2 = await rejectsWith(kms.wrap(new Uint8Array(32).fill(7), { app: "x" }), "KMS_FAILED");
    assert.match(e2.message, /over 262144 bytes/);
  } finally {
    await endpoint.shutdown();
    await collector.shutdown();
  }
});

Deno.test("retry: attempts or delays that are not whole numbers are a RangeError, not an endless loop", async () => {
  const { withRetry } = await import("../src/kms/retry.ts");
  let calls = 0;
  await assert.rejects(
    withRetry(() => (calls++, Promise.reject(new Error("x"))), () => true, { attempts: Number("three") }),
    { name: "RangeError", message: /attempts must be a whole number/ },
  );
  assert.equal(calls, 0);
});
