/**
 * Zipping (src/archive/zip.ts, zip_walk.ts, zip_entry_data.ts): layouts, determinism, which files are stored or
 * deflated, links and odd names in the tree, Python's make_archive as a peer, closing files, memory on a large file,
 * and the module on Node.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractZip, zipDirectory, zipSingleFile } from "../src/archive/mod.ts";
import { isEnvelopeError } from "../src/errors.ts";
import {
  assertRejects,
  assertSameTree,
  ASTRAL,
  bytesStream,
  collect,
  compareUtf8,
  HIGH_BMP,
  makeTree,
  noise,
  openFiles,
  type PyEntry,
  pyInfo,
  pyMakeArchive,
  python,
  snapshot,
  UNICODE_DIR,
  withTemp,
} from "./support/archive_helpers.ts";

for (const layout of ["envelope", "make_archive"] as const) {
  Deno.test(`${layout} layout: round trip through a file and through a stream`, async () => {
    await withTemp(async (t) => {
      const src = join(t, "src");
      await makeTree(src);
      const zipPath = join(t, "out.zip");
      await writeFile(zipPath, await collect(zipDirectory(src, { layout })));
      const seen: string[] = [];
      const s1 = await extractZip(zipPath, join(t, "x1"), { onEntry: (n) => seen.push(n) });
      await assertSameTree(src, join(t, "x1"));
      const s2 = await extractZip(zipDirectory(src, { layout }), join(t, "x2"));
      await assertSameTree(src, join(t, "x2"));
      assert.deepEqual(s1, s2);
      assert.equal(s1.entries, seen.length);
      const total = [...(await snapshot(src)).values()].reduce((n, v) => n + (v === "dir" ? 0 : v.length), 0);
      assert.equal(s1.bytes, total);
      // The execute bit survives; other files are not executable.
      assert.equal((await lstat(join(t, "x1", "run.sh"))).mode & 0o100, 0o100);
      assert.equal((await lstat(join(t, "x1", "a.txt"))).mode & 0o111, 0);
      // No staging folders are left beside the output.
      assert.deepEqual((await readdir(t)).sort(), ["out.zip", "src", "x1", "x2"]);
    });
  });
}

Deno.test("envelope layout: sorted by UTF-8 bytes, folder entries only for empty folders, fixed times and modes", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await makeTree(src);
    const zipPath = join(t, "out.zip");
    await writeFile(zipPath, await collect(zipDirectory(src)));
    const entries = await pyInfo(zipPath);
    const names = entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort(compareUtf8));
    assert.ok(names.indexOf(HIGH_BMP) < names.indexOf(ASTRAL), "UTF-8 order puts U+FF5A before U+1D11E");
    assert.deepEqual(names.filter((n) => n.endsWith("/")), ["a/empty-inner/", "empty/"]);
    assert.ok(names.includes("a/b/c/deep.txt") && names.includes(`${UNICODE_DIR}/sous-dossier/日本語.txt`));
    assert.ok(names.every((n) => !n.startsWith("/") && !n.startsWith("./") && !n.startsWith("src/")));
    for (const e of entries) {
      assert.deepEqual(e.time, [1980, 1, 1, 0, 0, 0]);
      if (e.name.endsWith("/")) assert.equal(e.mode, 0o40755);
      else {
        assertDeflatedOnlyWhenSmaller(e);
        assert.equal(e.mode, e.name === "run.sh" ? 0o100755 : 0o100644);
      }
    }
  });
});

Deno.test("zipping is deterministic: same bytes twice and after the times change", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await makeTree(src);
    for (const layout of ["envelope", "make_archive"] as const) {
      const first = await collect(zipDirectory(src, { layout }));
      const second = await collect(zipDirectory(src, { layout }));
      assert.deepEqual(second, first);
      await utimes(join(src, "a.txt"), new Date("2001-02-03T04:05:06Z"), new Date("2001-02-03T04:05:06Z"));
      await utimes(join(src, "a", "b"), new Date("2011-02-03T04:05:06Z"), new Date("2011-02-03T04:05:06Z"));
      const third = await collect(zipDirectory(src, { layout }));
      assert.deepEqual(third, first);
    }
    // The level changes the bytes but not the contents.
    const fast = await collect(zipDirectory(src, { level: 1 }));
    const best = await collect(zipDirectory(src, { level: 9 }));
    assert.notDeepEqual(fast, best);
    await extractZip(bytesStream(fast), join(t, "fast"));
    await assertSameTree(src, join(t, "fast"));
  });
});

/** Bytes from crypto.getRandomValues, which deflate cannot shrink. */
function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}

