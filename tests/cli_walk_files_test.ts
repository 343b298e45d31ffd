/**
 * cli/walk_files.ts: the lazy walk of a batch's tree yields exactly what the
 * global sort of every relative path gave (JavaScript's string order, `/`
 * separators), on hand-picked names and on generated trees whose names sit
 * on both sides of `/` (0x2F); links are counted, not yielded; this run's
 * own temporary files are left out.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { countFiles, walkFiles } from "../src/cli/walk_files.ts";
import { planFiles, runBatch } from "../src/cli/batch.ts";

/** Names around `/` in code-unit order: below it (space ! # - . and more), above it (digits, letters, `~`, non-ASCII). */
const NAMES = [
  "a",
  "b",
  "A",
  "a.txt",
  "a-b",
  "a0",
  "a b",
  "a!",
  "a#",
  "a+b",
  "a,b",
  "a.",
  ".a",
  "a:b",
  "a=b",
  "a_",
  "a~",
  "ab",
  "0",
  "é",
  "a\u00e9",
  "a\u{1F600}",
  "a\uff0f",
  "a\u0001",
];

async function collect(gen: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

/** Makes `files` (relative paths) under `root`, with their folders; returns them sorted the old way. */
async function makeFiles(root: string, files: readonly string[]): Promise<string[]> {
  for (const f of files) {
    const parts = f.split("/");
    if (parts.length > 1) await Deno.mkdir(join(root, ...parts.slice(0, -1)), { recursive: true });
    await Deno.writeTextFile(join(root, ...parts), f);
  }
  return [...files].sort();
}

/** A small seeded generator (mulberry32), so a failing tree can be made again. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The files of a random tree: up to 7 entries a folder, folders 4 deep at most, names drawn from NAMES. */
function randomTree(next: () => number): string[] {
  const files: string[] = [];
  const fill = (prefix: string, depth: number) => {
    const names = [...NAMES].sort(() => next() - 0.5).slice(0, Math.floor(next() * 8));
    for (const name of names) {
      if (depth < 4 && next() < 0.4) fill(`${prefix}${name}/`, depth + 1);
      else files.push(prefix + name);
    }
  };
  fill("", 0);
  return files;
}

Deno.test("walkFiles: a folder's name sorts as name + '/', which is the global order of the paths (a-b, a.txt, a/b, a0)", async () => {
  const root = await Deno.makeTempDir({ prefix: "envelope-walk-" });
  try {
    const want = await makeFiles(root, ["a/b", "a.txt", "a-b", "a0", "a/c/d", "a/c.e", "ab", "b/a", "b/a0", "b/a.x/y"]);
    assert.deepEqual(want, ["a-b", "a.txt", "a/b", "a/c.e", "a/c/d", "a0", "ab", "b/a", "b/a.x/y", "b/a0"]);
    // Sorting each folder by its plain names would put a/ before a-b and a.txt: the walk does not.
    assert.deepEqual(await collect(walkFiles(root)), want);
    assert.deepEqual(
      await collect(walkFiles(root, { keep: (rel) => !rel.startsWith("b/") })),
      ["a-b", "a.txt", "a/b", "a/c.e", "a/c/d", "a0", "ab"],
      "keep sees the relative path",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("walkFiles: generated trees with names on both sides of '/' come out as the sorted list of their paths", async () => {
  const next = random(20261);
  for (let n = 0; n < 40; n++) {
    const root = await Deno.makeTempDir({ prefix: "envelope-walk-" });
    try {
      const want = await makeFiles(root, randomTree(next));
      assert.deepEqual(await collect(walkFiles(root)), want, `tree ${n}`);
      assert.deepEqual(await countFiles(root), { files: want.length, skipped: 0 }, `tree ${n}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("walkFiles: links are counted and not followed; temporary files, this run's or a killed run's, are left out", async () => {
  const root = await Deno.makeTempDir({ prefix: "envelope-walk-" });
  try {
    await makeFiles(root, ["d/x", "y"]);
    await Deno.symlink("y", join(root, "link"));
    await Deno.symlink("d", join(root, "dlink"));
    // Named as temp_files.ts names them: ours (this process) and a dead one's.
    await Deno.writeTextFile(join(root, "d", `.x.envl.envelope-${Deno.pid}-0123456789ab.part`), "");
    await Deno.writeTextFile(join(root, "d", `.x.envl.envelope-${Deno.pid + 1}-0123456789ab.part`), "");
    let skipped = 0;
    // A killed run's .part is a leftover for a sweep, not a file to encrypt (a review found it encrypted to junk).
    assert.deepEqual(await collect(walkFiles(root, { onSkipped: () => skipped++ })), ["d/x", "y"]);
    assert.equal(skipped, 2);
    const seen: string[] = [];
    assert.deepEqual(await countFiles(root, { keep: (rel) => rel !== "y" }, (rel) => void seen.push(rel)), {
      files: 1,
      skipped: 2,
    });
    assert.deepEqual(seen, ["d/x"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("batch: a folder removed while the run walks the tree fails as one item, and the run goes on with the rest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-walk-gone-" });
  const make = async () => {
    for (const f of ["a", "b", "c"]) {
      await Deno.mkdir(join(dir, f), { recursive: true });
      for (const n of ["1", "2", "3"]) await Deno.writeTextFile(join(dir, f, n), n);
    }
  };
  try {
    // The walk lists the top folder, enters a/; b/ is removed before the walk reaches it.
    await make();
    const gone: string[] = [];
    const walked: string[] = [];
    for await (const rel of walkFiles(dir, { onUnreadable: (rel) => void gone.push(rel) })) {
      walked.push(rel);
      if (rel === "a/1") await Deno.remove(join(dir, "b"), { recursive: true });
    }
    assert.deepEqual(gone, ["b"]);
    assert.deepEqual(walked, ["a/1", "a/2", "a/3", "c/1", "c/2", "c/3"]);
    // Without the callback the walk throws, as a walk always did.
    await make();
    await assert.rejects(async () => {
      for await (const rel of walkFiles(dir)) {
        if (rel === "a/1") await Deno.remove(join(dir, "b"), { recursive: true });
      }
    });
    // A batch: counted with b/, which goes while a/1 is worked on; the run ends every other file and exits 1.
    await make();
    const { total, code, seen } = await batchOver(dir, undefined, async (rel) => {
      if (rel === "a/1") await Deno.remove(join(dir, "b"), { recursive: true });
    });
    assert.equal(total, 9);
    assert.equal(code, 1, "the removed folder is a failure");
    assert.deepEqual(seen, ["a/1", "a/2", "a/3", "c/1", "c/2", "c/3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("walkFiles: a folder swapped for a link while the walk goes on is never followed out of the tree", async () => {
  const base = await Deno.makeTempDir({ prefix: "envelope-walk-swap-" });
  try {
    const tree = join(base, "tree");
    const outside = join(base, "private");
    await Deno.mkdir(join(outside, "z"), { recursive: true });
    await Deno.writeTextFile(join(outside, "passwords.txt"), "secret");
    await Deno.writeTextFile(join(outside, "z", "passwords.txt"), "secret");
    // The folder itself swapped after its parent was listed: lstat sees the link, and it is passed over as one.
    await Deno.mkdir(join(tree, "z"), { recursive: true });
    await Deno.writeTextFile(join(tree, "a.txt"), "a");
    await Deno.writeTextFile(join(tree, "z", "inner.txt"), "z");
    let skipped = 0;
    const walked: string[] = [];
    for await (const rel of walkFiles(tree, { onSkipped: () => skipped++ })) {
      walked.push(rel);
      if (rel === "a.txt") {
        await Deno.remove(join(tree, "z"), { recursive: true });
        await Deno.symlink(outside, join(tree, "z"));
      }
    }
    assert.deepEqual(walked, ["a.txt"]);
    assert.equal(skipped, 1);
    // A folder above it swapped after it was entered: the next folder's real path is outside the tree, so it is
    // unreadable, and nothing of it is yielded.
    await Deno.remove(tree, { recursive: true });
    await Deno.mkdir(join(tree, "y", "z"), { recursive: true });
    await Deno.writeTextFile(join(tree, "y", "a.txt"), "a");
    await Deno.writeTextFile(join(tree, "y", "z", "inner.txt"), "z");
    const gone: { rel: string; code?: string }[] = [];
    walked.length = 0;
    for await (
      const rel of walkFiles(tree, {
        onUnreadable: (rel, e) => void gone.push({ rel, code: (e as { code?: string }).code }),
      })
    ) {
      walked.push(rel);
      if (rel === "y/a.txt") {
        await Deno.remove(join(tree, "y"), { recursive: true });
        await Deno.symlink(outside, join(tree, "y"));
      }
    }
    assert.deepEqual(walked, ["y/a.txt"]);
    assert.deepEqual(gone, [{ rel: "y/z", code: "UNSAFE_PATH" }]);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("batch: a file whose folder was swapped for a link after the walk listed it is refused before it is opened", async () => {
  const base = await Deno.makeTempDir({ prefix: "envelope-walk-input-swap-" });
  try {
    const tree = join(base, "tree");
    const outside = join(base, "private");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "b"), "secret");
    await Deno.mkdir(join(tree, "y"), { recursive: true });
    for (const n of ["a", "b"]) await Deno.writeTextFile(join(tree, "y", n), n);
    const { code, seen } = await batchOver(tree, join(base, "out"), async (rel) => {
      if (rel === "y/a") {
        // y/ was listed already (a, b); now it leads elsewhere, where a b waits.
        await Deno.remove(join(tree, "y"), { recursive: true });
        await Deno.symlink(outside, join(tree, "y"));
      }
    });
    assert.equal(code, 1, "the swapped folder's file is a failure");
    assert.deepEqual(seen, ["y/a"], "y/b is never handed to the work, so never opened");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("countFiles: a folder that cannot be read while counting is told to onUnreadable, and the count goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-count-gone-" });
  try {
    for (const f of ["a", "b", "c"]) {
      await Deno.mkdir(join(dir, f));
      for (const n of ["1", "2"]) await Deno.writeTextFile(join(dir, f, n), n);
    }
    const gone: string[] = [];
    const counted = await countFiles(dir, { onUnreadable: (rel) => void gone.push(rel) }, async (rel) => {
      if (rel === "a/1") await Deno.remove(join(dir, "b"), { recursive: true });
    });
    assert.deepEqual(gone, ["b"]);
    assert.deepEqual(counted, { files: 4, skipped: 0 });
    // Without the callback the count throws, as it did.
    await Deno.mkdir(join(dir, "b"));
    await assert.rejects(() =>
      countFiles(dir, {}, async (rel) => {
        if (rel === "a/1") await Deno.remove(join(dir, "b"), { recursive: true });
      })
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * An `encrypt -r` batch over `tree` (to `outDir`, else beside each file) whose work does no encryption: it records each
 * file it is handed (relative to the tree), calls `during` with it, and reports it done. For what the batch hands out.
 */
async function batchOver(
  tree: string,
  outDir: string | undefined,
  during: (rel: string) => Promise<void>,
): Promise<{ total: number; code: number; seen: string[] }> {
  const plan = await planFiles([tree], true, outDir, {
    command: "encrypt",
    keep: () => true,
    outputRel: (rel) => rel + ".envl",
    outputOf: (input) => input + ".envl",
    folderHint: "",
  });
  const seen: string[] = [];
  const code = await runBatch(
    "encrypt",
    "encrypted",
    plan,
    { skipExisting: false, keyCache: false, jobs: 1 },
    async (j) => {
      const rel = j.input.slice(tree.length + 1);
      seen.push(rel);
      await during(rel);
      return { input: j.input, output: j.output, format: "envelope", bytesIn: 1, bytesOut: 1, keys: [] };
    },
  );
  return { total: plan.total, code, seen };
}
