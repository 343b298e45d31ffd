/**
 * What an archive keeps for every entry until it ends (src/archive/zip_records.ts `CentralDirectory`, the reader's
 * checked directory in zip_reader.ts): the same bytes as before, and a bounded number of bytes per entry, so that a
 * folder of tens of thousands of files stays under the 160 MiB bar of `encrypt -d` and `decrypt -d`. Names are
 * compared with the bytes they came from, a leading U+FEFF included.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { extractZip } from "../src/archive/mod.ts";
import { CentralDirectory, centralHeader, type EntryRecord } from "../src/archive/zip_records.ts";
import { craftZip } from "./support/archive_craft.ts";
import { assertRejects, bytesStream, utf8, withTemp } from "./support/archive_helpers.ts";

function record(i: number, nameLength: number): EntryRecord {
  const name = `d${i % 7}/` + "n".repeat(nameLength) + `${i}.txt`;
  return {
    nameBytes: utf8.encode(name),
    method: i % 2 === 0 ? 0 : 8,
    flag: 0,
    crc: (i * 2654435761) >>> 0,
    csize: i * 3,
    usize: i * 5,
    attrs: (0o100644 << 16) >>> 0,
    mtime: i % 3 === 0 ? undefined : 1_700_000_000 + i,
    offset: i * 100,
  };
}

Deno.test("the central directory is each entry's header in order, across block boundaries", () => {
  // Names of varied length, some longer than a block, so headers end exactly at, before and past 64 KiB.
  for (const lengths of [[10, 200, 3000], [65_000], [1]]) {
    const records = Array.from({ length: 700 }, (_, i) => record(i, lengths[i % lengths.length]));
    const central = new CentralDirectory();
    for (const r of records) central.add(r);
    const expected = records.map(centralHeader);
    const size = expected.reduce((n, b) => n + b.length, 0);
    const got = central.parts();
    assert.equal(central.count, records.length);
    assert.equal(central.size, size);
    assert.equal(got.reduce((n, b) => n + b.length, 0), size);
    const joined = new Uint8Array(size);
    let o = 0;
    for (const b of got) joined.set(b, o), o += b.length;
    const want = new Uint8Array(size);
    o = 0;
    for (const b of expected) want.set(b, o), o += b.length;
    assert.deepEqual(joined, want);
  }
  assert.deepEqual(new CentralDirectory().parts(), []);
});

Deno.test("the writer's directory and the reader's entries keep a bounded number of bytes per entry", async () => {
  // Measured by hand on 30,000 entries: records kept until the end cost 347 bytes each, entries with their names'
  // bytes 384; the headers written at once cost 82, entries without the bytes 164.
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./support/archive_retained.ts", import.meta.url).pathname,
      "30000",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(child.stderr);
  assert.equal(child.code, 0, err);
  const got = JSON.parse(new TextDecoder().decode(child.stdout));
  assert.equal(got.count, 30_000);
  assert.ok(got.writer > 0 && got.writer < 150, `the writer keeps ${got.writer} bytes per entry (bound 150)`);
  assert.ok(got.reader > 0 && got.reader < 250, `the reader keeps ${got.reader} bytes per entry (bound 250)`);
});

Deno.test("a name that starts with U+FEFF is extracted with it, and its local name must still match byte for byte", async () => {
  await withTemp(async (t) => {
    const name = "\uFEFFnotes.txt";
    await extractZip(bytesStream(craftZip([{ name, data: utf8.encode("hi") }])), join(t, "out"));
    assert.deepEqual(await readdir(join(t, "out")), [name]);

    // The same name in the central header, and the name without its U+FEFF in the local one.
    const zip = craftZip([{ name, data: utf8.encode("hi") }]);
    const bom = [0xef, 0xbb, 0xbf];
    const at = zip.findIndex((_, i) => bom.every((b, k) => zip[i + k] === b));
    assert.ok(at > 0 && at < 40, "the local header's name is first");
    zip.set(utf8.encode("abc"), at); // the local name is now "abcnotes.txt", as long as the central one
    const err = await assertRejects(extractZip(bytesStream(zip), join(t, "bad")), "ARCHIVE_INVALID");
    assert.match(err.message, /local and central names/);
  });
});
