/**
 * Heap (plus external) bytes retained per entry by what an archive keeps for
 * every entry until it ends: the writer's central directory and the reader's
 * checked directory. Run by tests/archive_directory_test.ts in a subprocess with
 * `--v8-flags=--expose-gc`: `deno run -A --v8-flags=--expose-gc
 * tests/support/archive_retained.ts N`. Prints one JSON line:
 * `{ writer, reader }`, bytes per entry.
 */
import { open, rm, writeFile } from "node:fs/promises";
import { readDirectory, Reader } from "../../src/archive/zip_reader.ts";
import { CentralDirectory, type EntryRecord, localHeader } from "../../src/archive/zip_records.ts";
import { concat } from "../../src/format/bytes.ts";

const n = Number(Deno.args[0]);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const utf8 = new TextEncoder();
const record = (i: number, offset: number): EntryRecord => ({
  nameBytes: utf8.encode(`module${i % 50}/sub/file${i}.txt`),
  method: 0,
  flag: 0,
  crc: 0,
  csize: 0,
  usize: 0,
  attrs: (0o100644 << 16) >>> 0,
  mtime: 1_700_000_000,
  offset,
});

/** Heap plus external bytes in use after full collections (external buffers go on a later turn). */
async function used(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 5));
  }
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

// The writer: n empty stored entries. Their local headers are made first (for the archive file below) and are
// not measured; the records are made again, as a stream makes them, and only the directory keeps anything.
const locals: Uint8Array[] = [];
let offset = 0;
for (let i = 0; i < n; i++) {
  const head = localHeader(record(i, offset));
  locals.push(head);
  offset += head.length;
}
const before = await used();
const central = new CentralDirectory();
for (let i = 0, at = 0; i < n; i++) {
  central.add(record(i, at));
  at += locals[i].length;
}
const writer = (await used() - before) / n;

// The reader: the same archive, written to a file and its directory read back.
const path = await Deno.makeTempFile({ prefix: "envelope-retained-", suffix: ".zip" });
const end = new Uint8Array(22);
const v = new DataView(end.buffer);
v.setUint32(0, 0x06054b50, true);
v.setUint16(8, n, true);
v.setUint16(10, n, true);
v.setUint32(12, central.size, true);
v.setUint32(16, offset, true);
await writeFile(path, concat([...locals, ...central.parts(), end]));
locals.length = 0;
const fh = await open(path, "r");
try {
  const reader = new Reader(fh, (await fh.stat()).size);
  await reader.at(0, 1); // the window's buffer, allocated before measuring
  const start = await used();
  const directory = await readDirectory(reader, n);
  const readerBytes = (await used() - start) / n;
  if (
    directory.entries.length !== n || directory.entries[n - 1].name !== `module${(n - 1) % 50}/sub/file${n - 1}.txt`
  ) {
    throw new Error("the directory read back is not the one written");
  }
  console.log(JSON.stringify({ writer: Math.round(writer), reader: Math.round(readerBytes), count: central.count }));
} finally {
  await fh.close();
  await rm(path);
}
