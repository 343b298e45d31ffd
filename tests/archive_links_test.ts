/**
 * Symbolic links, both ways (src/archive/zip_walk.ts and unzip.ts): zipping follows in-tree file links, skips every
 * link, or stores in-tree links as links; extraction refuses link entries, skips them, or creates the safe ones
 * (relative, inside the folder), never writing through one.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractZip, zipDirectory } from "../src/archive/mod.ts";
import { craftZip } from "./support/archive_craft.ts";
import { assertRejects, collect, pyInfo, utf8, withTemp } from "./support/archive_helpers.ts";

const S_IFLNK = 0o120777 * 0x10000;

/** A tree with a file, a folder, and links: to the file, to the folder, up and back in, out of the tree, dangling. */
async function linkTree(t: string): Promise<string> {
  const src = join(t, "src");
  await mkdir(join(src, "sub", "deep"), { recursive: true });
  await writeFile(join(t, "outside.txt"), "secret outside");
  await writeFile(join(src, "real.txt"), "real");
  await writeFile(join(src, "sub", "deep", "f.txt"), "deep");
  await symlink("real.txt", join(src, "file-link"));
  await symlink("sub", join(src, "dir-link"));
  await symlink("../real.txt", join(src, "sub", "up-link"));
  await symlink(join(t, "outside.txt"), join(src, "abs-link"));
  await symlink("../outside.txt", join(src, "escape-link"));
  await symlink("sub/../../outside.txt", join(src, "sneaky-link"));
  await symlink("missing", join(src, "dangling"));
  return src;
}

Deno.test("zipping with links: follow stores in-tree file links as files, skip leaves all out, store keeps safe links", async () => {
  await withTemp(async (t) => {
    const src = await linkTree(t);
    const run = async (links: "follow" | "skip" | "store") => {
      const warnings: string[] = [];
      const zipPath = join(t, `${links}.zip`);
      await writeFile(zipPath, await collect(zipDirectory(src, { links, onWarning: (m) => warnings.push(m) })));
      const entries = await pyInfo(zipPath);
      const kinds = Object.fromEntries(
        entries.map((e) => [e.name, (e.mode & 0o170000) === 0o120000 ? "link" : e.name.endsWith("/") ? "dir" : "file"]),
      );
      return { kinds, warnings: warnings.map((w) => /^Skipped (?:link )?([^\s:]+)/.exec(w)?.[1]).sort() };
    };
    const files = { "real.txt": "file", "sub/deep/f.txt": "file" };
    assert.deepEqual(await run("follow"), {
      kinds: { ...files, "file-link": "file", "sub/up-link": "file" },
      warnings: ["abs-link", "dangling", "dir-link", "escape-link", "sneaky-link"],
    });
    assert.deepEqual(await run("skip"), {
      kinds: files,
      warnings: ["abs-link", "dangling", "dir-link", "escape-link", "file-link", "sneaky-link", "sub/up-link"],
    });
    assert.deepEqual(await run("store"), {
      kinds: { ...files, "dangling": "link", "dir-link": "link", "file-link": "link", "sub/up-link": "link" },
      warnings: ["abs-link", "escape-link", "sneaky-link"],
    });
    assert.throws(() => zipDirectory(src, { links: "all" as "skip" }), /unknown link policy/);
  });
});

Deno.test("extracting links: refused by default, skipped, or created (stored links come back as the same links)", async () => {
  await withTemp(async (t) => {
    const src = await linkTree(t);
    const zip = await collect(zipDirectory(src, { links: "store" }));
    await writeFile(join(t, "links.zip"), zip);
    await assertRejects(extractZip(join(t, "links.zip"), join(t, "refused")), "UNSAFE_PATH");
    const warnings: string[] = [];
    await extractZip(join(t, "links.zip"), join(t, "skipped"), { links: "skip", onWarning: (m) => warnings.push(m) });
    assert.deepEqual((await readdir(join(t, "skipped"))).sort(), ["real.txt", "sub"]);
    assert.equal(warnings.length, 4);
    await extractZip(join(t, "links.zip"), join(t, "made"), { links: "create" });
    for (const [name, target] of [["file-link", "real.txt"], ["dir-link", "sub"], ["sub/up-link", "../real.txt"]]) {
      assert.ok((await lstat(join(t, "made", name))).isSymbolicLink(), `${name} is a link`);
      assert.equal(await readlink(join(t, "made", name)), target);
    }
    assert.equal(await readFile(join(t, "made", "dir-link", "deep", "f.txt"), "utf8"), "deep");
    assert.equal(await readlink(join(t, "made", "dangling")), "missing");
  });
});

Deno.test("created links must stay inside the folder, and no file is ever written through one", async () => {
  await withTemp(async (t) => {
    const link = (name: string, target: string) => ({
      name,
      method: 0 as const,
      data: utf8.encode(target),
      attrs: S_IFLNK,
    });
    const cases: [string, ReturnType<typeof craftZip>, string][] = [
      ["absolute", craftZip([link("etc", "/etc")]), "UNSAFE_PATH"],
      ["escaping", craftZip([link("a", "../x")]), "UNSAFE_PATH"],
      ["escaping from a folder", craftZip([{ name: "d/" }, link("d/a", "../../x")]), "UNSAFE_PATH"],
      // "sub/.." is the folder itself only if sub is not a link: refused.
      ["down then up", craftZip([{ name: "sub/" }, link("a", "sub/../x")]), "UNSAFE_PATH"],
      [
        "a file through an unsafe link",
        craftZip([link("l", "/tmp"), { name: "l/evil", data: utf8.encode("x") }]),
        "UNSAFE_PATH",
      ],
      // A safe link and a file under the same name: the file's folder is made first, then the link clashes.
      [
        "a file through a safe link",
        craftZip([{ name: "sub/" }, link("l", "sub"), { name: "l/f", data: utf8.encode("x") }]),
        "ARCHIVE_INVALID",
      ],
      ["a link as a folder entry", craftZip([link("l/", "sub")]), "UNSAFE_PATH"],
    ];
    for (const [label, zip, code] of cases) {
      await writeFile(join(t, "c.zip"), zip);
      const err = await assertRejects(extractZip(join(t, "c.zip"), join(t, "out"), { links: "create" }), code);
      assert.ok(err.message.length > 0, label);
      assert.deepEqual((await readdir(t)).sort(), ["c.zip"], `${label}: nothing is left`);
    }
    assert.equal(await readFile("/tmp/evil", "utf8").catch(() => "absent"), "absent");
  });
});
