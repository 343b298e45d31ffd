/**
 * A presigned GET URL from moto's S3 read in Chromium: `httpRangeSource` +
 * `openRandomAccess` for a ranged, authenticated read, and `fetch` +
 * `decryptStream` for a streamed one. The page is served from another
 * origin, so the bucket's CORS (set with PutBucketCors: `Range` allowed,
 * `Content-Range` exposed) is what lets the page read it; without it the
 * ranged read fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
// A test/bench-only package: inline, so it stays out of the runtime import map and deno.lock (deno.dev.lock has it).
// deno-lint-ignore no-import-prefix
import { getSignedUrl } from "npm:@aws-sdk/s3-request-presigner@3.1164.0";
import { buildWeb } from "../scripts/build_web.ts";
import { encrypt, RawDataKey } from "../mod.ts";
import { startMotoS3 } from "./support/moto_s3.ts";
import { withBrowser, within } from "./support/browser.ts";

type Env = typeof import("../src/browser.ts");

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + (i >>> 11)) & 255;
  return out;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Serves an empty page and the built bundle's .js files from `webDir` on 127.0.0.1. */
function servePage(webDir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1);
    if (name === "") {
      return new Response("<!doctype html><title>s3</title>", { headers: { "content-type": "text/html" } });
    }
    if (!/^[\w.-]+\.js$/.test(name)) return new Response("not found", { status: 404 });
    try {
      return new Response(await Deno.readFile(`${webDir}/${name}`), { headers: { "content-type": "text/javascript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("browser: a presigned URL decrypts in Chromium, ranged through httpRangeSource and streamed", async () => {
  const s3 = await startMotoS3();
  const webDir = await Deno.makeTempDir({ prefix: "envelope-web-s3-" });
  try {
    await buildWeb(webDir);
    // A bare page (the app's own page allows connections to itself only, by its CSP), on another port than moto.
    const server = servePage(webDir);
    try {
      const raw = crypto.getRandomValues(new Uint8Array(32));
      const plain = pattern(700_000);
      const sealed = await encrypt(plain, { keys: await RawDataKey.create(raw), chunkSize: 65536 });
      const client = s3.client();
      for (const [bucket, cors] of [["cors-bkt", true], ["plain-bkt", false]] as const) {
        await s3.createBucket(bucket, { cors });
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: "v.envl", Body: sealed }));
      }
      const url = (bucket: string) =>
        getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: "v.envl" }), { expiresIn: 600 });
      const withCors = await url("cors-bkt");
      const withoutCors = await url("plain-bkt");
      assert.match(withCors, /X-Amz-Signature=/);
      await withBrowser(async ({ page, problems }) => {
        await page.goto(`http://127.0.0.1:${server.addr.port}/`);
        const got = await within(
          60_000,
          "the page's reads",
          page.evaluate(async ({ withCors, withoutCors, raw }) => {
            const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
            const keys = await env.RawDataKey.create(new Uint8Array(raw));
            const reader = await env.openRandomAccess(await env.httpRangeSource(withCors), { keys });
            const part = await reader.read(300_000, 100_000);
            const size = reader.size;
            await reader.close();
            const res = await fetch(withCors);
            const all = new Uint8Array(
              await new Response(res.body!.pipeThrough(env.decryptStream({ keys }))).arrayBuffer(),
            );
            const digest = Array.from(
              new Uint8Array(await crypto.subtle.digest("SHA-256", all)),
              (b) => b.toString(16).padStart(2, "0"),
            ).join("");
            let refused = "";
            try {
              await env.openRandomAccess(await env.httpRangeSource(withoutCors), { keys });
            } catch (e) {
              refused = String((e as Error).name ?? e);
            }
            return { part: Array.from(part), size, digest, refused };
          }, { withCors, withoutCors, raw: Array.from(raw) }).catch((e) => {
            throw new Error(`${e.message}\n${problems.join("\n")}`);
          }),
        );
        assert.equal(got.size, plain.length, problems.join("\n"));
        assert.deepEqual(new Uint8Array(got.part), plain.slice(300_000, 400_000));
        assert.equal(got.digest, await sha256Hex(plain.slice()));
        assert.notEqual(got.refused, "", "without CORS the page cannot read the object");
      });
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(webDir, { recursive: true });
    await s3.close();
  }
});
