/**
 * Path safety and merging on extraction (src/archive/zip_paths.ts): unsafe entry names are refused with the reason
 * named, and merging into an existing folder never replaces, crosses links or clobbers without force.
 */
import assert from "node:assert/strict";
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractZip } from "../src/archive/mod.ts";
import { safeSegments } from "../src/archive/unzip.ts";
import { applyMerge, planMerge } from "../src/archive/zip_paths.ts";
import { craftZip } from "./support/archive_craft.ts";
import { assertRejects, bytesStream, utf8, withTemp } from "./support/archive_helpers.ts";

const S_IFLNK = 0o120000 * 0x10000;

const x = utf8.encode("x");
const DOTDOT = "the path contains a .. segment";
const DOT = "the path has an empty or . segment";
const LINK = "it is a symbolic link, and links are not extracted unless asked for";

/** [label, entries, the entry that is refused, the reason the message must give]. */
const UNSAFE: [string, Parameters<typeof craftZip>[0], string, string][] = [
  ["../evil", [{ name: "../evil", data: x }], "../evil", DOTDOT],
  ["/abs", [{ name: "/abs", data: x }], "/abs", "the path is absolute"],
  ["a/../../evil", [{ name: "a/../../evil", data: x }], "a/../../evil", DOTDOT],
  ["C:\\evil", [{ name: "C:\\evil", data: x }], "C:\\evil", "the name contains a backslash"],
  ["C:evil", [{ name: "C:evil", data: x }], "C:evil", "the path starts with a drive letter"],
  ["..\\evil", [{ name: "..\\evil", data: x }], "..\\evil", "the name contains a backslash"],
  ["\\\\server\\share", [{ name: "\\\\server\\share", data: x }], "\\\\server\\share", "the name contains a backslash"],
  ["NUL in name", [{ name: "ok.txt\0../../evil", data: x }], "ok.txt\0../../evil", "the name contains a NUL character"],
  [
    "symlink to /etc",
    [{ name: "etc", method: 0, data: utf8.encode("/etc"), attrs: S_IFLNK | (0o777 * 0x10000) }],
    "etc",
    LINK,
  ],
  [
    "symlink then a file through it",
    [
      { name: "link", method: 0, data: utf8.encode("/tmp"), attrs: S_IFLNK | (0o777 * 0x10000) },
      { name: "link/evil", data: x },
    ],
    "link",
    LINK,
  ],
  [
    "a FIFO entry",
    [{ name: "fifo", method: 0, attrs: 0o010644 * 0x10000 }],
    "fifo",
    "it is a special file, not a file or folder",
  ],
  [
    "good file then ../evil",
    [{ name: "good.txt", data: utf8.encode("fine") }, { name: "../evil", data: x }],
    "../evil",
    DOTDOT,
  ],
  [". segment", [{ name: "./x", data: x }], "./x", DOT],
  ["empty segment", [{ name: "a//x", data: x }], "a//x", DOT],
  // `..` that stays inside the folder: a/../x is out/x. Only the `..` check refuses these (no later check sees an
  // escape), so they fail if that check is removed; the others above are also caught by later checks.
  ["a/../x, which stays inside", [{ name: "a/../x", data: x }], "a/../x", DOTDOT],
  ["a/.., the folder itself as a file", [{ name: "a/..", data: x }], "a/..", DOTDOT],
  ["a/../ as a folder entry", [{ name: "a/../" }], "a/../", DOTDOT],
  ["a/b/../c after a good entry", [{ name: "a/b/c", data: x }, { name: "a/b/../c", data: x }], "a/b/../c", DOTDOT],
  // The `.` segment comes first, so that is the reason given.
  ["./a/../b", [{ name: "./a/../b", data: x }], "./a/../b", DOT],
];

for (const [label, entries, name, why] of UNSAFE) {
  Deno.test(`extraction refuses an unsafe entry (${label}), says why, and leaves nothing behind`, async () => {
    await withTemp(async (t) => {
      const zip = craftZip(entries);
      await writeFile(join(t, "evil.zip"), zip);
      const out = join(t, "deep", "out");
      const expected = `Extracting entry ${JSON.stringify(name)} failed: ${why}`;
      for (const source of [join(t, "evil.zip"), bytesStream(zip)]) {
        const err = await assertRejects(extractZip(source, out), "UNSAFE_PATH");
        assert.equal(err.message, expected);
        assert.ok(err.hint, "the error has a hint");
      }
      assert.deepEqual(await readdir(t), ["evil.zip"], "no output, staging or parent folder is left");
    });
  });
}

