/**
 * The browser entry (src/browser.ts, all of src/lib.ts) in Chromium, against bundles built
 * with scripts/build_web.ts and served by scripts/serve.ts: httpRangeSource and
 * openRandomAccess fetch only what a range needs, and the bundle encrypts (bytes, streams,
 * a local key) what Deno then decrypts.
 */
import assert from "node:assert/strict";
import { bytesFile, type LogEntry } from "../scripts/serve.ts";
import { decrypt, encrypt, LocalKey, RawDataKey } from "../mod.ts";
import { decodeBase64, encodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { patternBytes, serve } from "./support/web.ts";
import { withBrowser } from "./support/browser.ts";

/** The browser bundle's API, as the page sees it after `import("/envelope.js")`. */
type Env = typeof import("../src/browser.ts");

Deno.test("page: httpRangeSource + openRandomAccess fetch only the header and the chunks a range needs", async () => {
  const CS = 4096;
  const dataKey = patternBytes(32, 41);
  const key = await RawDataKey.create(dataKey);
  const plaintext = patternBytes(100_000, 42); // 25 chunks
  const sealed = await encrypt(plaintext, { keys: key, chunkSize: CS, context: { part: "ranges" } });
  key.dispose();
  const headerLength = parseHeader(sealed).length;
  const server = await serve({ "ranged.envl": bytesFile(sealed) });
  try {
    await withBrowser(async ({ page }) => {
      await page.goto(`${server.origin}/`);
      const start = server.log.length;
      const got = await page.evaluate(async (b64) => {
        const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
        const keys = await env.RawDataKey.create(b64);
        const reader = await env.openRandomAccess(await env.httpRangeSource("/files/ranged.envl"), { keys });
        const part = await reader.read(50_000, 10_000);
        const size = reader.size;
        await reader.close();
        let s = "";
        for (const b of part) s += String.fromCharCode(b);
        return { part: btoa(s), size };
      }, encodeBase64(dataKey));
      assert.equal(got.size, plaintext.length);
      assert.deepEqual(decodeBase64(got.part), plaintext.subarray(50_000, 60_000));

      const requests: LogEntry[] = server.log.slice(start).filter((e) => e.path === "/files/ranged.envl");
      assert.ok(requests.every((r) => r.range !== null && r.status === 206), JSON.stringify(requests));
      const full = CS + 16;
      // Opening authenticates the size by reading the final chunk (24, cut at the end of the file);
      // plaintext 50,000..59,999 then lies in chunks 12 to 14, fetched as one run with one request.
      const finalChunk = `bytes=${headerLength + 24 * full}-${sealed.length - 1}`;
      const chunkReads = requests.filter((r) => !r.range!.startsWith("bytes=0-"));
      const run = `bytes=${headerLength + 12 * full}-${headerLength + 15 * full - 1}`;
      assert.deepEqual(chunkReads.map((r) => r.range), [finalChunk, run]);
      // The rest are the header: the size probe and one read from 0 of at most 4 KiB.
      const headReads = requests.filter((r) => r.range!.startsWith("bytes=0-"));
      assert.deepEqual(headReads.map((r) => r.range), ["bytes=0-0", "bytes=0-4095"]);
      const sent = requests.reduce((n, r) => n + r.bytes, 0);
      assert.ok(sent < sealed.length / 4, `${sent} of ${sealed.length} bytes were sent`);
    });
  } finally {
    await server.close();
  }
});

Deno.test("page: the browser entry encrypts; bytes, streams and a local key round-trip, and Deno decrypts them", async () => {
  const kek = patternBytes(32, 51);
  const dataKey = patternBytes(32, 52);
  const plaintext = patternBytes(150_000, 53);
  const server = await serve();
  try {
    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${server.origin}/`);
      const out = await page.evaluate(async ({ kekB64, dkB64, ptB64 }) => {
        const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
        const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
        const toB64 = (b: Uint8Array) => {
          let s = "";
          for (const x of b) s += String.fromCharCode(x);
          return btoa(s);
        };
        const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
        const pt = fromB64(ptB64);
        const local = await env.LocalKey.fromBytes(fromB64(kekB64));
        const raw = await env.RawDataKey.create(dkB64);
        const context = { made: "in-chromium" };

        const bytesSealed = await env.encrypt(pt, { keys: [local], context, chunkSize: 65536 });
        const bytesOk = same(await env.decrypt(bytesSealed, { keys: local, context }), pt);

        const streamed = await new Response(
          new Blob([pt]).stream().pipeThrough(env.encryptStream({ keys: raw, chunkSize: 4096 })),
        ).arrayBuffer();
        const back = await new Response(
          new Blob([streamed]).stream().pipeThrough(env.decryptStream({ keys: raw })),
        ).arrayBuffer();
        const streamOk = same(new Uint8Array(back), pt);

        let wrongContext = "";
        try {
          await env.decrypt(bytesSealed, { keys: local, context: { made: "elsewhere" } });
        } catch (e) {
          wrongContext = (e as { code: string }).code;
        }
        const info = await env.inspect(bytesSealed);
        return {
          bytesOk,
          streamOk,
          wrongContext,
          keyId: local.keyId,
          provider: info.keys[0].provider,
          bytesSealed: toB64(bytesSealed),
          streamed: toB64(new Uint8Array(streamed)),
        };
      }, { kekB64: encodeBase64(kek), dkB64: encodeBase64(dataKey), ptB64: encodeBase64(plaintext) });
      assert.equal(out.bytesOk, true, "encrypt/decrypt in the page did not round-trip");
      assert.equal(out.streamOk, true, "encryptStream/decryptStream in the page did not round-trip");
      assert.equal(out.wrongContext, "CONTEXT_MISMATCH");
      assert.equal(out.provider, "local");

      // Messages sealed in Chromium open in Deno.
      const local = await LocalKey.fromBytes(kek);
      assert.equal(local.keyId, out.keyId);
      assert.deepEqual(
        await decrypt(decodeBase64(out.bytesSealed), { keys: local, context: { made: "in-chromium" } }),
        plaintext,
      );
      const raw = await RawDataKey.create(dataKey);
      assert.deepEqual(await decrypt(decodeBase64(out.streamed), { keys: raw }), plaintext);
      raw.dispose();
      assert.deepEqual(problems, []);
    });
  } finally {
    await server.close();
  }
});
