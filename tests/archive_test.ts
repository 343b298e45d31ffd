import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_MAX_TOTAL_BYTES, extractZip, zipDirectory, zipSingleFile } from "../src/archive/mod.ts";
import { crc32 } from "../src/archive/unzip.ts";
import { EnvelopeError, isEnvelopeError } from "../src/errors.ts";
import { deflateSync } from "fflate";
import { craftZip, deflatedZeros } from "./support/archive_craft.ts";

// ---- helpers ----

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "envelope-archive-" });
  try {
    await fn(dir);
    // Every file the archive code opened under the folder has been closed.
    assert.deepEqual((await openFiles()).filter((f) => f.startsWith(dir)), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function bytesStream(bytes: Uint8Array, piece = 1000): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + piece));
      off += piece;
    },
  });
}

/** What this process's file descriptors point at (Linux). */
async function openFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir("/proc/self/fd")) {
    try {
      out.push(await readlink(join("/proc/self/fd", fd)));
    } catch {
      // closed while listing
    }
  }
  return out;
}

async function python(code: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("python3", { args: ["-c", code, ...args], stdout: "piped", stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `python failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Deterministic pseudo-random bytes (xorshift), compressible only a little. */
function noise(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0x3f; // six bits: deflate does some work but not much
  }
  return out;
}

const UNICODE_DIR = "données";
const ASTRAL = "𝄞clef.txt"; // U+1D11E sorts after U+FFxx in UTF-8 but before it in UTF-16
const HIGH_BMP = "ｚwide.txt"; // U+FF5A

/** A tree with nested and empty folders, a 0-byte file, a 3 MiB file and non-ASCII names. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, "a", "b", "c"), { recursive: true });
  await mkdir(join(root, "empty"), { recursive: true });
  await mkdir(join(root, "a", "empty-inner"), { recursive: true });
  await mkdir(join(root, UNICODE_DIR, "sous-dossier"), { recursive: true });
  await writeFile(join(root, "a.txt"), "top file\n");
  await writeFile(join(root, "zero.bin"), new Uint8Array(0));
  await writeFile(join(root, "a", "b", "c", "deep.txt"), "deep\n");
  await writeFile(join(root, "a", "b", "big.bin"), noise(3 * 1024 * 1024, 7));
  await writeFile(join(root, "a", "b.txt"), "b sibling\n");
  await writeFile(join(root, UNICODE_DIR, "résumé.txt"), "é\n");
  await writeFile(join(root, UNICODE_DIR, "sous-dossier", "日本語.txt"), "日本語\n");
  await writeFile(join(root, ASTRAL), "astral\n");
  await writeFile(join(root, HIGH_BMP), "wide\n");
  await writeFile(join(root, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
}

/** Every path under root (folders end in "/") with each file's bytes. */
async function snapshot(root: string): Promise<Map<string, Uint8Array | "dir">> {
  const out = new Map<string, Uint8Array | "dir">();
  const walk = async (dir: string, rel: string) => {
    for (const name of await readdir(dir)) {
      const st = await lstat(join(dir, name));
      if (st.isDirectory()) {
        out.set(rel + name + "/", "dir");
        await walk(join(dir, name), rel + name + "/");
      } else {
        out.set(rel + name, new Uint8Array(await readFile(join(dir, name))));
      }
    }
  };
  await walk(root, "");
  return out;
}

async function assertSameTree(a: string, b: string): Promise<void> {
  const sa = await snapshot(a);
  const sb = await snapshot(b);
  assert.deepEqual([...sb.keys()].sort(), [...sa.keys()].sort());
  for (const [k, v] of sa) assert.deepEqual(sb.get(k), v, `contents of ${k}`);
}

const PY_INFO = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    print(json.dumps({"bad": bad, "entries": [
        {"name": i.filename, "method": i.compress_type, "size": i.file_size,
         "mode": i.external_attr >> 16, "time": list(i.date_time)} for i in z.infolist()]}))
`;

interface PyEntry {
  name: string;
  method: number;
  size: number;
  mode: number;
  time: number[];
}

async function pyInfo(zipPath: string): Promise<PyEntry[]> {
  const info = JSON.parse(await python(PY_INFO, zipPath));
  assert.equal(info.bad, null, "Python's testzip found a bad entry");
  return info.entries;
}

/** Python's make_archive; `sorted` makes os.walk list each folder in sorted order. */
async function pyMakeArchive(root: string, base: string, sorted: boolean): Promise<string> {
  const patch = sorted
    ? `
_walk = os.walk
def walk(top, *a, **k):
    for dp, dn, fn in _walk(top, *a, **k):
        dn.sort(); fn.sort()
        yield dp, dn, fn
os.walk = walk
`
    : "";
  await python(`import os, shutil, sys\n${patch}\nshutil.make_archive(sys.argv[1], "zip", sys.argv[2])`, base, root);
  return base + ".zip";
}

async function assertRejects(p: Promise<unknown>, code: string): Promise<EnvelopeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isEnvelopeError(err), `expected EnvelopeError ${code}, got ${err}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

const utf8 = new TextEncoder();
function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// ---- tests ----

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(0, utf8.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(crc32(0, utf8.encode("1234")), utf8.encode("56789")), 0xcbf43926);
  assert.equal(crc32(0, new Uint8Array(0)), 0);
});

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
        assert.equal(e.method, 8);
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

Deno.test("files of 64 KiB or more whose first 64 KiB do not deflate smaller are stored; the rest are deflated", async () => {
  await withTemp(async (t) => {
    const src = join(t, "src");
    await mkdir(src);
    const KiB = 1024;
    await writeFile(join(src, "random.bin"), randomBytes(200 * KiB + 17));
    await writeFile(join(src, "random-exact.bin"), randomBytes(128 * KiB)); // ends on a piece boundary
    await writeFile(join(src, "small-random.bin"), randomBytes(1000)); // under one piece: deflated, as Python does
    await writeFile(join(src, "text.txt"), "a line of text that repeats\n".repeat(10_000));
    // Only the first piece is looked at: random then zeros is stored whole.
    const mixed = new Uint8Array(1024 * KiB);
    mixed.set(randomBytes(64 * KiB));
    await writeFile(join(src, "random-then-zeros.bin"), mixed);
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
      return Object.fromEntries(entries.map((e) => [e.name, e.method]));
    };
    const expected = {
      "empty.bin": 8,
      "random-exact.bin": 0,
      "random-then-zeros.bin": 0,
      "random.bin": 0,
      "small-random.bin": 8,
      "text.txt": 8,
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

    // Every folder has a stored, empty entry; files are deflated.
    for (const e of ourEntries) {
      if (e.name.endsWith("/")) assert.deepEqual([e.method, e.size], [0, 0]);
      else assert.equal(e.method, 8);
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

const S_IFLNK = 0o120000 * 0x10000;

const UNSAFE: [string, Parameters<typeof craftZip>[0]][] = [
  ["../evil", [{ name: "../evil", data: utf8.encode("x") }]],
  ["/abs", [{ name: "/abs", data: utf8.encode("x") }]],
  ["a/../../evil", [{ name: "a/../../evil", data: utf8.encode("x") }]],
  ["C:\\evil", [{ name: "C:\\evil", data: utf8.encode("x") }]],
  ["C:evil", [{ name: "C:evil", data: utf8.encode("x") }]],
  ["..\\evil", [{ name: "..\\evil", data: utf8.encode("x") }]],
  ["\\\\server\\share", [{ name: "\\\\server\\share", data: utf8.encode("x") }]],
  ["NUL in name", [{ name: "ok.txt\0../../evil", data: utf8.encode("x") }]],
  ["symlink to /etc", [{ name: "etc", method: 0, data: utf8.encode("/etc"), attrs: S_IFLNK | (0o777 * 0x10000) }]],
  ["symlink then a file through it", [
    { name: "link", method: 0, data: utf8.encode("/tmp"), attrs: S_IFLNK | (0o777 * 0x10000) },
    { name: "link/evil", data: utf8.encode("x") },
  ]],
  ["a FIFO entry", [{ name: "fifo", method: 0, attrs: 0o010644 * 0x10000 }]],
  ["good file then ../evil", [{ name: "good.txt", data: utf8.encode("fine") }, {
    name: "../evil",
    data: utf8.encode("x"),
  }]],
  [". segment", [{ name: "./x", data: utf8.encode("x") }]],
  ["empty segment", [{ name: "a//x", data: utf8.encode("x") }]],
];

for (const [label, entries] of UNSAFE) {
  Deno.test(`extraction refuses an unsafe entry (${label}) and leaves nothing behind`, async () => {
    await withTemp(async (t) => {
      const zip = craftZip(entries);
      await writeFile(join(t, "evil.zip"), zip);
      const out = join(t, "deep", "out");
      await assertRejects(extractZip(join(t, "evil.zip"), out), "UNSAFE_PATH");
      await assertRejects(extractZip(bytesStream(zip), out), "UNSAFE_PATH");
      assert.deepEqual(await readdir(t), ["evil.zip"], "no output, staging or parent folder is left");
    });
  });
}

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

Deno.test("existing output: OUTPUT_EXISTS without force, careful merge with force", async () => {
  await withTemp(async (t) => {
    const zip = craftZip([
      { name: "keep/new.txt", data: utf8.encode("new") },
      { name: "clash.txt", data: utf8.encode("from archive") },
    ]);
    const out = join(t, "out");
    await mkdir(join(out, "keep"), { recursive: true });
    await writeFile(join(out, "clash.txt"), "mine");
    await writeFile(join(out, "unrelated.txt"), "untouched");

    await assertRejects(extractZip(bytesStream(zip), out), "OUTPUT_EXISTS");
    assert.equal(await readFile(join(out, "clash.txt"), "utf8"), "mine");
    assert.deepEqual((await readdir(out)).sort(), ["clash.txt", "keep", "unrelated.txt"]);
    assert.deepEqual(await readdir(join(out, "keep")), []);

    const summary = await extractZip(bytesStream(zip), out, { force: true });
    assert.deepEqual(summary, { entries: 2, bytes: 15 });
    assert.equal(await readFile(join(out, "clash.txt"), "utf8"), "from archive");
    assert.equal(await readFile(join(out, "keep", "new.txt"), "utf8"), "new");
    assert.equal(await readFile(join(out, "unrelated.txt"), "utf8"), "untouched");
    assert.deepEqual((await readdir(out)).sort(), ["clash.txt", "keep", "unrelated.txt"]);

    // An existing empty folder is fine without force.
    await mkdir(join(t, "empty-out"));
    await extractZip(bytesStream(zip), join(t, "empty-out"));
    assert.equal(await readFile(join(t, "empty-out", "clash.txt"), "utf8"), "from archive");

    // A file where the output folder should be is refused even with force.
    await writeFile(join(t, "file-out"), "a file");
    await assertRejects(extractZip(bytesStream(zip), join(t, "file-out"), { force: true }), "OUTPUT_EXISTS");
    // A folder where the archive has a file is refused even with force.
    await mkdir(join(t, "dir-clash", "clash.txt"), { recursive: true });
    await assertRejects(extractZip(bytesStream(zip), join(t, "dir-clash"), { force: true }), "OUTPUT_EXISTS");
    assert.deepEqual(await readdir(join(t, "dir-clash")), ["clash.txt"]);
  });
});

Deno.test("merging never writes through a symbolic link in the output folder", async () => {
  await withTemp(async (t) => {
    await mkdir(join(t, "victim"));
    const out = join(t, "out");
    await mkdir(out);
    await symlink(join(t, "victim"), join(out, "keep"));
    // A link where a file goes is replaced, not followed.
    await writeFile(join(t, "victim-file"), "victim");
    await symlink(join(t, "victim-file"), join(out, "clash.txt"));
    const zip = craftZip([{ name: "keep/new.txt", data: utf8.encode("new") }]);
    await assertRejects(extractZip(bytesStream(zip), out, { force: true }), "UNSAFE_PATH");
    assert.deepEqual(await readdir(join(t, "victim")), []);
    const zip2 = craftZip([{ name: "clash.txt", data: utf8.encode("from archive") }]);
    await assertRejects(extractZip(bytesStream(zip2), out), "OUTPUT_EXISTS");
    await extractZip(bytesStream(zip2), out, { force: true });
    assert.equal(await readFile(join(t, "victim-file"), "utf8"), "victim");
    assert.ok((await lstat(join(out, "clash.txt"))).isFile());
    assert.equal(await readlink(join(out, "keep")), join(t, "victim"));
    assert.deepEqual((await readdir(out)).sort(), ["clash.txt", "keep"]);
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

Deno.test("cancelling a zip stream closes its file; an early failure cancels the source stream", async () => {
  await withTemp(async (t) => {
    await mkdir(join(t, "src"));
    await writeFile(join(t, "src", "big.bin"), noise(1024 * 1024, 1));
    const reader = zipDirectory(join(t, "src"), { level: 0 }).getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0);
    assert.equal((await openFiles()).filter((f) => f.endsWith("big.bin")).length, 1);
    await reader.cancel();
    assert.deepEqual((await openFiles()).filter((f) => f.endsWith("big.bin")), []);

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

Deno.test("extracting a 192 MiB entry of random bytes keeps memory flat", async () => {
  // Random bytes deflate to stored blocks. fflate's streaming inflater, fed 4 KiB pieces, allocated over
  // 100 KiB of short-lived buffers per piece, and extracting raised RSS by 78-213 MB here (131-265 MB
  // peaks); through node:zlib it rises 16-26 MB (71-77 MB peaks, also with four runs at once).
  // Level 0 makes a stored-block deflate entry like the default level's, in a fifth of the time.
  await withTemp(async (t) => {
    const size = 192 * 1024 * 1024;
    const script = new URL("./support/archive_extract_peak.ts", import.meta.url).pathname;
    const config = new URL("../deno.json", import.meta.url).pathname;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, script, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
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