/** A file entry is deflated only when that made it smaller, else stored as is. */
function assertDeflatedOnlyWhenSmaller(e: PyEntry): void {
  if (e.method === 8) assert.ok(e.csize < e.size, `${e.name}: deflated to ${e.csize} from ${e.size}`);
  else assert.deepEqual([e.method, e.csize], [0, e.size], `${e.name} is stored`);
}

Deno.test("files that deflate does not shrink are stored, whole (up to 1 MiB) or in pieces; the rest are deflated", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await mkdir(src);
    const KiB = 1024;
    const text = (n: number) => new TextEncoder().encode("a line of text that repeats\n".repeat(n));
    await writeFile(join(src, "random.bin"), randomBytes(200 * KiB + 17));
    await writeFile(join(src, "random-exact.bin"), randomBytes(128 * KiB));
    await writeFile(join(src, "small-random.bin"), randomBytes(1000)); // under 1 KiB: deflate is tried, and loses
    await writeFile(join(src, "tiny.txt"), "hi"); // deflate adds bytes
    await writeFile(join(src, "text.txt"), text(10_000));
    // Read in 1 MiB pieces: the first piece decides.
    await writeFile(join(src, "big-text.txt"), text(120_000));
    await writeFile(join(src, "big-random.bin"), randomBytes(3 * 1024 * KiB + 5));
    const mixed = new Uint8Array(3 * 1024 * KiB);
    mixed.set(randomBytes(1024 * KiB));
    await writeFile(join(src, "random-then-zeros.bin"), mixed);
    const zerosThenRandom = new Uint8Array(3 * 1024 * KiB);
    zerosThenRandom.set(randomBytes(1024 * KiB), 2 * 1024 * KiB);
    await writeFile(join(src, "zeros-then-random.bin"), zerosThenRandom);
    await writeFile(join(src, "empty.bin"), new Uint8Array(0));
    const methods = async (level?: number) => {
      const bytes = await collect(zipDirectory(src, { level }));
      assert.deepEqual(await collect(zipDirectory(src, { level })), bytes, `level ${level}: same bytes twice`);
      const zipPath = join(t, `level-${level}.zip`);
      await writeFile(zipPath, bytes);
      // Python's zipfile reads every entry and checks its CRC (pyInfo asserts testzip found nothing bad).
      const entries = await pyInfo(zipPath);
      const out = join(t, `out-${level}`);
      await extractZip(bytesStream(bytes, 100_000), out);
      await assertSameTree(src, out);
      if (level !== 0) { for (const e of entries) assertDeflatedOnlyWhenSmaller(e); }
      return Object.fromEntries(entries.map((e) => [e.name, e.method]));
    };
    const expected = {
      "big-random.bin": 0,
      "big-text.txt": 8,
      "empty.bin": 0,
      "random-exact.bin": 0,
      "random-then-zeros.bin": 0,
      "random.bin": 0,
      "small-random.bin": 0,
      "text.txt": 8,
      "tiny.txt": 0,
      "zeros-then-random.bin": 8,
    };
    assert.deepEqual(await methods(), expected);
    assert.deepEqual(await methods(1), expected);
    assert.deepEqual(await methods(9), expected);
    // Level 0 asks for deflate's stored blocks, and every file gets them.
    assert.deepEqual(await methods(0), Object.fromEntries(Object.keys(expected).map((k) => [k, 8])));
  });
});