Deno.test("safeSegments refuses every name with a .. segment, wherever it stands, with that reason", () => {
  for (const name of ["..", "../", "a/..", "a/../", "a/../x", "a/b/../../x", "x/..", "a/../a"]) {
    assert.throws(() => safeSegments(name), (e: Error) => e.message.endsWith(`failed: ${DOTDOT}`), name);
  }
  for (const name of ["..a", "a..", "a/..b/c", "...", "a/.../b"]) {
    assert.deepEqual(safeSegments(name), name.split("/"), `${name} is a plain name`);
  }
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

Deno.test("paths deeper than 256 folders, or names over the file system's limits, are UNSAFE_PATH before anything is made", async () => {
  await withTemp(async (t) => {
    const deep = Array.from({ length: 300 }, () => "a").join("/") + "/f";
    const cases = [
      deep,
      "x".repeat(300),
      `d/${"y".repeat(256)}/f`,
      Array.from({ length: 900 }, () => "abcd").join("/"),
    ];
    for (const [i, name] of cases.entries()) {
      const out = join(t, `out${i}`);
      const started = performance.now();
      await assertRejects(extractZip(bytesStream(craftZip([{ name, data: utf8.encode("x") }])), out), "UNSAFE_PATH");
      assert.ok(performance.now() - started < 5000);
      assert.ok(!(await lstat(out).catch(() => null)), `${i}: nothing made`);
    }
    // 256 deep is still a path.
    assert.equal(safeSegments(Array.from({ length: 256 }, () => "a").join("/")).length, 256);
  });
});

Deno.test("merging re-checks each folder on the way: one swapped for a link, or a folder anyone may write to, is refused", async () => {
  await withTemp(async (t) => {
    await mkdir(join(t, "victim"));
    const out = join(t, "out");
    await mkdir(join(out, "sub"), { recursive: true });
    const names = ["sub/a", "sub/b"];
    const tree = join(t, "tree");
    await mkdir(join(tree, "sub"), { recursive: true });
    for (const n of names) await writeFile(join(tree, n), n);
    const entries = names.map((name) => ({ name, dir: false }));
    await planMerge(out, entries, false);
    // Planned with out/sub a folder; swapped for a link to a victim before the moves.
    await rename(join(out, "sub"), join(t, "moved"));
    await symlink(join(t, "victim"), join(out, "sub"));
    await assertRejects(applyMerge(tree, out, entries), "OUTPUT_UNSAFE");
    assert.deepEqual(await readdir(join(t, "victim")), []);

    // An output folder anyone may write to (no sticky bit) is not merged into; with the sticky bit it is.
    const shared = join(t, "shared");
    await mkdir(shared);
    await chmod(shared, 0o777);
    const zip = craftZip([{ name: "f.txt", data: utf8.encode("x") }]);
    await assertRejects(extractZip(bytesStream(zip), shared), "OUTPUT_UNSAFE");
    assert.deepEqual(await readdir(shared), []);
    await chmod(shared, 0o1777);
    await extractZip(bytesStream(zip), shared);
    assert.equal(await readFile(join(shared, "f.txt"), "utf8"), "x");
  });
});

Deno.test("merging: into a folder named through the user's own link; folders of another user are refused before anything moves", async () => {
  await withTemp(async (t) => {
    const zip = craftZip([
      { name: "a.txt", data: utf8.encode("a") },
      { name: "sub/b.txt", data: utf8.encode("b") },
    ]);
    // ~/www -> /srv/www: the files go where the link leads.
    await mkdir(join(t, "real"));
    await symlink(join(t, "real"), join(t, "out"));
    await extractZip(bytesStream(zip), join(t, "out"));
    assert.deepEqual((await readdir(join(t, "real"))).sort(), ["a.txt", "sub"]);
    assert.equal(await readFile(join(t, "real", "sub", "b.txt"), "utf8"), "b");

    if (Deno.uid() !== 0) return; // the ownership cases need chown: run as root (CI is)
    // A sub-folder of another user inside the user's own folder: refused, and a.txt was not moved in first.
    await mkdir(join(t, "own", "sub"), { recursive: true });
    await Deno.chown(join(t, "own", "sub"), 65534, 65534);
    await assertRejects(extractZip(bytesStream(zip), join(t, "own")), "OUTPUT_UNSAFE");
    assert.deepEqual(await readdir(join(t, "own")), ["sub"]);
    assert.deepEqual(await readdir(join(t, "own", "sub")), []);
    // Root extracting into a folder that user owns (a deploy into /srv/www owned by www-data): allowed.
    await mkdir(join(t, "theirs", "sub"), { recursive: true });
    await Deno.chown(join(t, "theirs"), 65534, 65534);
    await Deno.chown(join(t, "theirs", "sub"), 65534, 65534);
    await extractZip(bytesStream(zip), join(t, "theirs"));
    assert.equal(await readFile(join(t, "theirs", "sub", "b.txt"), "utf8"), "b");
  });
});

Deno.test("the folders entries' paths imply count towards maxEntries; folder entries that name them are not counted twice", async () => {
  await withTemp(async (t) => {
    // 20 entries, each 200 folders deep: 4,000 folders from a few KiB of archive.
    const deep = Array.from({ length: 20 }, (_, i) => ({
      name: `x${i}/` + Array.from({ length: 199 }, () => "a").join("/") + "/f",
      data: utf8.encode("x"),
    }));
    const started = performance.now();
    await assertRejects(
      extractZip(bytesStream(craftZip(deep)), join(t, "out"), { maxEntries: 1000 }),
      "ARCHIVE_TOO_LARGE",
    );
    assert.ok(performance.now() - started < 5000);
    assert.ok(!(await lstat(join(t, "out")).catch(() => null)), "nothing made");
    // A tree listing its folders as entries, at the limit: counted once.
    const tree = [
      { name: "a/", data: new Uint8Array(0) },
      { name: "a/b/", data: new Uint8Array(0) },
      { name: "a/b/f", data: utf8.encode("f") },
      { name: "a/g", data: utf8.encode("g") },
    ];
    await extractZip(bytesStream(craftZip(tree)), join(t, "ok"), { maxEntries: 4 });
    assert.equal(await readFile(join(t, "ok", "a", "b", "f"), "utf8"), "f");
  });
});
