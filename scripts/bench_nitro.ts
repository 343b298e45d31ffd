/**
 * `deno run -A scripts/bench_nitro.ts [MiB...]`: the Nitro-enclave format
 * through the real CLI at sizes up to its 1 GiB bound. For each plaintext
 * size it writes a Nitro file (streamed, tests/support/nitro_big.ts), runs
 * `envelope decrypt FILE --data-key K -o OUT` and `... - < FILE` (stdin,
 * spooled) as subprocesses, checks every byte that came back, and prints a
 * table of throughput (MB = 10^6 bytes of plaintext, wall time including the
 * runtime's start-up) and peak resident size (VmHWM, polled from /proc).
 * Default sizes: 1, 64, 256 and 1024 MiB. Needs about 2.5x the largest size
 * of free disk in $TMPDIR.
 *
 * @module
 */
import { join } from "node:path";
import { randomBytes } from "../src/crypto/random.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { runMeasured } from "../tests/support/peak_rss.ts";
import { isPattern, writeNitroFile } from "../tests/support/nitro_big.ts";

const MiB = 1024 * 1024;
const ROOT = new URL("..", import.meta.url).pathname;
const sizes = Deno.args.length > 0 ? Deno.args.map((a) => Number(a) * MiB) : [1, 64, 256, 1024].map((m) => m * MiB);
const dir = await Deno.makeTempDir({ prefix: "envelope-bench-nitro-" });
const key = randomBytes(32);
const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
const env = { HOME: dir, DENO_DIR: denoDir, NO_COLOR: "1", TMPDIR: dir };
const cli = (out: string) => [join(ROOT, "mod.ts"), "decrypt", "--data-key", encodeBase64(key), "-o", out];

const rows: string[] = [];
try {
  for (const size of sizes) {
    const file = join(dir, "in.nitro");
    await writeNitroFile(file, size, key);
    const fileBytes = (await Deno.stat(file)).size;
    for (const viaStdin of [false, true]) {
      const out = join(dir, "out.zip");
      const args = viaStdin
        ? [
          "-c",
          `c="$1"; shift; exec "$0" run -A --config "$c" "$@" - < "$IN"`,
          Deno.execPath(),
          join(ROOT, "deno.json"),
        ]
          .concat(cli(out))
        : ["run", "-A", "--config", join(ROOT, "deno.json"), ...cli(out), file];
      const r = await runMeasured(viaStdin ? "sh" : Deno.execPath(), args, { env: { ...env, IN: file } });
      if (r.code !== 0) throw new Error(`decrypt of ${size} bytes failed:\n${r.stderr}`);
      if (!(await isPattern(out, size))) throw new Error(`decrypt of ${size} bytes gave different bytes`);
      await Deno.remove(out);
      rows.push(
        `| ${(size / MiB).toFixed(0)} MiB | ${(fileBytes / MiB).toFixed(1)} MiB | ${
          viaStdin ? "stdin (spooled)" : "file"
        } | ${(size / 1e6 / r.seconds).toFixed(0)} MB/s | ${r.seconds.toFixed(2)} s | ${
          (r.peakRss / MiB).toFixed(0)
        } MiB |`,
      );
      console.error(rows.at(-1));
    }
    await Deno.remove(file);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
const load = await Deno.readTextFile("/proc/loadavg").catch(() => "?");
console.log(
  `## Nitro-enclave decrypt through the CLI (Deno ${Deno.version.deno}, load average ${
    load.split(" ").slice(0, 3).join(" ")
  })

| plaintext | file | input | throughput | wall time | peak RSS |
| --------: | ---: | ----- | ---------: | --------: | -------: |
${rows.join("\n")}`,
);
