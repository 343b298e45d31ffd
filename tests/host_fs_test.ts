/**
 * src/host/fs.ts under Deno: Node's shapes over Deno's calls (the CLI's
 * callers rely on them), and the open that never waits for a FIFO's writer,
 * which guards the key file against a FIFO swapped in after its check.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as host from "../src/host/fs.ts";
import { mkfifo } from "./support/system.ts";

const HOST_FS = new URL("../src/host/fs.ts", import.meta.url).href;

Deno.test("host fs: a FIFO opened for reading with no writer, directly or through a link, is returned at once, and its stat says FIFO", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-host-fs-" });
  try {
    const fifo = join(dir, "swapped.key");
    await mkfifo(fifo);
    // Through a link too (a key path kept in dotfiles): the open follows it, and so must the look at the path.
    await Deno.symlink(fifo, join(dir, "linked.key"));
    // In a child, killed after 10 s: a plain open would wait for a writer forever.
    const script = `const h = await import(${JSON.stringify(HOST_FS)});
const out = [];
for (const p of ${JSON.stringify([fifo, join(dir, "linked.key")])}) {
  const fh = await h.openFileNoWait(p);
  out.push({ fifo: (await fh.stat()).isFIFO(), file: (await fh.stat()).isFile() });
  await fh.close();
}
console.log(JSON.stringify(out));`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, `the open waited or failed: ${new TextDecoder().decode(out.stderr)}`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [{ fifo: true, file: false }, {
      fifo: true,
      file: false,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("host fs: Node's shapes over Deno's calls (exclusive create, positioned reads, link refusal, folder entries)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-host-fs-" });
  try {
    const a = join(dir, "a");
    const fh = await host.open(a, "wx", 0o600);
    assert.equal((await fh.write(new TextEncoder().encode("hello world"), 6, 5)).bytesWritten, 5);
    await fh.sync();
    await fh.close();
    assert.equal(await Deno.readTextFile(a), "world");
    assert.equal((await Deno.stat(a)).mode! & 0o077, 0, "created 0600 at most");
    // An exclusive create of something that exists fails with EEXIST, as Node's "wx".
    assert.equal(await host.open(a, "wx").then(() => "", (e) => e.code), "EEXIST");
    // Positioned reads, forwards and backwards, and the end.
    const r = await host.open(a, "r");
    const buf = new Uint8Array(3);
    assert.equal((await r.read(buf, 0, 3, 2)).bytesRead, 3);
    assert.equal(new TextDecoder().decode(buf), "rld");
    assert.equal((await r.read(buf, 0, 2, 0)).bytesRead, 2);
    assert.equal(new TextDecoder().decode(buf.subarray(0, 2)), "wo");
    assert.equal((await r.read(buf, 0, 3, 5)).bytesRead, 0);
    const st = await r.stat();
    assert.ok(st.isFile() && !st.isDirectory() && !st.isFIFO() && st.size === 5);
    await r.close();
    // link refuses an existing name with EEXIST: what the CLI's no-replace placement relies on.
    await Deno.writeTextFile(join(dir, "b"), "b");
    assert.equal(await host.link(a, join(dir, "b")).then(() => "", (e) => e.code), "EEXIST");
    await Deno.symlink("a", join(dir, "l"));
    const entries = Object.fromEntries(
      (await host.readdir(dir)).map((e) => [e.name, [e.isFile(), e.isDirectory(), e.isSymbolicLink()]]),
    );
    assert.deepEqual(entries, { a: [true, false, false], b: [true, false, false], l: [false, false, true] });
    assert.ok((await host.lstat(join(dir, "l"))).isSymbolicLink());
    assert.ok((await host.stat(join(dir, "l"))).isFile());
    assert.equal(await host.realpath(join(dir, "l")), await Deno.realPath(a));
    // mkdtemp: six letters or digits after the prefix, mode 0700.
    const made = await host.mkdtemp(join(dir, ".x.envelope-1-"));
    assert.match(made, /\.x\.envelope-1-[A-Za-z0-9]{6}$/);
    assert.equal((await Deno.stat(made)).mode! & 0o777, 0o700 & ~Deno.umask());
    await host.rm(join(dir, "missing"), { force: true });
    assert.equal(await host.rm(join(dir, "missing")).then(() => "", (e) => e.code), "ENOENT");
    assert.ok(host.existsSync(a) && !host.existsSync(join(dir, "missing")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("host fs: positioned reads in flight together each get their own bytes (Deno seeks, one call at a time)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-host-fs-" });
  try {
    const bytes = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    await Deno.writeFile(join(dir, "f"), bytes);
    const fh = await host.open(join(dir, "f"), "r");
    const offsets = [40_000, 0, 12_345, 65_000, 7, 30_000];
    const got = await Promise.all(offsets.map(async (o) => {
      const buf = new Uint8Array(500);
      const { bytesRead } = await fh.read(buf, 0, 500, o);
      return buf.subarray(0, bytesRead);
    }));
    offsets.forEach((o, i) => assert.deepEqual(got[i], bytes.subarray(o, o + 500), `read at ${o}`));
    await fh.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("host fs: the synchronous read and write of a Deno handle keep its position, and stand aside while a call is in flight", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-host-fs-sync-" });
  try {
    const path = join(dir, "f");
    const w = await host.open(path, "wx", 0o600);
    assert.equal(w.writeSync?.(new TextEncoder().encode("abcdef"), 1, 3), 3, "bcd");
    const pending = w.write(new TextEncoder().encode("XY"), 0, 2);
    assert.equal(w.writeSync?.(new Uint8Array(1), 0, 1), undefined, "busy: the caller writes asynchronously");
    await pending;
    assert.equal(w.writeSync?.(new TextEncoder().encode("z"), 0, 1), 1);
    await w.close();
    assert.equal(await Deno.readTextFile(path), "bcdXYz");
    const r = await host.open(path, "r");
    const buf = new Uint8Array(3);
    assert.equal(r.readSync?.(buf, 0, 3, 2), 3);
    assert.equal(new TextDecoder().decode(buf), "dXY");
    const { bytesRead } = await r.read(buf, 0, 3, null);
    assert.equal(new TextDecoder().decode(buf.subarray(0, bytesRead)), "z", "the next read goes on from there");
    assert.equal(r.readSync?.(buf, 0, 3, 6), 0, "the end of the file");
    await r.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
