/**
 * Bounded memory for many-file folders: `encrypt -d`, `decrypt -d` and both with `--format nitro` (AWS KMS served by
 * moto) of a seeded tree of 6,000 files (tests/support/tree_gen.ts) run as subprocesses whose peak resident size
 * (VmHWM) must stay under 160 MiB, and must not grow by more than 32 MiB from a tree of a quarter as many files (the
 * old zip writer held a native zlib stream per file: about 600 MiB for 10,000 files). Bounded by size, not timed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalKey } from "../src/keys/local.ts";
import { cliArgv, cliEnv } from "./support/cli.ts";
import { startMoto } from "./support/moto.ts";
import { runMeasured } from "./support/peak_rss.ts";
import { makeTree } from "./support/tree_gen.ts";

const MiB = 1024 * 1024;
const BOUND = 160 * MiB;
const MAX_GROWTH = 32 * MiB;

Deno.test({
  name: "cli: -d keeps peak memory bounded and flat in the number of files, envelope and Nitro formats",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "envelope-dir-mem-" });
    const moto = await startMoto();
    try {
      const arn = await moto.createKey("dir memory");
      const home = join(dir, "home");
      await Deno.mkdir(home);
      const env = await cliEnv(home, { ...moto.env(), TMPDIR: dir });
      const key = await LocalKey.generate();
      await Deno.writeTextFile(join(dir, "k.key"), key.toText(), { mode: 0o600 });
      const run = async (args: string[]) => {
        const r = await runMeasured(Deno.execPath(), cliArgv(args), { cwd: dir, env });
        assert.equal(r.code, 0, `${args.join(" ")}\n${r.stderr}`);
        return r.peakRss;
      };
      const peaks = async (files: number) => {
        const tree = `tree-${files}`;
        await makeTree(join(dir, tree), { files, totalBytes: files * 8 * 1024, seed: 7 });
        const k = ["-k", "local:k.key"];
        return {
          "encrypt -d": await run(["encrypt", "-d", tree, ...k, "-o", `${tree}.envl`]),
          "decrypt -d": await run(["decrypt", `${tree}.envl`, ...k, "-d", `${tree}-out`]),
          "encrypt -d --format nitro": await run([
            "encrypt",
            "-d",
            tree,
            "--format",
            "nitro",
            "-k",
            arn,
            "-o",
            `${tree}.nitro`,
          ]),
          "decrypt -d (nitro)": await run([
            "decrypt",
            `${tree}.nitro`,
            "--format",
            "nitro",
            "-k",
            arn,
            "-d",
            `${tree}-n`,
          ]),
        };
      };
      const small = await peaks(1_500);
      const big = await peaks(6_000);
      for (const [step, peak] of Object.entries(big)) {
        const before = small[step as keyof typeof small];
        const shown = `${step}: ${(peak / MiB).toFixed(0)} MiB for 6,000 files, ${
          (before / MiB).toFixed(0)
        } MiB for 1,500`;
        assert.ok(before > 0, "VmHWM was read");
        assert.ok(peak < BOUND, `${shown} (bound: ${BOUND / MiB} MiB)`);
        assert.ok(peak - before < MAX_GROWTH, `${shown} (bound: +${MAX_GROWTH / MiB} MiB)`);
      }
    } finally {
      await moto.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: encrypt -d of a 1 GB file that compresses well keeps peak memory flat",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // Its 1 MiB pieces deflate to almost nothing, so the output paces no collection: a fresh read buffer and a fresh
    // copy for the worker per piece piled up to 155 MiB (162 MiB for 3.9 GB) before the buffers were reused.
    const dir = await Deno.makeTempDir({ prefix: "envelope-dir-mem-zeros-" });
    try {
      const home = join(dir, "home");
      await Deno.mkdir(home);
      await Deno.mkdir(join(dir, "tree"));
      const f = await Deno.open(join(dir, "tree", "zeros.img"), { write: true, create: true });
      await f.truncate(1_000_000_000); // sparse: no disk blocks
      f.close();
      const key = await LocalKey.generate();
      await Deno.writeTextFile(join(dir, "k.key"), key.toText(), { mode: 0o600 });
      const env = await cliEnv(home, { TMPDIR: dir });
      const args = ["encrypt", "-d", "tree", "-k", "local:k.key", "-o", "tree.envl"];
      const r = await runMeasured(Deno.execPath(), cliArgv(args), { cwd: dir, env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.peakRss > 0, "VmHWM was read");
      assert.ok(r.peakRss < 128 * MiB, `peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB (bound: 128 MiB)`);
      const back = await runMeasured(
        Deno.execPath(),
        cliArgv(["decrypt", "tree.envl", "-k", "local:k.key", "-o", "tree.zip"]),
        { cwd: dir, env },
      );
      assert.equal(back.code, 0, back.stderr);
      assert.ok((await Deno.stat(join(dir, "tree.zip"))).size < 2 * MiB, "the zeros were deflated");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
