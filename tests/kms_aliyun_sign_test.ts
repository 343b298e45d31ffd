/**
 * Alibaba Cloud request signing (src/kms/aliyun_sign.ts): the official
 * signature vectors, RFC 3986 percent-encoding, and the loopback test server's
 * verification of signed requests (v1 and v3), forgery by forgery. The
 * provider itself is tested in kms_aliyun_test.ts.
 */
import assert from "node:assert/strict";
import { EnvelopeError } from "../src/errors.ts";
import {
  canonicalQuery,
  encodeForm,
  percentEncode,
  rpcTimestamp,
  signRpc,
  stringToSign,
} from "../src/kms/aliyun_sign.ts";
import { type AliyunServer, startAliyunServer } from "./support/aliyun_server.ts";

async function withServer(fn: (s: AliyunServer) => Promise<void>, options?: Parameters<typeof startAliyunServer>[0]) {
  const server = await startAliyunServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Sends a hand-built, hand-signed request, so the server's checks can be exercised one by one. */
async function rawCall(
  server: AliyunServer,
  params: Record<string, string>,
  o: {
    method?: "GET" | "POST";
    signMethod?: string;
    secret?: string;
    tamper?: (p: Record<string, string>) => void;
    drop?: string;
  } = {},
): Promise<{ status: number; body: Record<string, string> }> {
  const method = o.method ?? "POST";
  const all: Record<string, string> = {
    Format: "JSON",
    Version: "2016-01-20",
    AccessKeyId: server.accessKeyId,
    SignatureMethod: "HMAC-SHA1",
    SignatureVersion: "1.0",
    SignatureNonce: crypto.randomUUID(),
    Timestamp: rpcTimestamp(new Date()),
    ...params,
  };
  if (o.drop) delete all[o.drop];
  all.Signature = await signRpc(o.signMethod ?? method, all, o.secret ?? server.accessKeySecret);
  o.tamper?.(all);
  const form = encodeForm(all);
  const res = method === "GET" ? await fetch(`${server.endpoint}?${form}`) : await fetch(server.endpoint, {
    method,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  return { status: res.status, body: await res.json() };
}

// ---------------------------------------------------------------- signature

Deno.test("signature v1 reproduces the official Alibaba Cloud vector", async () => {
  const params = {
    AccessKeyId: "testid",
    Action: "DescribeRegions",
    Format: "XML",
    SignatureMethod: "HMAC-SHA1",
    SignatureNonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    SignatureVersion: "1.0",
    Timestamp: "2016-02-23T12:46:24Z",
    Version: "2014-05-26",
  };
  assert.equal(
    canonicalQuery(params),
    "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1" +
      "&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0" +
      "&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26",
  );
  assert.equal(await signRpc("GET", params, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
  // The signature depends on the method and the secret.
  assert.notEqual(await signRpc("POST", params, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
  assert.notEqual(await signRpc("GET", params, "testsecreT"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
});

Deno.test("signature v1 matches the KMS reference's CreateKey example string to sign and signed URL", async () => {
  // AlibabaCloudDocs/kms, "intl.en-US/API Reference/Calling method/Signature.md".
  // That page prints its StringToSign with the pairs' "&" left bare and a prose
  // signature (s/OdVWMTmNGagvWlljdAJ7Itsew=) that disagrees with the Signature in
  // its own signed URL (41wk2SSX1GJh7fwnc5eqOfiJPFg=). Its rules say the whole
  // query is percent-encoded ("&" -> %26); doing so reproduces the signed URL.
  const params = {
    AccessKeyId: "testid",
    Action: "CreateKey",
    Format: "json",
    SignatureMethod: "HMAC-SHA1",
    SignatureVersion: "1.0",
    Timestamp: "2016-03-28T03:13:08Z",
    Version: "2016-01-20",
  };
  assert.equal(
    stringToSign("GET", params),
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateKey%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1" +
      "%26SignatureVersion%3D1.0%26Timestamp%3D2016-03-28T03%253A13%253A08Z%26Version%3D2016-01-20",
  );
  assert.equal(await signRpc("GET", params, "testsecret"), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
});

Deno.test("percent-encoding follows RFC 3986 exactly", () => {
  assert.equal(percentEncode("AZaz09-_.~"), "AZaz09-_.~");
  assert.equal(percentEncode("a b*c"), "a%20b%2Ac");
  assert.equal(percentEncode("!'()"), "%21%27%28%29");
  assert.equal(percentEncode("/=+&:"), "%2F%3D%2B%26%3A");
  assert.equal(percentEncode("é€"), "%C3%A9%E2%82%AC");
  assert.equal(percentEncode('{"k":"v"}'), "%7B%22k%22%3A%22v%22%7D");
  assert.equal(rpcTimestamp(new Date(Date.UTC(2016, 1, 23, 12, 46, 24, 987))), "2016-02-23T12:46:24Z");
  assert.throws(() => percentEncode("\uD800"), (e) => e instanceof EnvelopeError && e.code === "INVALID_ARGUMENT");
});

// ---------------------------------------------------------------- the server's own checks

Deno.test("the test server accepts a correctly signed request and refuses each kind of forgery", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const ok = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.KeyId, keyId);
    assert.ok(ok.body.RequestId);

    // GET works too; the signature covers the method actually used.
    const get = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId }, { method: "GET" });
    assert.equal(get.status, 200);
    const wrongMethod = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId }, {
      method: "POST",
      signMethod: "GET",
    });
    assert.deepEqual([wrongMethod.status, wrongMethod.body.Code], [400, "SignatureDoesNotMatch"]);

    // Tampered after signing: a changed parameter, or a changed signature.
    const tampered = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId, KeySpec: "AES_256" }, {
      tamper: (p) => (p.KeySpec = "AES_128"),
    });
    assert.deepEqual([tampered.status, tampered.body.Code], [400, "SignatureDoesNotMatch"]);
    assert.ok(tampered.body.RequestId && tampered.body.HostId && tampered.body.Message);
    const badSig = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId }, { secret: "not-the-secret" });
    assert.deepEqual([badSig.status, badSig.body.Code], [400, "SignatureDoesNotMatch"]);

    const unknownAk = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId, AccessKeyId: "LTAInobody" });
    assert.deepEqual([unknownAk.status, unknownAk.body.Code], [404, "InvalidAccessKeyId.NotFound"]);

    const stale = await rawCall(server, {
      Action: "GenerateDataKey",
      KeyId: keyId,
      Timestamp: rpcTimestamp(new Date(Date.now() - 16 * 60 * 1000)),
    });
    assert.deepEqual([stale.status, stale.body.Code], [400, "InvalidTimeStamp.Expired"]);
    const fresh = await rawCall(server, {
      Action: "GenerateDataKey",
      KeyId: keyId,
      Timestamp: rpcTimestamp(new Date(Date.now() - 14 * 60 * 1000)),
    });
    assert.equal(fresh.status, 200);

    const nonce = crypto.randomUUID();
    const first = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId, SignatureNonce: nonce });
    assert.equal(first.status, 200);
    const replay = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId, SignatureNonce: nonce });
    assert.deepEqual([replay.status, replay.body.Code], [400, "SignatureNonceUsed"]);

    const noVersion = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId }, { drop: "Version" });
    assert.deepEqual([noVersion.status, noVersion.body.Code], [400, "MissingParameter"]);
    const oldVersion = await rawCall(server, { Action: "GenerateDataKey", KeyId: keyId, Version: "2014-05-26" });
    assert.deepEqual([oldVersion.status, oldVersion.body.Code], [400, "InvalidVersion"]);
    const noAction = await rawCall(server, { KeyId: keyId });
    assert.deepEqual([noAction.status, noAction.body.Code], [400, "MissingParameter"]);

    const unknownKey = await rawCall(server, { Action: "GenerateDataKey", KeyId: crypto.randomUUID() });
    assert.deepEqual([unknownKey.status, unknownKey.body.Code], [404, "Forbidden.KeyNotFound"]);
  });
});