Deno.test("make_archive layout lists the same names in the same order as Python's shutil.make_archive", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await makeTree(src);
    const ours = join(t, "ours.zip");
    await writeFile(ours, await collect(zipDirectory(src, { layout: "make_archive" })));
    const ourEntries = await pyInfo(ours);
    const ourNames = ourEntries.map((e) => e.name);

    // Python walks folders in the order the file system lists them; with that order sorted, the lists are identical.
    const pySorted = (await pyInfo(await pyMakeArchive(src, join(t, "py-sorted"), true))).map((e) => e.name);
    assert.deepEqual(ourNames, pySorted);

    // The unpatched make_archive has the same names, and its order follows the same rules.
    const pyReal = (await pyInfo(await pyMakeArchive(src, join(t, "py-real"), false))).map((e) => e.name);
    assert.deepEqual([...pyReal].sort(), [...ourNames].sort());
    for (const names of [pyReal, ourNames]) {
      for (const [i, n] of names.entries()) {
        const parent = n.replace(/[^/]+\/?$/, "");
        if (parent !== "") assert.ok(names.indexOf(parent) < i, `${parent} is listed before ${n}`);
      }
    }

    // Every folder has a stored, empty entry; files are deflated when that makes them smaller.
    for (const e of ourEntries) {
      if (e.name.endsWith("/")) assert.deepEqual([e.method, e.size], [0, 0]);
      else assertDeflatedOnlyWhenSmaller(e);
    }
    assert.ok(ourNames.includes("empty/") && ourNames.includes("a/empty-inner/") && ourNames.includes("a/b/c/"));
    assert.equal(ourNames.slice(0, 3).join(" "), `a/ ${UNICODE_DIR}/ empty/`);

    // Python extracts ours to the same tree.
    await python("import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])", ours, join(t, "py-out"));
    await assertSameTree(src, join(t, "py-out"));
    // And we extract Python's.
    await extractZip(join(t, "py-real.zip"), join(t, "our-out"));
    await assertSameTree(src, join(t, "our-out"));
  });
});

Deno.test("links: in-tree file links are stored as files; others and special files are skipped with a warning", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(t, "outside.txt"), "secret outside");
    await writeFile(join(src, "real.txt"), "real");
    await symlink("real.txt", join(src, "inner-link"));
    await symlink(join(t, "outside.txt"), join(src, "out-link"));
    await symlink("missing", join(src, "dangling"));
    await symlink("sub", join(src, "dir-link"));
    await symlink("..", join(src, "sub", "up"));
    const fifo = await new Deno.Command("mkfifo", { args: [join(src, "pipe")] }).output();
    assert.equal(fifo.code, 0);
    for (const layout of ["envelope", "make_archive"] as const) {
      const warnings: string[] = [];
      const zip = await collect(zipDirectory(src, { layout, onWarning: (m) => warnings.push(m) }));
      const zipPath = join(t, `${layout}.zip`);
      await writeFile(zipPath, zip);
      const names = (await pyInfo(zipPath)).map((e) => e.name).sort();
      assert.deepEqual(
        names,
        layout === "envelope" ? ["inner-link", "real.txt", "sub/"] : ["inner-link", "real.txt", "sub/"],
      );
      assert.equal(warnings.length, 5, warnings.join("\n"));
      for (const w of ["out-link", "dangling", "dir-link", "sub/up", "pipe"]) {
        assert.ok(warnings.some((m) => m.includes(w)), `a warning names ${w}`);
      }
      const out = join(t, `x-${layout}`);
      await extractZip(zipPath, out);
      assert.equal(await readFile(join(out, "inner-link"), "utf8"), "real");
      assert.ok((await lstat(join(out, "inner-link"))).isFile());
    }
  });
});

