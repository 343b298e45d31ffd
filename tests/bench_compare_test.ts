/**
 * The pieces of scripts/bench_compare.ts whose correctness the published
 * table rests on (no timing is asserted here): the application folder is the
 * same tree for the same seed and size, holds exactly the bytes asked for,
 * and changes with the seed; the EVP program round-trips and refuses a
 * flipped byte; GNU time's report is read; the probe of the CLI's
 * several-files mode tells the two kinds of CLI apart (stand-ins written in
 * sh, so the test holds whichever the real CLI is); the medians are medians.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { appFolder } from "../scripts/bench/inputs.ts";
import { median, timed } from "../scripts/bench/measure.ts";
import { fmt } from "../scripts/bench/report.ts";
import { buildEvp, probeManyFiles } from "../scripts/bench/setup.ts";

async function walk(dir: string, rel = ""): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const e of Deno.readDir(join(dir, rel))) {
    const r = join(rel, e.name);
    if (e.isDirectory) { for (const [k, v] of await walk(dir, r)) found.set(k, v); }
    else found.set(r, (await Deno.stat(join(dir, r))).size);
  }
  return found;
}

Deno.test("bench inputs: the application folder is reproducible, exact in size, and follows the seed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-bench-inputs-" });
  try {
    const bytes = 3 * 1024 * 1024 + 17;
    const a = await appFolder(join(tmp, "a"), bytes);
    const b = await appFolder(join(tmp, "b"), bytes);
    const c = await appFolder(join(tmp, "c"), bytes, 17);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(a.fingerprint, c.fingerprint);
    const filesA = await walk(join(tmp, "a"));
    assert.deepEqual([...filesA].sort(), [...(await walk(join(tmp, "b")))].sort());
    assert.equal(filesA.size, a.files);
    assert.equal(a.files, Math.round(bytes / (200 * 1024 * 1024 / 10_000)));
    assert.equal([...filesA.values()].reduce((x, y) => x + y, 0), bytes);
    assert.ok(a.textFiles > 0 && a.textFiles < a.files, `text and binary files both present (${a.textFiles})`);
    for (const [rel] of filesA) {
      if (/\.(py|js|json|md|txt|html|css|yaml|sh|ts)$/.test(rel)) {
        const text = await Deno.readFile(join(tmp, "a", rel));
        assert.ok(text.every((x) => x === 10 || (x >= 32 && x < 127)), `${rel} is printable text`);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bench EVP program: round-trips under GNU time and refuses a flipped byte", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "envelope-bench-evp-" }));
  try {
    const evp = await buildEvp(tmp, false);
    const key = join(tmp, "k");
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(32)));
    const plain = new Uint8Array(3 * 1024 * 1024 + 5); // three 1 MiB reads and a short one
    for (let o = 0; o < plain.length; o += 65536) crypto.getRandomValues(plain.subarray(o, o + 65536));
    await Deno.writeFile(join(tmp, "p"), plain);
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    const r = await timed([evp, "enc", key, "p", "c"], { env, cwd: tmp });
    assert.ok(r.rssKiB > 0 && r.cpuSeconds >= 0 && r.seconds > 0, JSON.stringify(r));
    const sealed = await Deno.readFile(join(tmp, "c"));
    assert.equal(sealed.length, plain.length + 28);
    await timed([evp, "dec", key, "c", "d"], { env, cwd: tmp });
    assert.deepEqual(await Deno.readFile(join(tmp, "d")), plain);
    sealed[1000] ^= 1;
    await Deno.writeFile(join(tmp, "c"), sealed);
    await assert.rejects(timed([evp, "dec", key, "c", "d"], { env, cwd: tmp }), /verifying the tag failed/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bench report: medians and number formatting", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(fmt(1234.5), "1,235");
  assert.equal(fmt(12.34), "12.3");
  assert.equal(fmt(1.234), "1.23");
});

// Stand-ins for the CLI: `sh FAKE encrypt -k KEY FILE...` as the probe calls it.
const SEVERAL = `cmd=$1; shift 3
for f in "$@"; do if [ "$cmd" = encrypt ]; then cp "$f" "$f.sealed"; else cp "$f" "\${f%.sealed}"; fi; done`;
const ONE = `cmd=$1; shift 3
if [ $# -ne 1 ]; then echo "error: one input at a time" >&2; exit 2; fi
cp "$1" "$1.envl"`;

Deno.test("bench probe: finds whether the CLI takes several files per run, and its output suffix", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "envelope-bench-probe-" }));
  try {
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    await Deno.writeTextFile(join(tmp, "several.sh"), SEVERAL);
    await Deno.writeTextFile(join(tmp, "one.sh"), ONE);
    const key = join(tmp, "k.key");
    assert.deepEqual(await probeManyFiles(["sh", join(tmp, "several.sh")], env, tmp, key), {
      several: true,
      suffix: ".sealed",
      severalDecrypt: true,
    });
    assert.deepEqual(await probeManyFiles(["sh", join(tmp, "one.sh")], env, tmp, key), {
      several: false,
      suffix: ".envl",
      severalDecrypt: false,
    });
    assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name).sort(), ["one.sh", "several.sh"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