Deno.test("the test server binds the encryption context: equal maps open, different ones do not", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const gen = await rawCall(server, {
      Action: "GenerateDataKey",
      KeyId: keyId,
      EncryptionContext: '{"a":"1","b":"2"}',
    });
    assert.equal(gen.status, 200);
    // The service treats equal string maps as the same context, whatever the key order.
    const same = await rawCall(server, {
      Action: "Decrypt",
      CiphertextBlob: gen.body.CiphertextBlob,
      EncryptionContext: '{"b":"2","a":"1"}',
    });
    assert.equal(same.status, 200);
    assert.equal(same.body.Plaintext, gen.body.Plaintext);
    const other = await rawCall(server, {
      Action: "Decrypt",
      CiphertextBlob: gen.body.CiphertextBlob,
      EncryptionContext: '{"a":"1","b":"3"}',
    });
    assert.deepEqual([other.status, other.body.Code], [400, "InvalidParameter"]);
    const none = await rawCall(server, { Action: "Decrypt", CiphertextBlob: gen.body.CiphertextBlob });
    assert.equal(none.status, 400);
    assert.ok(!JSON.stringify(other.body).includes(gen.body.Plaintext));
  });
});

Deno.test("the test server requires the SecurityToken of an STS AccessKey", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const sts = server.createStsCredentials();
    const base = { Action: "GenerateDataKey", KeyId: keyId, AccessKeyId: sts.accessKeyId };
    const ok = await rawCall(server, { ...base, SecurityToken: sts.securityToken }, { secret: sts.accessKeySecret });
    assert.equal(ok.status, 200);
    const missing = await rawCall(server, base, { secret: sts.accessKeySecret });
    assert.deepEqual([missing.status, missing.body.Code], [400, "InvalidSecurityToken.Malformed"]);
    const wrong = await rawCall(server, { ...base, SecurityToken: "CAISforged" }, { secret: sts.accessKeySecret });
    assert.deepEqual([wrong.status, wrong.body.Code], [400, "InvalidSecurityToken.MismatchWithAccessKey"]);
  });
});

