/**
 * Extracting (src/archive/unzip.ts, zip_reader.ts, zip_inflate.ts): CRC, bounds on bombs and entry counts,
 * truncated, trailing, corrupt and malformed archives, ZIP64, failing sources, memory on a large entry and on many
 * small ones.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_MAX_TOTAL_BYTES, extractZip, zipDirectory, zipSingleFile } from "../src/archive/mod.ts";
import { crc32 } from "../src/archive/unzip.ts";
import { EnvelopeError, isEnvelopeError } from "../src/errors.ts";
import { deflateSync } from "fflate";
import { craftZip, deflatedZeros } from "./support/archive_craft.ts";
import {
  assertRejects,
  bytesStream,
  collect,
  makeTree,
  noise,
  pyInfo,
  python,
  utf8,
  withTemp,
} from "./support/archive_helpers.ts";

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(0, utf8.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(crc32(0, utf8.encode("1234")), utf8.encode("56789")), 0xcbf43926);
  assert.equal(crc32(0, new Uint8Array(0)), 0);
});

Deno.test("a zip bomb stops at maxTotalBytes with ARCHIVE_TOO_LARGE and leaves nothing", async () => {
  await withTemp(async (t) => {
    const size = 200 * 1024 * 1024;
    const payload = deflatedZeros(size);
    assert.ok(payload.length < 1024 * 1024);
    const crc = crc32(0, new Uint8Array(0)); // not the real CRC: the size check must fire first
    const max = 8 * 1024 * 1024;
    const cases: [string, Uint8Array][] = [
      // Honest headers: refused from the declared sizes before anything is written.
      ["honest", craftZip([{ name: "zeros", payload, usize: size, crc }])],
      // Lying headers: the entry claims 4 MiB, and the inflater is stopped after 4 MiB.
      ["lying", craftZip([{ name: "zeros", payload, usize: 4 * 1024 * 1024, crc }])],
      // Claims 1 KiB each in many entries of the same bomb.
      ["many", craftZip(Array.from({ length: 5 }, (_, i) => ({ name: `z${i}`, payload, usize: 1024, crc })))],
    ];
    for (const [label, zip] of cases) {
      await writeFile(join(t, "bomb.zip"), zip);
      const err = await assertRejects(
        extractZip(join(t, "bomb.zip"), join(t, "out"), { maxTotalBytes: max }),
        "ARCHIVE_TOO_LARGE",
      );
      assert.ok(err.message.length > 0, label);
      await assertRejects(
        extractZip(bytesStream(zip, 65536), join(t, "out"), { maxTotalBytes: max }),
        "ARCHIVE_TOO_LARGE",
      );
      assert.deepEqual(await readdir(t), ["bomb.zip"], label);
    }
    // The default bound is 4 GiB.
    assert.equal(DEFAULT_MAX_TOTAL_BYTES, 4 * 1024 ** 3);
  });
});

Deno.test("entry count and spooled stream size are bounded", async () => {
  await withTemp(async (t) => {
    const zip = craftZip(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: utf8.encode(String(i)) })));
    await assertRejects(extractZip(bytesStream(zip), join(t, "out"), { maxEntries: 19 }), "ARCHIVE_TOO_LARGE");
    await assertRejects(extractZip(bytesStream(zip), join(t, "out"), { maxArchiveBytes: 100 }), "ARCHIVE_TOO_LARGE");
    assert.deepEqual(await readdir(t), []);
    assert.equal((await extractZip(bytesStream(zip), join(t, "out"), { maxEntries: 20 })).entries, 20);
  });
});

Deno.test("truncated archives are ARCHIVE_INVALID", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await makeTree(src);
    const zip = await collect(zipDirectory(src));
    for (const cut of [0, 10, 1000, Math.floor(zip.length / 2), zip.length - 30, zip.length - 1]) {
      await writeFile(join(t, "cut.zip"), zip.subarray(0, cut));
      await assertRejects(extractZip(join(t, "cut.zip"), join(t, "out")), "ARCHIVE_INVALID");
      await assertRejects(extractZip(bytesStream(zip.subarray(0, cut)), join(t, "out")), "ARCHIVE_INVALID");
    }
    // A deflate stream cut short inside an otherwise well-formed archive.
    const data = noise(100_000, 5);
    const payload = deflateSync(data).slice(0, 1000);
    await writeFile(join(t, "short.zip"), craftZip([{ name: "f", payload, usize: data.length, crc: crc32(0, data) }]));
    await assertRejects(extractZip(join(t, "short.zip"), join(t, "out")), "ARCHIVE_INVALID");
    await rm(join(t, "cut.zip"));
    await rm(join(t, "short.zip"));
    await rm(src, { recursive: true });
    assert.deepEqual(await readdir(t), []);
  });
});

Deno.test("bytes after the final deflate block are ignored, as Python's zipfile does", async () => {
  await withTemp(async (t) => {
    const data = noise(100_000, 7);
    const payload = new Uint8Array([...deflateSync(data), 0xde, 0xad, 0xbe, 0xef]);
    const zip = craftZip([{ name: "f", payload, usize: data.length, crc: crc32(0, data) }]);
    await writeFile(join(t, "tail.zip"), zip);
    await python(
      "import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
      join(t, "tail.zip"),
      join(t, "py"),
    );
    assert.deepEqual(new Uint8Array(await readFile(join(t, "py", "f"))), data);
    assert.deepEqual(await extractZip(join(t, "tail.zip"), join(t, "out")), { entries: 1, bytes: data.length });
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out", "f"))), data);
    // A stream that ends early is still refused, however many bytes follow it.
    const cut = new Uint8Array([...deflateSync(data).subarray(0, 2000)]);
    await writeFile(
      join(t, "cut.zip"),
      craftZip([{ name: "f", payload: cut, usize: data.length, crc: crc32(0, data) }]),
    );
    const err = await assertRejects(extractZip(join(t, "cut.zip"), join(t, "out2")), "ARCHIVE_INVALID");
    assert.match(err.message, /broken deflate data/);
  });
});

Deno.test("CRC mismatches and corrupt data are ARCHIVE_INVALID, and earlier entries are removed", async () => {
  await withTemp(async (t) => {
    const data = utf8.encode("hello world, hello world, hello world");
    const badCrc = craftZip([
      { name: "first.txt", data: utf8.encode("fine") },
      { name: "sub/second.txt", data, crc: crc32(0, data) ^ 1 },
    ]);
    await writeFile(join(t, "bad.zip"), badCrc);
    const err = await assertRejects(extractZip(join(t, "bad.zip"), join(t, "out")), "ARCHIVE_INVALID");
    assert.match(err.message, /CRC/);
    const stored = craftZip([{ name: "s", method: 0, data, crc: 0x12345678 }]);
    await writeFile(join(t, "bad.zip"), stored);
    await assertRejects(extractZip(join(t, "bad.zip"), join(t, "out")), "ARCHIVE_INVALID");
    // Flip each byte of a small real archive's compressed data: always refused, never a silent wrong file.
    await writeFile(join(t, "f.txt"), noise(5000, 11));
    const good = await collect(zipSingleFile(join(t, "f.txt"), "f.txt"));
    const dataStart = 30 + "f.txt".length;
    for (let i = dataStart; i < dataStart + 40; i++) {
      const bad = good.slice();
      bad[i] ^= 0x55;
      // Corrupt deflate data may also inflate past the declared size, which stops it as too large.
      await extractZip(bytesStream(bad), join(t, "out")).then(
        () => assert.fail(`flipping byte ${i} went unnoticed`),
        (err) =>
          assert.ok(isEnvelopeError(err, "ARCHIVE_INVALID") || isEnvelopeError(err, "ARCHIVE_TOO_LARGE"), String(err)),
      );
    }
    assert.deepEqual((await readdir(t)).sort(), ["bad.zip", "f.txt"]);
  });
});

Deno.test("malformed entries: encrypted, unknown method, duplicates, file/folder clash, non-UTF-8 name", async () => {
  await withTemp(async (t) => {
    const x = utf8.encode("x");
    const cases: Parameters<typeof craftZip>[0][] = [
      [{ name: "enc", data: x, flags: 0x801 }],
      [{ name: "bz", data: x, method: 12, payload: x }],
      [{ name: "dup", data: x }, { name: "dup", data: x }],
      [{ name: "a", data: x }, { name: "a/b", data: x }],
      [{ name: "a/b", data: x }, { name: "a", data: x }],
      [{ name: new Uint8Array([0x66, 0xff, 0xfe]), data: x, flags: 0 }],
    ];
    for (const entries of cases) {
      await assertRejects(extractZip(bytesStream(craftZip(entries)), join(t, "out")), "ARCHIVE_INVALID");
    }
    assert.deepEqual(await readdir(t), []);
  });
});

Deno.test("ZIP64 records are read", async () => {
  await withTemp(async (t) => {
    const data = noise(70_000, 9);
    const zip = craftZip([{ name: "a.bin", data, zip64: true }, { name: "b/c.txt", data: utf8.encode("c") }], {
      zip64End: true,
    });
    assert.deepEqual(await extractZip(bytesStream(zip), join(t, "out")), { entries: 2, bytes: data.length + 1 });
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out", "a.bin"))), data);
    // Python agrees the crafted archive is valid.
    await writeFile(join(t, "z64.zip"), zip);
    assert.deepEqual((await pyInfo(join(t, "z64.zip"))).map((e) => e.name), ["a.bin", "b/c.txt"]);
  });
});

Deno.test("a failing source stream is reported and leaves nothing", async () => {
  await withTemp(async (t) => {
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ < 3) c.enqueue(new Uint8Array(100));
        else c.error(new EnvelopeError("PAYLOAD_AUTH_FAILED", "Decrypting chunk 3 failed"));
      },
    });
    await assertRejects(extractZip(failing, join(t, "out")), "PAYLOAD_AUTH_FAILED");
    assert.deepEqual(await readdir(t), []);
  });
});

/** Runs tests/support/archive_extract_peak.ts with `args` in its own process; what it printed. */
async function peakRun(...args: string[]) {
  const script = new URL("./support/archive_extract_peak.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("extracting a 192 MiB entry of random bytes keeps memory flat", async () => {
  // Random bytes deflate to stored blocks. fflate's streaming inflater, fed 4 KiB pieces, allocated over
  // 100 KiB of short-lived buffers per piece, and extracting raised RSS by 78-213 MB here (131-265 MB
  // peaks); through node:zlib it rises 16-26 MB (71-77 MB peaks, also with four runs at once).
  // Level 0 makes a stored-block deflate entry like the default level's, in a fifth of the time.
  await withTemp(async (t) => {
    const size = 192 * 1024 * 1024;
    const run = peakRun;
    const made = await run("make", t, String(size), "0");
    assert.ok(made.zipped > size, `random bytes do not compress (${made.zipped} bytes)`);
    const result = await run("extract", t);
    assert.deepEqual(result.summary, { entries: 1, bytes: size });
    assert.equal((await lstat(join(t, "out", "random.bin"))).size, size);
    const MiB = 1024 * 1024;
    const rise = result.peak - result.before;
    assert.ok(rise < 48 * MiB, `extracting raised RSS by ${(rise / MiB).toFixed(0)} MiB, over 48 MiB`);
    assert.ok(result.peak < 120 * MiB, `peak RSS ${(result.peak / MiB).toFixed(0)} MiB is over 120 MiB`);
  });
});

