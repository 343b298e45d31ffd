/**
 * The data-key cache against real KMS peers, counting the calls at the
 * server: moto (through a counting proxy) for AWS, the loopback Alibaba
 * server for Alibaba Cloud.
 */
import assert from "node:assert/strict";
import { DataKeyCache, decrypt, encrypt } from "../mod.ts";
import { AliyunKms } from "../src/kms/aliyun.ts";
import { AwsKms } from "../src/kms/aws.ts";
import { startAliyunServer } from "./support/aliyun_server.ts";
import { startCountingProxy } from "./support/counting_proxy.ts";
import { startMoto } from "./support/moto.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("AWS KMS: the cache turns one GenerateDataKey per message into one per cache entry, counted at the server", async () => {
  await using moto = await startMoto();
  const proxy = await startCountingProxy(moto.endpoint);
  try {
    const arn = await moto.createKey("cache test");
    const client = moto.client({ endpoint: proxy.endpoint });
    const key = new AwsKms({ keyId: arn, client });
    const context = { app: "cache" };

    for (let i = 0; i < 5; i++) await encrypt(text(`m${i}`), { keys: key, context });
    assert.equal(proxy.count("GenerateDataKey"), 5, "without a cache every message asks the KMS");

    proxy.reset();
    const cache = new DataKeyCache({ maxMessages: 3 });
    const sealed: Uint8Array[] = [];
    for (let i = 0; i < 7; i++) sealed.push(await encrypt(text(`c${i}`), { keys: key, context, cache }));
    assert.equal(proxy.count("GenerateDataKey"), 3, "7 messages at 3 per data key need 3 data keys");

    proxy.reset();
    const fresh = new DataKeyCache();
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => encrypt(text(`p${i}`), { keys: key, context, cache: fresh })),
    );
    assert.equal(proxy.count("GenerateDataKey"), 1, "concurrent requests share one KMS call");

    proxy.reset();
    const decCache = new DataKeyCache();
    const discovery = AwsKms.discovery({ client });
    for (let i = 0; i < 3; i++) {
      const out = await decrypt(sealed[i], { keys: discovery, cache: decCache });
      assert.equal(new TextDecoder().decode(out), `c${i}`);
    }
    assert.equal(proxy.count("Decrypt"), 1, "messages under one cached data key unwrap once");

    proxy.reset();
    const other = new DataKeyCache();
    await encrypt(text("x"), { keys: key, context: { app: "other" }, cache: other });
    await encrypt(text("y"), { keys: key, context: { app: "cache" }, cache: other });
    assert.equal(proxy.count("GenerateDataKey"), 2, "a different context is a different cache entry");
    await Promise.all([cache.clear(), fresh.clear(), decCache.clear(), other.clear()]);
  } finally {
    await proxy.close();
  }
});

Deno.test("Alibaba Cloud KMS: the cache bounds by bytes and age, counted at the server", async () => {
  const server = await startAliyunServer();
  try {
    const keyId = server.createKey("alias/cache");
    const opts = {
      endpoint: server.endpoint,
      accessKeyId: server.accessKeyId,
      accessKeySecret: server.accessKeySecret,
      regionId: server.regionId,
    };
    const key = new AliyunKms({ keyId, ...opts });
    let now = 1_000_000;
    const cache = new DataKeyCache({ maxBytes: 100, maxAgeMs: 60_000, now: () => now });
    const before = server.count("GenerateDataKey");
    await encrypt(new Uint8Array(60), { keys: key, cache });
    await encrypt(new Uint8Array(30), { keys: key, cache });
    assert.equal(server.count("GenerateDataKey") - before, 1, "90 bytes fit one entry");
    const third = await encrypt(new Uint8Array(30), { keys: key, cache });
    assert.equal(server.count("GenerateDataKey") - before, 2, "120 bytes exceed the 100-byte bound");
    now += 61_000;
    await encrypt(new Uint8Array(1), { keys: key, cache });
    assert.equal(server.count("GenerateDataKey") - before, 3, "an entry older than maxAgeMs is not reused");

    const decBefore = server.count("Decrypt");
    const decCache = new DataKeyCache();
    const discovery = AliyunKms.discovery(opts);
    for (let i = 0; i < 4; i++) await decrypt(third, { keys: discovery, cache: decCache });
    assert.equal(server.count("Decrypt") - decBefore, 1, "decrypt caches the unwrapped key by wrapped key");
    await decrypt(third, { keys: AliyunKms.discovery(opts), cache: decCache });
    assert.equal(
      server.count("Decrypt") - decBefore,
      2,
      "another provider object is another caller: it asks the KMS itself",
    );
    await cache.clear();
    await decCache.clear();
  } finally {
    await server.close();
  }
});
