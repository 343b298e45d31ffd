/**
 * The zip reader's window (src/archive/zip_reader.ts `Reader`): one buffer read into again on every miss, views that
 * hold until the next read, overlapping reads refused, and extraction that takes what it needs from a view before
 * its next read (a local header whose name runs past the window).
 */
import assert from "node:assert/strict";
import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractZip } from "../src/archive/mod.ts";
import { Reader } from "../src/archive/zip_reader.ts";
import { craftZip } from "./support/archive_craft.ts";
import { noise, withTemp } from "./support/archive_helpers.ts";

const MiB = 1024 * 1024;

/** Runs `fn` with a reader over a file of `bytes`. */
async function withReader(bytes: Uint8Array, fn: (r: Reader) => Promise<void>): Promise<void> {
  await withTemp(async (t) => {
    await writeFile(join(t, "data"), bytes);
    const fh = await open(join(t, "data"), "r");
    try {
      await fn(new Reader(fh, bytes.length));
    } finally {
      await fh.close();
    }
  });
}

Deno.test("reader: every miss reads into the same buffer, and a view holds until the next read", async () => {
  const bytes = noise(3 * MiB, 1);
  await withReader(bytes, async (r) => {
    const first = await r.at(10, 100);
    assert.deepEqual(first, bytes.subarray(10, 110));
    // A hit is a view of the same window.
    assert.equal((await r.at(5000, 10)).buffer, first.buffer);
    const second = await r.at(2 * MiB, 100);
    assert.deepEqual(second, bytes.subarray(2 * MiB, 2 * MiB + 100));
    assert.equal(second.buffer, first.buffer, "a miss reads into the window's buffer, not a new one");
    // The tail, shorter than the window, reads into it too.
    assert.deepEqual(await r.at(bytes.length - 3, 3), bytes.subarray(bytes.length - 3));
  });
});

Deno.test("reader: a read while another fills the window is refused, not raced", async () => {
  const bytes = noise(3 * MiB, 2);
  await withReader(bytes, async (r) => {
    const a = r.at(0, 10);
    await assert.rejects(r.at(2 * MiB, 10), /must not overlap/);
    assert.deepEqual(await a, bytes.subarray(0, 10));
    // Once the read completed, the next one goes ahead.
    assert.deepEqual(await r.at(2 * MiB, 10), bytes.subarray(2 * MiB, 2 * MiB + 10));
  });
});

Deno.test("extraction reads a local header's fields before its name, which may replace the window", async () => {
  await withTemp(async (t) => {
    // The window is read at the first local header, offset 0. The second header's 30 bytes end 5 bytes before the
    // window does, and its name runs past it: reading the name reads the next MiB (the second entry's random bytes)
    // over the buffer the header's view points into, so a field read from that view afterwards is garbage.
    const name = "second.bin";
    const headerAt = MiB - 35;
    const first = noise(headerAt - 30 - 1, 3);
    const second = noise(2 * MiB, 4);
    const zip = craftZip([
      { name: "a", data: first, method: 0 },
      { name, data: second, method: 0 },
      { name: "third.bin", data: noise(1000, 5), method: 8 },
    ]);
    assert.equal(zip[headerAt], 0x50, "the second local header starts where the test wants it");
    await writeFile(join(t, "edge.zip"), zip);
    assert.deepEqual(await extractZip(join(t, "edge.zip"), join(t, "out")), {
      entries: 3,
      bytes: first.length + second.length + 1000,
    });
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out", name))), second);
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out", "a"))), first);
  });
});