Deno.test("extracting 6,000 small files keeps memory flat, with nothing asking V8 to collect", async () => {
  // A zlib stream and its buffers per small file (inflateRawSync), and a fresh 1 MiB read window per MiB of the
  // archive, were dead at once but collected only when V8 got to them: extracting this tree raised RSS by 73-83 MiB
  // (a 10,000-file, 200 MiB tree: 105-106). With one reused handle, output buffer and window it rises 29-31 MiB
  // (34-35 for the 10,000 files).
  await withTemp(async (t) => {
    const files = 6_000;
    const made = await peakRun("tree", t, String(files), String(files * 8 * 1024));
    assert.ok(made.zipped > 0);
    const result = await peakRun("extract", t);
    assert.equal(result.summary.bytes, files * 8 * 1024);
    const MiB = 1024 * 1024;
    const rise = result.peak - result.before;
    assert.ok(rise < 56 * MiB, `extracting raised RSS by ${(rise / MiB).toFixed(0)} MiB, over 56 MiB`);
  });
});

Deno.test("onBytes is told of every byte written: whole, streamed deflated and streamed stored entries", async () => {
  // A stored entry over 1 MiB (random bytes) is copied piece by piece and was not reported at all, so progress and
  // the CLI's memory pacing missed it.
  await withTemp(async (t) => {
    await mkdir(join(t, "src"));
    const random = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
    await writeFile(join(t, "src", "random.bin"), random); // stored (it does not compress), streamed
    await writeFile(join(t, "src", "text.txt"), "line of text\n".repeat(200_000)); // deflated, streamed
    await writeFile(join(t, "src", "small.txt"), "small\n"); // whole
    let told = 0;
    const zip = join(t, "src.zip");
    await writeFile(zip, await collect(zipDirectory(join(t, "src"))));
    const methods = JSON.parse(
      await python(
        "import json,sys,zipfile; print(json.dumps({i.filename: i.compress_type for i in zipfile.ZipFile(sys.argv[1]).infolist()}))",
        zip,
      ),
    );
    assert.deepEqual(methods, { "random.bin": 0, "small.txt": 0, "text.txt": 8 });
    const summary = await extractZip(zip, join(t, "out"), { onBytes: (n) => told += n });
    assert.equal(summary.bytes, 3 * 1024 * 1024 + 13 * 200_000 + 6);
    assert.equal(told, summary.bytes);
  });
});

Deno.test("extraction of many small entries yields to the event loop without a chain of zero timeouts", async () => {
  // A chain of setTimeout(0) is clamped to 4 ms each from its sixth link (Deno keeps the HTML rule): one every 64
  // small entries once left extraction idle a third of its time. The turns it needs come from elsewhere now.
  const entries = Array.from(
    { length: 300 },
    (_, i) => ({ name: `d${i % 7}/f${i}.txt`, data: utf8.encode(`file ${i}\n`) }),
  );
  await withTemp(async (dir) => {
    const real = globalThis.setTimeout;
    let zeroTimers = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      if (!args[1]) zeroTimers++;
      return real(...args);
    }) as typeof setTimeout;
    try {
      const summary = await extractZip(bytesStream(craftZip(entries)), join(dir, "out"));
      assert.deepEqual(summary, { entries: 300, bytes: entries.reduce((n, e) => n + e.data.length, 0) });
    } finally {
      globalThis.setTimeout = real;
    }
    assert.equal(zeroTimers, 0);
    assert.equal(await readFile(join(dir, "out", "d5", "f299.txt"), "utf8"), "file 299\n");
  });
});
