/**
 * ZIP64 in the archives `encrypt -d` writes (src/archive/zip_records.ts, zip.ts, zip_entry_data.ts): more than
 * 65,535 entries take the ZIP64 end records, and a file over 4 GiB takes ZIP64 in its local header, its 8-byte data
 * descriptor and its central header. Python's zipfile is the independent reader, our reader the second.
 */
import assert from "node:assert/strict";
import { open, truncate, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { zipDirectory } from "../src/archive/zip.ts";
import { readDirectory, Reader } from "../src/archive/zip_reader.ts";
import { CentralDirectory, crc32, endRecord, type EntryRecord, localHeader } from "../src/archive/zip_records.ts";
import { python, utf8, withTemp } from "./support/archive_helpers.ts";

async function directoryOf(path: string) {
  const fh = await open(path, "r");
  try {
    return await readDirectory(new Reader(fh, (await fh.stat()).size), 200_000);
  } finally {
    await fh.close();
  }
}

Deno.test("70,000 entries: the ZIP64 end record and locator, read back by Python's zipfile and by ours", async () => {
  await withTemp(async (t) => {
    const n = 70_000;
    const parts: Uint8Array[] = [];
    const central = new CentralDirectory();
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const data = utf8.encode(String(i));
      const record: EntryRecord = {
        nameBytes: utf8.encode(`d${i % 100}/f${i}.txt`),
        method: 0,
        flag: 0,
        crc: crc32(0, data),
        csize: data.length,
        usize: data.length,
        attrs: (0o100644 << 16) >>> 0,
        mtime: 1_700_000_000,
        offset,
      };
      const head = localHeader(record);
      parts.push(head, data);
      offset += head.length + data.length;
      central.add(record);
    }
    const end = endRecord(central.count, central.size, offset);
    assert.equal(end.length, 56 + 20 + 22, "the ZIP64 end record and locator come before the plain one");
    const path = join(t, "many.zip");
    await writeFile(path, concat([...parts, ...central.parts(), end]));

    const py = JSON.parse(
      await python(
        `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
print(json.dumps({"count": len(names), "last": names[-1], "data": z.read(names[-1]).decode(), "bad": z.testzip()}))`,
        path,
      ),
    );
    assert.deepEqual(py, { count: n, last: `d${(n - 1) % 100}/f${n - 1}.txt`, data: String(n - 1), bad: null });
    const ours = await directoryOf(path);
    assert.equal(ours.entries.length, n);
    assert.equal(ours.entries[n - 1].name, `d${(n - 1) % 100}/f${n - 1}.txt`);

    // At the limit nothing changes: 65,535 entries keep the plain record alone, as zipfile writes them.
    assert.equal(endRecord(65_535, 100, 200).length, 22);
  });
});

Deno.test("a file over 4 GiB is zipped with ZIP64 fields, which Python's zipfile reads", async () => {
  await withTemp(async (t) => {
    const size = 4_300_000_000; // over 2^32: the 32-bit fields cannot hold it
    const tree = join(t, "tree");
    await mkdir(tree);
    await writeFile(join(tree, "big.bin"), new Uint8Array(0));
    await truncate(join(tree, "big.bin"), size); // sparse: no disk blocks
    await writeFile(join(tree, "small.txt"), "after the big one\n");
    const path = join(t, "big.zip");
    await zipDirectory(tree, { level: 3 }).pipeTo(Writable.toWeb(createWriteStream(path)));

    const py = JSON.parse(
      await python(
        `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
big = z.getinfo("big.bin")
head = z.open("big.bin").read(1 << 20)
print(json.dumps({"size": big.file_size, "csize": big.compress_size, "version": big.extract_version,
  "head": len(head), "zeros": head.count(0), "small": z.read("small.txt").decode()}))`,
        path,
      ),
    );
    assert.equal(py.size, size);
    assert.equal(py.version, 45);
    assert.equal(py.head, 1 << 20);
    assert.equal(py.zeros, 1 << 20);
    assert.equal(py.small, "after the big one\n");

    const ours = await directoryOf(path);
    const big = ours.entries.find((e) => e.name === "big.bin")!;
    assert.equal(big.usize, size);
    assert.equal(big.csize, py.csize);
    // The local header says ZIP64 (version 4.5, sizes 0xFFFFFFFF) and the data descriptor after the data has 8-byte
    // sizes: signature, CRC, compressed size, size.
    const fh = await open(path, "r");
    try {
      const head = new Uint8Array(30);
      await fh.read(head, 0, 30, big.offset);
      const v = new DataView(head.buffer);
      assert.equal(v.getUint16(4, true), 45);
      assert.equal(v.getUint32(18, true), 0xffffffff);
      assert.equal(v.getUint32(22, true), 0xffffffff);
      const dataStart = big.offset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
      const desc = new Uint8Array(24);
      await fh.read(desc, 0, 24, dataStart + big.csize);
      const d = new DataView(desc.buffer);
      assert.equal(d.getUint32(0, true), 0x08074b50);
      assert.equal(d.getUint32(4, true), big.crc);
      assert.equal(Number(d.getBigUint64(8, true)), big.csize);
      assert.equal(Number(d.getBigUint64(16, true)), size);
    } finally {
      await fh.close();
    }
  });
});

/** The arrays one after another, in one. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}