Deno.test("names that are not UTF-8 or hold a backslash are skipped with a warning", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await mkdir(src);
    await writeFile(join(src, "ok.txt"), "ok");
    await writeFile(join(src, "back\\slash.txt"), "b");
    await python("import os, sys\nopen(os.path.join(os.fsencode(sys.argv[1]), b'bad\\xff.txt'), 'wb').close()", src);
    const warnings: string[] = [];
    await writeFile(join(t, "z.zip"), await collect(zipDirectory(src, { onWarning: (m) => warnings.push(m) })));
    assert.deepEqual((await pyInfo(join(t, "z.zip"))).map((e) => e.name), ["ok.txt"]);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.ok(warnings.some((m) => m.includes("backslash")) && warnings.some((m) => m.includes("UTF-8")));
  });
});

Deno.test("exclude leaves out an output written inside the folder being zipped", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await mkdir(join(src, "skip-me"), { recursive: true });
    await writeFile(join(src, "skip-me", "x"), "x");
    await writeFile(join(src, "keep.txt"), "keep");
    await symlink(src, join(t, "via-link"));
    const out = join(t, "via-link", "archive.zip"); // inside src, named through a link
    await writeFile(out, ""); // present when the folder is listed
    await zipDirectory(src, { exclude: [out, join(src, "skip-me")] })
      .pipeTo(new WritableStream({ write: (chunk) => Deno.writeFile(out, chunk, { append: true }) }));
    assert.deepEqual((await pyInfo(out)).map((e) => e.name), ["keep.txt"]);
  });
});

Deno.test("zipDirectory reports a missing folder, a file and a bad level", async () => {
  await withTemp(async (t) => {
    await assertRejects(collect(zipDirectory(join(t, "nope"))), "IO_FAILED");
    await writeFile(join(t, "f"), "x");
    await assertRejects(collect(zipDirectory(join(t, "f"))), "IO_FAILED");
    assert.throws(() => zipDirectory(t, { level: 10 }), (e) => isEnvelopeError(e, "INVALID_ARGUMENT"));
    // An empty folder gives an empty archive, which extracts to an empty folder.
    await mkdir(join(t, "empty"));
    const zip = await collect(zipDirectory(join(t, "empty")));
    assert.equal(zip.length, 22);
    assert.deepEqual(await extractZip(bytesStream(zip), join(t, "out")), { entries: 0, bytes: 0 });
    assert.deepEqual(await readdir(join(t, "out")), []);
  });
});

Deno.test("zipSingleFile makes a one-entry archive", async () => {
  await withTemp(async (t) => {
    await writeFile(join(t, "data.bin"), noise(200_000, 3));
    const zipPath = join(t, "one.zip");
    await writeFile(zipPath, await collect(zipSingleFile(join(t, "data.bin"), "dir/data.bin")));
    const entries = await pyInfo(zipPath);
    assert.deepEqual(entries.map((e) => [e.name, e.size]), [["dir/data.bin", 200_000]]);
    await extractZip(zipPath, join(t, "out"));
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out", "dir", "data.bin"))), noise(200_000, 3));
    for (const bad of ["../x", "/x", "a//b", "a\\b", ""]) {
      assert.throws(() => zipSingleFile(join(t, "data.bin"), bad), (e) => isEnvelopeError(e, "INVALID_ARGUMENT"));
    }
    await assertRejects(collect(zipSingleFile(t, "x")), "IO_FAILED");
    // A link named by the caller is followed.
    await symlink(join(t, "data.bin"), join(t, "link.bin"));
    await extractZip(zipSingleFile(join(t, "link.bin"), "l.bin"), join(t, "out2"));
    assert.deepEqual(new Uint8Array(await readFile(join(t, "out2", "l.bin"))), noise(200_000, 3));
  });
});

