/**
 * The compatibility formats in process: Nitro tokens and Alibaba GCM text
 * byte-identical to Python's `cryptography` for the same key, IV and time;
 * the streaming Alibaba reader under every way of splitting its input;
 * format recognition; kmstool output parsing and failures; and the policy
 * documents.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ALIYUN_MAX_TRAILER,
  contextMap,
  openAliyunStream,
  parseAliyun,
  scanAliyun,
  sealAliyunStream,
} from "../src/compat/aliyun_gcm.ts";
import { readLimited } from "../src/io/byte_streams.ts";
import { detectFormat } from "../src/compat/detect.ts";
import { KmstoolKey, parsePlaintext } from "../src/kms/kmstool.ts";
import {
  joinNitro,
  looksLikeNitro,
  nitroFernetKey,
  openNitro,
  sealNitro,
  splitNitro,
  tokenTimestamp,
  tooLarge,
} from "../src/compat/nitro.ts";
import { aliyunPolicy, awsPolicies } from "../src/compat/policy.ts";
import { AesGcm } from "../src/crypto/mod.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { withFixedRandom } from "../src/crypto/fixed_random_internal.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { main } from "../src/cli/main.ts";
import { processTerminal, setTerminal } from "../src/cli/output.ts";
import { pythonFernet, pythonGcm } from "./support/python.ts";
import { streamOf } from "./support/envelope_harness.ts";

async function rejects(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    assert.ok(isEnvelopeError(err, code as never), `expected ${code}, got ${err}`);
    return;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("nitro: tokens are byte-identical to Python's Fernet with the standard base64 key, and open both ways", async () => {
  const key = randomBytes(32);
  const blob = randomBytes(184);
  const iv = randomBytes(16);
  const now = 1_700_000_000;
  for (const size of [0, 1, 15, 16, 17, 1000, 70_000]) {
    const zip = randomBytes(size);
    const file = await sealNitro(zip, key, blob, withFixedRandom({ now: now * 1000 }, iv));
    const { blob: b, token } = splitNitro(file);
    assert.deepEqual(b, blob);
    const [py] = await pythonFernet([{ op: "encrypt", key: nitroFernetKey(key), data: zip, now, iv }]);
    assert.equal(new TextDecoder().decode(token), (py as { token: string }).token);
    assert.deepEqual(await openNitro({ blob, token }, key), zip);
    assert.equal(tokenTimestamp(token), now);
  }
  // Python accepts the standard-alphabet key the sample uses; the key has '+' or '/' often enough to matter.
  assert.match(nitroFernetKey(new Uint8Array(32).fill(0xfb)), /[+/]/);
  const [dec] = await pythonFernet([{
    op: "decrypt",
    key: nitroFernetKey(new Uint8Array(32).fill(0xfb)),
    token: new TextDecoder().decode(
      splitNitro(await sealNitro(new Uint8Array([1, 2]), new Uint8Array(32).fill(0xfb), blob)).token,
    ),
    now,
  }]);
  assert.deepEqual((dec as { data: Uint8Array }).data, new Uint8Array([1, 2]));
});

Deno.test("nitro: the layout is checked before anything is decrypted", async () => {
  const key = randomBytes(32);
  const file = await sealNitro(new Uint8Array(10), key, randomBytes(100));
  assert.ok(looksLikeNitro(file));
  await rejects(() => splitNitro(file.subarray(0, 3)), "COMPAT_INVALID");
  await rejects(() => splitNitro(file.subarray(0, 50)), "COMPAT_INVALID");
  await rejects(() => splitNitro(file.subarray(0, 104)), "COMPAT_INVALID");
  const zero = file.slice();
  new DataView(zero.buffer).setUint32(0, 0);
  await rejects(() => splitNitro(zero), "COMPAT_INVALID");
  await rejects(openNitro(splitNitro(file), randomBytes(32)), "TOKEN_INVALID");
  await rejects(() => joinNitro(new Uint8Array(0), "gAAAAA"), "INVALID_ARGUMENT");
  await rejects(() => nitroFernetKey(new Uint8Array(16)), "INVALID_KEY");
});

async function aliyunFile(
  plaintext: Uint8Array,
  key: Uint8Array,
  nonce: Uint8Array,
  context: string,
): Promise<Uint8Array> {
  const seal = await sealAliyunStream(withFixedRandom({ dataKey: key, blob: "QkxPQg==", context }, nonce));
  return await collect(streamOf(plaintext, 1000).pipeThrough(seal));
}

Deno.test("aliyun: our text matches Python's AESGCM with a 16-byte nonce, field by field", async () => {
  const key = randomBytes(32);
  const nonce = randomBytes(16);
  for (const size of [0, 1, 2, 3, 16, 999, 1000, 1001, 65_537]) {
    const pt = randomBytes(size);
    const text = new TextDecoder().decode(await aliyunFile(pt, key, nonce, '{"a":"b"}'));
    const [sealed] = await pythonGcm([{ op: "seal", key, iv: nonce, aad: new Uint8Array(0), data: pt }]);
    const ct = sealed!.subarray(0, size);
    const tag = sealed!.subarray(size);
    assert.equal(
      text,
      [encodeBase64(ct), "QkxPQg==", encodeBase64(nonce), encodeBase64(tag), '{"a":"b"}'].join("*---*"),
    );
    const parsed = parseAliyun(new TextEncoder().encode(text));
    assert.deepEqual(parsed.ciphertext, ct);
    assert.equal(parsed.context, '{"a":"b"}');
  }
});

Deno.test("aliyun: the two-pass reader gives the plaintext for every way of splitting the input", async () => {
  const key = randomBytes(32);
  const nonce = randomBytes(16);
  const pt = randomBytes(5000);
  const context = '{"x": "y*---*z", "n": "ünï"}';
  const file = await aliyunFile(pt, key, nonce, context);
  for (const size of [1, 2, 3, 4, 5, 6, 7, 13, 64, 4096, file.length]) {
    const scan = await scanAliyun(streamOf(file, size));
    assert.equal(scan.context, context);
    assert.equal(scan.blob, "QkxPQg==");
    assert.equal(scan.ciphertextChars, Math.ceil(5000 / 3) * 4);
    const gcm = await AesGcm.create(key);
    assert.deepEqual(await collect(streamOf(file, size).pipeThrough(openAliyunStream(gcm, scan))), pt);
  }
  // A wrong key: the stream errors at its end, after all ciphertext went through.
  const scan = await scanAliyun(streamOf(file, 100));
  await rejects(
    collect(streamOf(file, 100).pipeThrough(openAliyunStream(await AesGcm.create(randomBytes(32)), scan))),
    "PAYLOAD_AUTH_FAILED",
  );
  // A file that changed between the passes (shorter ciphertext).
  await rejects(
    collect(streamOf(file.subarray(0, 100), 7).pipeThrough(openAliyunStream(await AesGcm.create(key), scan))),
    "COMPAT_INVALID",
  );
});

Deno.test("aliyun: the scanner refuses malformed text and bounds what it holds", async () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const good = "AAAA*---*QkxPQg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(16)) + "*---*{}";
  assert.equal((await scanAliyun(streamOf(enc(good), 3))).ciphertextChars, 4);
  for (
    const bad of [
      "AAAA",
      "AAA*---*QkxPQg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(16)) + "*---*{}",
      "AA=A*---*QkxPQg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(16)) + "*---*{}",
      "AAAA*--*QkxPQg==",
      "AAAA*---*QkxPQg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(15)) + "*---*{}",
      "AAAA*---*Qkx!Qg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(16)) + "*---*{}",
      "AAAA*---*QkxPQg==*---*" + btoa("n".repeat(16)) + "*---*" + btoa("t".repeat(16)),
      "AAAA*---*QkxPQg==*---**---*" + btoa("t".repeat(16)) + "*---*{}",
    ]
  ) {
    await rejects(scanAliyun(streamOf(enc(bad), 2)), "COMPAT_INVALID");
  }
  const long = "AAAA*---*" + "Q".repeat(ALIYUN_MAX_TRAILER + 10);
  await rejects(scanAliyun(streamOf(enc(long), 4096)), "COMPAT_INVALID");
});

Deno.test("aliyun: the context becomes an envelope context only when it is a flat map of strings", () => {
  assert.deepEqual(contextMap('{"a": "1", "b":"2"}'), { map: { a: "1", b: "2" }, flat: true });
  assert.deepEqual(contextMap("{}"), { map: {}, flat: true });
  assert.deepEqual(contextMap('{"a": {"b": "c"}}'), { map: { "aliyun-context": '{"a": {"b": "c"}}' }, flat: false });
  assert.deepEqual(contextMap('{"n": 1}'), { map: { "aliyun-context": '{"n": 1}' }, flat: false });
  assert.deepEqual(contextMap("not json"), { map: { "aliyun-context": "not json" }, flat: false });
  assert.deepEqual(contextMap(""), { map: {}, flat: false });
});

Deno.test("detect: each format from its first bytes, and neither for other input", async () => {
  const nitro = await sealNitro(new Uint8Array(5), randomBytes(32), randomBytes(300));
  assert.equal(detectFormat(nitro, true), "nitro");
  assert.equal(detectFormat(nitro.subarray(0, 4 + 300 + 6), false), "nitro");
  // Truncated inside the blob: still read as Nitro, so the reader reports the short file.
  assert.equal(detectFormat(nitro.subarray(0, 100), true), "nitro");
  assert.equal(detectFormat(nitro.subarray(0, 100), false), undefined);
  const ali = await aliyunFile(randomBytes(3000), randomBytes(32), randomBytes(16), "{}");
  assert.equal(detectFormat(ali, true), "aliyun");
  assert.equal(detectFormat(ali.subarray(0, 1000), false), "aliyun");
  assert.equal(detectFormat(new TextEncoder().encode("hello, world: plain text"), true), undefined);
  assert.equal(detectFormat(new Uint8Array([0xff, 0, 0, 0, 1, 2]), true), undefined);
  assert.equal(detectFormat(new Uint8Array(0), true), undefined);
});

Deno.test("kmstool: output of either shape parses, and failures are KMS_FAILED or KMS_TIMEOUT without secrets", async () => {
  const key = randomBytes(32);
  const b64 = encodeBase64(key);
  assert.deepEqual(parsePlaintext(`PLAINTEXT: ${b64}\n`), key);
  assert.deepEqual(parsePlaintext(`CIPHERTEXT: QUJD\nPLAINTEXT: ${b64}\n`), key);
  assert.deepEqual(parsePlaintext(b64), key);
  assert.equal(parsePlaintext("error: nope"), undefined);
  assert.equal(parsePlaintext(""), undefined);

  const dir = await Deno.makeTempDir({ prefix: "envelope-kmstool-" });
  try {
    const tool = async (name: string, body: string) => {
      const path = join(dir, name);
      await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
      await Deno.chmod(path, 0o755);
      return path;
    };
    const env = {
      AWS_REGION: "eu-west-2",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "very-secret-key",
      AWS_SESSION_TOKEN: "very-secret-token",
    };
    // A new-generation tool whose output has no PLAINTEXT: prefix is still read.
    const bare = new KmstoolKey({ path: await tool("bare", `printf '%s' '${b64}'`), env });
    assert.deepEqual(await bare.decryptBlob(randomBytes(10)), key);
    assert.equal(bare.generation, "subcommand");
    // A tool that fails and echoes its arguments: the secrets are redacted.
    const echo = new KmstoolKey({ path: await tool("echo", `echo "AccessDeniedException for $*" >&2; exit 1`), env });
    const err = await echo.decryptBlob(randomBytes(10)).catch((e) => e);
    assert.ok(isEnvelopeError(err, "KMS_FAILED"), String(err));
    assert.match(err.message, /AccessDeniedException/);
    assert.doesNotMatch(err.message, /very-secret/);
    // Success with output that is not base64.
    await rejects(
      new KmstoolKey({ path: await tool("junk", "echo 'all good!'"), env }).decryptBlob(randomBytes(10)),
      "KMS_FAILED",
    );
    // A tool that never finishes.
    await rejects(
      new KmstoolKey({ path: await tool("slow", "exec sleep 30"), env, timeoutMs: 200 }).decryptBlob(randomBytes(10)),
      "KMS_TIMEOUT",
    );
    // Not a KeyProvider for wrapping, and no contexts.
    await rejects(bare.wrap(key, {}), "USAGE");
    assert.equal(await bare.unwrap({ provider: "local", keyId: "x", wrapped: new Uint8Array(1) }, {}), null);
    await rejects(
      bare.unwrap({ provider: "aws-kms", keyId: "x", wrapped: new Uint8Array(1) }, { a: "b" }),
      "KMS_FAILED",
    );
    assert.deepEqual(await bare.unwrap({ provider: "aws-kms", keyId: "x", wrapped: new Uint8Array(1) }, {}), key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  setTerminal({ out: (t) => void (out += t), err: (t) => void (err += t), errIsTty: false });
  try {
    return { code: await main(args), out, err };
  } finally {
    setTerminal(processTerminal);
  }
}

Deno.test("policy: the AWS and Alibaba documents are valid JSON with the seed's statements, and inputs are checked", async () => {
  const sha = "ab".repeat(48);
  const keyArn = "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const role = "arn:aws:iam::111122223333:role/enclave-parent";
  const r = await cli([
    "policy",
    "aws",
    "--key-arn",
    keyArn,
    "--account",
    "111122223333",
    "--image-sha384",
    sha.toUpperCase(),
    "--role-arn",
    role,
  ]);
  assert.equal(r.code, 0, r.err);
  const docs = JSON.parse(r.out);
  const [admin, allow, deny] = docs.keyPolicy.Statement;
  assert.equal(admin.Principal.AWS, "arn:aws:iam::111122223333:root");
  assert.deepEqual([allow.Effect, allow.Action, allow.Principal.AWS], ["Allow", "kms:Decrypt", role]);
  assert.deepEqual([deny.Effect, deny.Action, deny.Principal.AWS], ["Deny", "kms:Decrypt", role]);
  assert.deepEqual(deny.Condition, { StringNotEqualsIgnoreCase: { "kms:RecipientAttestation:ImageSha384": sha } });
  assert.deepEqual(docs.parentRolePolicy.Statement[0].Action, ["kms:Decrypt"]);
  assert.equal(docs.parentRolePolicy.Statement[0].Resource, keyArn);
  assert.deepEqual(docs.encryptorPolicy.Statement[0].Action, ["kms:Encrypt", "kms:GenerateDataKey"]);

  const only = await cli([
    "policy",
    "aws",
    "--key-arn",
    keyArn,
    "--account",
    "111122223333",
    "--image-sha384",
    sha,
    "--only",
    "key-policy",
  ]);
  assert.equal(only.code, 0, only.err);
  // Without --role-arn the account root is the principal.
  assert.equal(JSON.parse(only.out).Statement[1].Principal.AWS, "arn:aws:iam::111122223333:root");

  const ali = await cli([
    "policy",
    "aliyun",
    "--region",
    "cn-beijing",
    "--account",
    "1234567890123456",
    "--key-id",
    "1234abcd-12ab-34cd-56ef-1234567890ab",
  ]);
  assert.equal(ali.code, 0, ali.err);
  assert.deepEqual(JSON.parse(ali.out), {
    Version: "1",
    Statement: [{
      Effect: "Allow",
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
      Resource: ["acs:kms:cn-beijing:1234567890123456:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
    }],
  });

  for (
    const bad of [
      ["policy", "aws", "--key-arn", keyArn, "--account", "111122223333", "--image-sha384", sha.slice(1)],
      ["policy", "aws", "--key-arn", keyArn, "--account", "111122223333", "--image-sha384", "zz" + sha.slice(2)],
      ["policy", "aws", "--key-arn", "alias/x", "--account", "111122223333", "--image-sha384", sha],
      ["policy", "aws", "--key-arn", keyArn, "--account", "1111", "--image-sha384", sha],
      [
        "policy",
        "aws",
        "--key-arn",
        keyArn,
        "--account",
        "111122223333",
        "--image-sha384",
        sha,
        "--role-arn",
        "arn:aws:iam::1:user/x",
      ],
      ["policy", "aws", "--key-arn", keyArn, "--account", "111122223333"],
      [
        "policy",
        "aws",
        "--key-arn",
        keyArn,
        "--account",
        "111122223333",
        "--image-sha384",
        sha,
        "--only",
        "everything",
      ],
      ["policy", "aliyun", "--region", "Beijing", "--account", "1234567890123456", "--key-id", "k"],
      ["policy", "aliyun", "--region", "cn-beijing", "--account", "12ab", "--key-id", "k"],
      ["policy", "aliyun", "--region", "cn-beijing", "--account", "1234567890123456", "--key-id", "acs:kms:x"],
      ["policy", "gcp"],
    ]
  ) {
    const res = await cli(bad);
    assert.equal(res.code, 2, `${bad.join(" ")}: ${res.err}`);
    assert.match(res.err, /\[USAGE\]/);
  }
  assert.throws(
    () => awsPolicies({ keyArn, account: "111122223333", imageSha384: "" }),
    (e) => isEnvelopeError(e, "USAGE"),
  );
  assert.throws(() => aliyunPolicy({ region: "cn-x", account: "1", keyId: "k" }), (e) => isEnvelopeError(e, "USAGE"));
});

Deno.test("nitro: whole-input reads stop at their bound with LIMIT_EXCEEDED", async () => {
  const data = randomBytes(10_000);
  assert.deepEqual(await readLimited(streamOf(data, 777), 10_000, tooLarge), data);
  await rejects(readLimited(streamOf(data, 777), 9_999, tooLarge), "LIMIT_EXCEEDED");
  const err = tooLarge(2 ** 31);
  assert.match(err.hint ?? "", /envelope format/);
});

Deno.test("no public option repeats a nonce: sealNitro's iv and the Alibaba nonce are refused, fresh ones differ", async () => {
  const key = randomBytes(32);
  const legacyIv = { now: 0, iv: new Uint8Array(16) } as unknown as Parameters<typeof sealNitro>[3];
  await assert.rejects(
    () => sealNitro(new Uint8Array(3), key, new Uint8Array(8), legacyIv),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  const legacyNonce = { dataKey: key, blob: "QkxPQg==", context: "{}", nonce: new Uint8Array(16) };
  await assert.rejects(() => sealAliyunStream(legacyNonce), (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"));
  const nonces = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const seal = await sealAliyunStream({ dataKey: key, blob: "QkxPQg==", context: "{}" });
    const text = await new Response(ReadableStream.from([new Uint8Array(5)]).pipeThrough(seal)).text();
    nonces.add(text.split("*---*")[2]);
  }
  assert.equal(nonces.size, 20);
});

Deno.test("kmstool: a failure never quotes the tool's stdout, where the plaintext key is (a review found a bare one quoted)", async () => {
  const key = randomBytes(32);
  const b64 = encodeBase64(key);
  const dir = await Deno.makeTempDir({ prefix: "envelope-kmstool-" });
  try {
    const cases = [
      `printf '%s\\nwarning: proxy connection slow\\n' '${b64}'`, // exit 0, output not one base64 plaintext
      `printf '%s\\n' '${b64}'; exit 1`, // the key, then a failure
      `echo "decrypt failed near ${b64}" >&2; exit 1`, // a key-like run on stderr
    ];
    for (const [i, body] of cases.entries()) {
      const path = join(dir, `t${i}`);
      await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
      await Deno.chmod(path, 0o755);
      const err = await new KmstoolKey({ path, env: {} }).decryptBlob(randomBytes(10)).catch((e) => e);
      assert.ok(isEnvelopeError(err, "KMS_FAILED"), `${i}: ${err}`);
      assert.ok(!err.message.includes(b64) && !err.message.includes(b64.slice(0, 16)), `${i}: ${err.message}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