function hexOf(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A hand-written ACS3-HMAC-SHA256 (v3) signer, to exercise the server's v3 checks. */
async function rawCallV3(
  server: AliyunServer,
  action: string,
  params: Record<string, string>,
  o: {
    accessKeyId?: string;
    secret?: string;
    token?: string;
    date?: string;
    nonce?: string;
    tamperBody?: (body: string) => string;
    unsigned?: string;
  } = {},
): Promise<{ status: number; body: Record<string, string> }> {
  const enc = new TextEncoder();
  const body = encodeForm(params);
  const headers: Record<string, string> = {
    host: new URL(server.endpoint).host,
    "content-type": "application/x-www-form-urlencoded",
    "x-acs-action": action,
    "x-acs-version": "2016-01-20",
    "x-acs-date": o.date ?? rpcTimestamp(new Date()),
    "x-acs-signature-nonce": o.nonce ?? crypto.randomUUID(),
    "x-acs-content-sha256": hexOf(await crypto.subtle.digest("SHA-256", enc.encode(body))),
  };
  if (o.token) headers["x-acs-security-token"] = o.token;
  const names = Object.keys(headers).filter((n) => n !== o.unsigned).sort();
  const canonical = [
    "POST",
    "/",
    "",
    names.map((n) => `${n}:${headers[n].trim()}\n`).join(""),
    names.join(";"),
    headers["x-acs-content-sha256"],
  ]
    .join("\n");
  const toSign = "ACS3-HMAC-SHA256\n" + hexOf(await crypto.subtle.digest("SHA-256", enc.encode(canonical)));
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(o.secret ?? server.accessKeySecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = hexOf(await crypto.subtle.sign("HMAC", key, enc.encode(toSign)));
  const { host: _host, ...sent } = headers;
  const res = await fetch(server.endpoint, {
    method: "POST",
    headers: {
      ...sent,
      authorization: `ACS3-HMAC-SHA256 Credential=${o.accessKeyId ?? server.accessKeyId},SignedHeaders=${
        names.join(";")
      },Signature=${sig}`,
    },
    body: o.tamperBody ? o.tamperBody(body) : body,
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("the test server verifies v3 (ACS3-HMAC-SHA256) requests with the same checks", async () => {
  await withServer(async (server) => {
    const keyId = server.createKey();
    const ok = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId, EncryptionContext: '{"a":"b c"}' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const dec = await rawCallV3(server, "Decrypt", {
      CiphertextBlob: ok.body.CiphertextBlob,
      EncryptionContext: '{"a":"b c"}',
    });
    assert.equal(dec.body.Plaintext, ok.body.Plaintext);

    const wrongSecret = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, { secret: "nope" });
    assert.deepEqual([wrongSecret.status, wrongSecret.body.Code], [400, "SignatureDoesNotMatch"]);
    const tamperedBody = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId, KeySpec: "AES_256" }, {
      tamperBody: (b) => b.replace("AES_256", "AES_128"),
    });
    assert.deepEqual([tamperedBody.status, tamperedBody.body.Code], [400, "SignatureDoesNotMatch"]);
    const unsignedHeader = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, {
      unsigned: "x-acs-signature-nonce",
    });
    assert.deepEqual([unsignedHeader.status, unsignedHeader.body.Code], [400, "IncompleteSignature"]);
    const unknownAk = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, { accessKeyId: "LTAInobody" });
    assert.deepEqual([unknownAk.status, unknownAk.body.Code], [404, "InvalidAccessKeyId.NotFound"]);
    const stale = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, {
      date: rpcTimestamp(new Date(Date.now() - 3600_000)),
    });
    assert.deepEqual([stale.status, stale.body.Code], [400, "InvalidTimeStamp.Expired"]);
    const nonce = crypto.randomUUID();
    assert.equal((await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, { nonce })).status, 200);
    const replay = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, { nonce });
    assert.deepEqual([replay.status, replay.body.Code], [400, "SignatureNonceUsed"]);

    const sts = server.createStsCredentials();
    const stsOk = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, {
      accessKeyId: sts.accessKeyId,
      secret: sts.accessKeySecret,
      token: sts.securityToken,
    });
    assert.equal(stsOk.status, 200);
    const stsNoToken = await rawCallV3(server, "GenerateDataKey", { KeyId: keyId }, {
      accessKeyId: sts.accessKeyId,
      secret: sts.accessKeySecret,
    });
    assert.deepEqual([stsNoToken.status, stsNoToken.body.Code], [400, "InvalidSecurityToken.Malformed"]);
  });
});