Deno.test("cancelling a zip stream closes its file; an early failure cancels the source stream", async () => {
  await withTemp(async (t) => {
    await mkdir(join(t, "src"));
    // Over 1 MiB, so it is read in pieces and stays open while the stream is read.
    const big = join(t, "src", "big.bin");
    await writeFile(big, noise(3 * 1024 * 1024, 1));
    const reader = zipDirectory(join(t, "src"), { level: 0 }).getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0);
    // This file's own path: test files run in parallel share the process's descriptors.
    const ours = async () => (await openFiles()).filter((f) => f === big);
    assert.equal((await ours()).length, 1);
    await reader.cancel();
    assert.deepEqual(await ours(), []);

    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(10));
      },
      cancel() {
        cancelled = true;
      },
    });
    await writeFile(join(t, "file-out"), "x");
    await assertRejects(extractZip(source, join(t, "file-out")), "OUTPUT_EXISTS");
    assert.ok(cancelled);
  });
});

Deno.test("the archive module runs unchanged on Node", async () => {
  await withTemp(async (t) => {
    const bundle = join(t, "archive.mjs");
    const mod = new URL("../src/archive/mod.ts", import.meta.url).pathname;
    const config = new URL("../deno.json", import.meta.url).pathname;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--config", config, "--platform", "node", "-o", bundle, mod],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    await makeTree(join(t, "src"));
    const script = `
import { zipDirectory, extractZip } from ${JSON.stringify(bundle)};
const [src, out] = process.argv.slice(2);
const summary = await extractZip(zipDirectory(src, { layout: "make_archive" }), out);
try { await extractZip(zipDirectory(src), out); } catch (e) { summary.again = e.code; }
console.log(JSON.stringify(summary));
`;
    await writeFile(join(t, "check.mjs"), script);
    const run = await new Deno.Command("node", {
      args: [join(t, "check.mjs"), join(t, "src"), join(t, "out")],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const summary = JSON.parse(new TextDecoder().decode(run.stdout));
    assert.equal(summary.again, "OUTPUT_EXISTS");
    await assertSameTree(join(t, "src"), join(t, "out"));
  });
});

Deno.test("zipping a 300 MiB file and extracting it keep memory bounded", async () => {
  await withTemp(async (t) => {
    const script = new URL("./support/archive_measure.ts", import.meta.url).pathname;
    const config = new URL("../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, script, t],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(result.summary, { entries: 1, bytes: 300 * 1024 * 1024 });
    assert.ok(result.zipped < 1024 * 1024, `300 MiB of zeros deflate to ${result.zipped} bytes`);
    assert.ok(result.peak < 200 * 1024 * 1024, `peak RSS ${result.peak} is under 200 MiB`);
    assert.equal((await lstat(join(t, "out", "zeros.bin"))).size, 300 * 1024 * 1024);
  });
});

Deno.test("zip: a listed file swapped for a FIFO before it is read is refused at once, never waited on", async () => {
  const { prepareFile } = await import("../src/archive/zip_entry_data.ts");
  const { mkfifo } = await import("./support/system.ts");
  const dir = await Deno.makeTempDir();
  try {
    const fifo = join(dir, "was-a-file");
    await mkfifo(fifo);
    const deflate = () => Promise.resolve(new Uint8Array(0));
    // The open must not wait for a writer: a 10 s bound turns a hang into a failure (the FIFO is then opened for
    // writing once, so the blocked open returns and the test ends).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 10_000));
    const err = await Promise.race([
      prepareFile("was-a-file", fifo, 0o100644 << 16, undefined, 6, deflate).then(() => null, (e) => e),
      hung,
    ]);
    clearTimeout(timer);
    if (err === "hung") {
      await (await Deno.open(fifo, { write: true })).close();
      assert.fail("prepareFile waited on a FIFO");
    }
    assert.ok(isEnvelopeError(err) && err.code === "IO_FAILED", String(err));
    assert.match(err.message, /stopped being a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
