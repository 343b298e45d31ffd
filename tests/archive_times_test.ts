/**
 * Modification times (src/archive/zip_records.ts, zip.ts, unzip.ts): with `times`, each entry carries its time as a
 * DOS time and in an extended-timestamp field (0x5455), and extraction restores files' and listed folders' times;
 * without it, every entry is dated 1980-01-01 and the archive's bytes do not depend on the times.
 */
import assert from "node:assert/strict";
import { mkdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractZip, zipDirectory } from "../src/archive/mod.ts";
import { extraMtime } from "../src/archive/zip_records.ts";
import { collect, pyInfo, python, withTemp } from "./support/archive_helpers.ts";

const T1 = Date.UTC(2001, 1, 3, 4, 5, 7) / 1000; // odd seconds: DOS times keep 2-second steps, the extra field all
const T2 = Date.UTC(2019, 6, 30, 23, 59, 58) / 1000;
const T3 = Date.UTC(2024, 0, 1, 12, 0, 1) / 1000;

async function timedTree(t: string): Promise<string> {
  const src = join(t, "src");
  await mkdir(join(src, "a", "b"), { recursive: true });
  await writeFile(join(src, "a", "b", "one.txt"), "one");
  await writeFile(join(src, "big.bin"), new Uint8Array(3 * 1024 * 1024).fill(7)); // read in pieces
  await utimes(join(src, "a", "b", "one.txt"), T1, T1);
  await utimes(join(src, "big.bin"), T2, T2);
  await utimes(join(src, "a", "b"), T3, T3);
  await utimes(join(src, "a"), T2, T2);
  return src;
}

Deno.test("times: kept in the archive (DOS time and 0x5455) and restored on extraction, files and listed folders", async () => {
  await withTemp(async (t) => {
    const src = await timedTree(t);
    const zipPath = join(t, "timed.zip");
    const bytes = await collect(zipDirectory(src, { layout: "make_archive", times: true }));
    await writeFile(zipPath, bytes);
    // Python reads the DOS time, in local time at 2-second resolution.
    const local = (s: number) => {
      const d = new Date(s * 1000);
      return [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds() & ~1];
    };
    const byName = Object.fromEntries((await pyInfo(zipPath)).map((e) => [e.name, e.time]));
    assert.deepEqual(byName["a/b/one.txt"], local(T1));
    assert.deepEqual(byName["big.bin"], local(T2));
    assert.deepEqual(byName["a/b/"], local(T3));
    // The extra field, as Python's zipfile sees it.
    const extras = JSON.parse(
      await python(
        "import json,sys,zipfile\nprint(json.dumps({i.filename: i.extra.hex() for i in zipfile.ZipFile(sys.argv[1]).infolist()}))",
        zipPath,
      ),
    );
    const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
    assert.equal(extraMtime(hex(extras["a/b/one.txt"])), T1);
    assert.equal(extraMtime(hex(extras["big.bin"])), T2);

    const out = join(t, "out");
    await extractZip(zipPath, out);
    const mtime = async (p: string) => Math.round((await stat(join(out, p))).mtimeMs / 1000);
    assert.equal(await mtime("a/b/one.txt"), T1);
    assert.equal(await mtime("big.bin"), T2);
    assert.equal(await mtime("a/b"), T3);
    assert.equal(await mtime("a"), T2);
    // times: false leaves the time of extraction.
    const now = Date.now() / 1000;
    await extractZip(zipPath, join(t, "untimed"), { times: false });
    assert.ok((await stat(join(t, "untimed", "a", "b", "one.txt"))).mtimeMs / 1000 >= now - 5);
  });
});

Deno.test("times: without the option every entry is dated 1980-01-01 with no extra field", async () => {
  await withTemp(async (t) => {
    const src = await timedTree(t);
    const zipPath = join(t, "plain.zip");
    await writeFile(zipPath, await collect(zipDirectory(src, { layout: "make_archive" })));
    for (const e of await pyInfo(zipPath)) assert.deepEqual(e.time, [1980, 1, 1, 0, 0, 0], e.name);
    const now = Date.now() / 1000;
    await extractZip(zipPath, join(t, "out"));
    assert.ok((await stat(join(t, "out", "big.bin"))).mtimeMs / 1000 >= now - 5, "no time to restore");
  });
});
