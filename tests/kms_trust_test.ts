/**
 * The review's proofs of concept against moto through the real
 * `@aws-sdk/client-kms` (issue 15): a planted entry and ReEncrypt (H1), one
 * cache across two regions' same alias (H2), and a file steering a discovery
 * decryptor's KMS calls (M1), counted at the server by a proxy.
 */
import assert from "node:assert/strict";
import { CreateAliasCommand, CreateKeyCommand, EncryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import { DataKeyCache, decrypt, encrypt, rewrapHeader, type WrappedKey } from "../mod.ts";
import { AwsKms } from "../src/kms/aws.ts";
import { encodeHeader, parseHeader } from "../src/format/header.ts";
import { concatBytes, prng } from "./support/envelope_harness.ts";
import { startCountingProxy } from "./support/counting_proxy.ts";
import { type Moto, startMoto } from "./support/moto.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const CTX = { app: "ledger" };

async function withMoto(fn: (moto: Moto) => Promise<void>): Promise<void> {
  const moto = await startMoto();
  try {
    await fn(moto);
  } finally {
    await moto.close();
  }
}

function withKeys(message: Uint8Array, keys: WrappedKey[]): Uint8Array {
  const h = parseHeader(message);
  return concatBytes([encodeHeader(h.core, h.headerTag, keys), message.subarray(h.length)]);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "no error";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

Deno.test("H1 against moto: kms:Encrypt on the old key plants an entry; rewrap through ReEncrypt still yields a file the new key opens", () =>
  withMoto(async (moto) => {
    const oldArn = await moto.createKey("old");
    const newArn = await moto.createKey("new");
    const oldKey = new AwsKms({ keyId: oldArn, client: moto.client() });
    const newKey = new AwsKms({ keyId: newArn, client: moto.client() });
    const sealed = await encrypt(te.encode("the books"), { keys: oldKey, context: CTX });
    // What the attacker can do with kms:Encrypt alone: wrap a data key of its own under the old key.
    const out = await moto.client().send(
      new EncryptCommand({ KeyId: oldArn, Plaintext: prng(5).bytes(32), EncryptionContext: CTX }),
    );
    const bogus: WrappedKey = { provider: "aws-kms", keyId: oldArn, wrapped: out.CiphertextBlob! };
    const poisoned = withKeys(sealed, [bogus, ...parseHeader(sealed).keys]);
    const r = await rewrapHeader(poisoned, { add: [newKey], remove: (k) => k.keyId === oldArn });
    assert.deepEqual(r.added.map((a) => a.via), ["reencrypt"]);
    const next = concatBytes([r.header, poisoned.subarray(r.payloadOffset)]);
    assert.deepEqual(parseHeader(next).keys.map((k) => k.keyId), [newArn]);
    assert.equal(td.decode(await decrypt(next, { keys: newKey, context: CTX })), "the books");
    // Only bogus entries: the rewrap fails and returns nothing to write.
    const err = await rewrapHeader(withKeys(sealed, [bogus]), { keys: [oldKey], add: [newKey] }).catch((e) => e);
    assert.equal(err.code, "KEY_COMMITMENT_MISMATCH");
  }));

async function keyIn(moto: Moto, region: string, alias: string): Promise<{ client: KMSClient; arn: string }> {
  const client = moto.client({ region });
  const k = await client.send(new CreateKeyCommand({ Description: region }));
  await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: k.KeyMetadata!.KeyId! }));
  return { client, arn: k.KeyMetadata!.Arn! };
}

Deno.test("H2 against moto: alias/backup in eu-west-1 and us-east-1 through one cache; each message is wrapped for its own region", () =>
  withMoto(async (moto) => {
    const eu = await keyIn(moto, "eu-west-1", "alias/backup");
    const us = await keyIn(moto, "us-east-1", "alias/backup");
    const euKms = new AwsKms({ keyId: "alias/backup", client: eu.client });
    const usKms = new AwsKms({ keyId: "alias/backup", client: us.client });
    const cache = new DataKeyCache();
    const m1 = await encrypt(te.encode("for eu"), { keys: euKms, cache, context: CTX });
    const m2 = await encrypt(te.encode("for us"), { keys: usKms, cache, context: CTX });
    assert.deepEqual(parseHeader(m1).keys.map((k) => k.keyId), [eu.arn]);
    assert.deepEqual(parseHeader(m2).keys.map((k) => k.keyId), [us.arn], "the US message is wrapped for the US key");
    assert.equal(td.decode(await decrypt(m2, { keys: usKms })), "for us");
    assert.equal(td.decode(await decrypt(m1, { keys: euKms })), "for eu");
    assert.notEqual(await codeOf(decrypt(m2, { keys: euKms })), "no error", "the EU key cannot open the US message");
  }));

Deno.test("M1 against moto: 31 planted entries cost at most 8 Decrypt calls, and none with a filter or a configured key", () =>
  withMoto(async (moto) => {
    const proxy = await startCountingProxy(moto.endpoint);
    try {
      const client = moto.client({ endpoint: proxy.endpoint });
      const arn = await moto.createKey("genuine");
      const account = /:(\d{12}):key\//.exec(arn)![1];
      const sealed = await encrypt(te.encode("x"), { keys: new AwsKms({ keyId: arn, client }) });
      const planted: WrappedKey[] = Array.from({ length: 31 }, (_, i) => ({
        provider: "aws-kms",
        keyId: `arn:aws:kms:ap-southeast-2:999999999999:key/${String(i).padStart(8, "0")}-0000-0000-0000-000000000000`,
        wrapped: prng(100 + i).bytes(150),
      }));
      const steered = withKeys(sealed, [...planted, ...parseHeader(sealed).keys]);
      // Discovery, no filter: stopped by the cap.
      proxy.reset();
      assert.equal(await codeOf(decrypt(steered, { keys: AwsKms.discovery({ client }) })), "KEY_LIMIT");
      assert.equal(proxy.count("Decrypt"), 8, "at most the cap reaches KMS (it was 32 before)");
      // Discovery limited to our account and partition: the planted entries are not even tried.
      proxy.reset();
      const filtered = AwsKms.discovery({ client, filter: { accounts: [account], partition: "aws" } });
      assert.equal(td.decode(await decrypt(steered, { keys: filtered })), "x");
      assert.equal(proxy.count("Decrypt"), 1);
      // A configured key: its own entry first.
      proxy.reset();
      assert.equal(td.decode(await decrypt(steered, { keys: new AwsKms({ keyId: arn, client }) })), "x");
      assert.equal(proxy.count("Decrypt"), 1);
    } finally {
      await proxy.close();
    }
  }));
