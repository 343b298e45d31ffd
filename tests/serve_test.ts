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

Deno.test("serve: another Host (a rebound name) gets 421, and a link out of the files folder is not followed", async () => {
  const tmp = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(join(tmp, "token"), "secret-token\n");
  await Deno.writeTextFile(join(outside, "local.key"), "ENVELOPE-LOCAL-KEY-V1:not-really\n");
  await Deno.symlink(join(outside, "local.key"), join(tmp, "link.key"));
  const server = await startServer({ webDir: await builtWeb(), filesDir: tmp });
  try {
    const port = new URL(server.origin).port;
    // A raw request with the Host a page on attacker.example would send after rebinding its name to 127.0.0.1.
    const ask = async (host: string, path: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      let text = "";
      const buf = new Uint8Array(4096);
      for (let n; (n = await conn.read(buf)) !== null;) text += new TextDecoder().decode(buf.subarray(0, n));
      conn.close();
      return text;
    };
    const rebound = await ask(`attacker.example:${port}`, "/files/token");
    assert.match(rebound, /^HTTP\/1\.1 421 /);
    assert.ok(!rebound.includes("secret-token"));
    assert.match(await ask(`127.0.0.1:${port}`, "/files/token"), /^HTTP\/1\.1 200 [\s\S]*secret-token/);
    assert.match(await ask(`localhost:${port}`, "/files/token"), /^HTTP\/1\.1 200 /);
    const link = await ask(`127.0.0.1:${port}`, "/files/link.key");
    assert.match(link, /^HTTP\/1\.1 404 /);
    assert.ok(!link.includes("ENVELOPE-LOCAL-KEY"));
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
