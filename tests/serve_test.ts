/**
 * The static server the page and the browser tests use (scripts/serve.ts): single byte
 * ranges, 416 past the end, the whole file otherwise, and nothing outside its folder.
 */
import assert from "node:assert/strict";
import { builtWeb, patternBytes } from "./support/web.ts";
import { join } from "node:path";
import { bytesFile, startServer } from "../scripts/serve.ts";

Deno.test("serve: single byte ranges, 416 past the end, whole file otherwise, nothing outside the folder", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-serve-" });
  const data = patternBytes(10_000, 3);
  await Deno.writeFile(join(tmp, "on-disk.bin"), data);
  await Deno.writeTextFile(join(tmp, ".hidden"), "no");
  const server = await startServer({ webDir: await builtWeb(), files: { "mem.bin": bytesFile(data) }, filesDir: tmp });
  try {
    const get = async (path: string, range?: string, method = "GET") => {
      const res = await fetch(`${server.origin}${path}`, { method, headers: range ? { range } : {} });
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, body, headers: res.headers };
    };
    for (const name of ["mem.bin", "on-disk.bin"]) {
      let r = await get(`/files/${name}`, "bytes=100-199");
      assert.equal(r.status, 206);
      assert.equal(r.headers.get("content-range"), "bytes 100-199/10000");
      assert.deepEqual(r.body, data.subarray(100, 200));
      r = await get(`/files/${name}`, "bytes=9990-");
      assert.deepEqual([r.status, r.body.length], [206, 10]);
      r = await get(`/files/${name}`, "bytes=-16");
      assert.deepEqual(r.body, data.subarray(10_000 - 16));
      r = await get(`/files/${name}`, "bytes=10000-");
      assert.equal(r.status, 416);
      assert.equal(r.headers.get("content-range"), "bytes */10000");
      r = await get(`/files/${name}`, "bytes=0-1,5-6"); // several ranges: the whole file
      assert.deepEqual([r.status, r.body.length], [200, 10_000]);
      r = await get(`/files/${name}`);
      assert.deepEqual(r.body, data);
      assert.equal(r.headers.get("accept-ranges"), "bytes");
      r = await get(`/files/${name}`, undefined, "HEAD");
      assert.deepEqual([r.status, r.headers.get("content-length"), r.body.length], [200, "10000", 0]);
    }
    for (
      const path of ["/files/../browser_test.ts", "/files/%2e%2e/etc/passwd", "/files/.hidden", "/files/", "/x.ts"]
    ) {
      assert.equal((await get(path)).status, 404, path);
    }
    assert.equal((await get("/files/mem.bin", undefined, "POST")).status, 405);
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self' 'wasm-unsafe-eval'/);
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
