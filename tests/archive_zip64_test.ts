/**
 * ZIP64 in the archives `encrypt -d` writes (src/archive/zip_records.ts, zip.ts, zip_entry_data.ts): more than
 * 65,535 entries take the ZIP64 end records; a file over 4 GiB takes ZIP64 in its local header, its 8-byte data
 * descriptor and its central header, and an entry that starts past 4 GiB takes it for its offset. Python's zipfile is the independent reader, our reader the second.
 */
import assert from "node:assert/strict";
import { open, truncate, writeFile } from "node:fs/promises";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { zipDirectory } from "../src/archive/zip.ts";
import { readDirectory, Reader } from "../src/archive/zip_reader.ts";
import { CentralDirectory, crc32, endRecord, type EntryRecord, localHeader } from "../src/archive/zip_records.ts";
import { python, utf8, withTemp } from "./support/archive_helpers.ts";
import { concat } from "../src/format/bytes.ts";

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

Deno.test("a file over 4 GiB, and an entry after it at an offset over 4 GiB, take ZIP64 fields that Python's zipfile reads", async () => {
  await withTemp(async (t) => {
    const size = 4_300_000_000; // over 2^32: the 32-bit fields cannot hold it
    const tree = join(t, "tree");
    await mkdir(tree);
    await writeFile(join(tree, "a-huge.bin"), new Uint8Array(0));
    await truncate(join(tree, "a-huge.bin"), size); // sparse: no disk blocks
    await writeFile(join(tree, "b-small.txt"), "after the big one\n");
    const path = join(t, "big.zip");
    // Level 0 deflates with stored blocks, so the archive is as large as the file and the entry after it starts past
    // 4 GiB; only the pages that hold a non-zero byte are written, so the archive stays sparse too (about 0.5 GB).
    await zipDirectory(tree, { level: 0 }).pipeTo(await sparseFile(path));

    const py = JSON.parse(
      await python(
        `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
big, small = z.getinfo("a-huge.bin"), z.getinfo("b-small.txt")
head = z.open("a-huge.bin").read(1 << 20)
print(json.dumps({"size": big.file_size, "csize": big.compress_size, "version": big.extract_version,
  "head": len(head), "zeros": head.count(0), "offset": small.header_offset, "small": z.read("b-small.txt").decode()}))`,
        path,
      ),
    );
    assert.equal(py.size, size);
    assert.equal(py.version, 45);
    assert.equal(py.head, 1 << 20);
    assert.equal(py.zeros, 1 << 20);
    assert.ok(py.offset > 2 ** 32, `the second entry starts at ${py.offset}`);
    assert.equal(py.small, "after the big one\n");

    const ours = await directoryOf(path);
    const big = ours.entries.find((e) => e.name === "a-huge.bin")!;
    assert.equal(big.usize, size);
    assert.equal(big.csize, py.csize);
    assert.equal(ours.entries.find((e) => e.name === "b-small.txt")!.offset, py.offset);
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

/** A sink that writes only the 4 KiB pages holding a non-zero byte, and sets the file's length at the end. */
async function sparseFile(path: string): Promise<WritableStream<Uint8Array>> {
  const PAGE = 4096;
  const fh = await open(path, "w");
  let pos = 0;
  return new WritableStream({
    async write(chunk) {
      for (let i = 0; i < chunk.length;) {
        const end = Math.min(chunk.length, i + PAGE - ((pos + i) % PAGE));
        let k = i;
        while (k < end && chunk[k] === 0) k++;
        if (k < end) await fh.write(chunk, i, end - i, pos + i);
        i = end;
      }
      pos += chunk.length;
    },
    async close() {
      await fh.truncate(pos);
      await fh.close();
    },
    async abort() {
      await fh.close();
    },
  });
}
