/**
 * Folders through the CLI, beside the Nitro sample's Python method: a seeded
 * application-like tree (tests/support/tree_gen.ts: 10,000 files, 200 MiB,
 * mixed text and random binary; `--quick`: 1,000 files, 20 MiB) is run
 * through
 *
 * - `envelope encrypt -d` (local key) and `decrypt -d` of its output,
 * - `envelope encrypt -d --format nitro` (AWS KMS served by moto) and
 *   `decrypt -d` of that,
 * - the Python replica of the sample's `envelope_encryptor.py`
 *   (`shutil.make_archive`, then one whole-file Fernet token), and the
 *   Python decrypt of its output (KMS Decrypt, Fernet, `unpack_archive`),
 *
 * each under GNU time (scripts/bench/measure.ts: wall time around the process, user and system CPU, peak RSS), and
 * prints a table: MB/s (10^6 bytes of the tree's files per wall second,
 * including the runtime's start), CPU seconds (user and system) and their
 * ratio to wall seconds, peak RSS.
 * Every extracted tree is compared with the source.
 *
 *   deno run -A scripts/bench_dirs.ts [--quick] [--files N] [--mib N] [--seed N] [--tmp DIR] [--baseline DIR] [--runs N]
 *
 * `--runs N` keeps the fastest of N runs of each step (and the highest peak
 * RSS seen), which damps the noise of a shared machine.
 *
 * `--baseline DIR` also runs each envelope step with the CLI of another
 * checkout (say `git archive main | tar -x -C DIR`), right before this
 * one's, so a before/after comparison shares the machine's load.
 *
 * Needs GNU time, python3 with `cryptography`, `boto3` and `moto`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalKey } from "../src/keys/local.ts";
import { cliArgv, cliEnv } from "../tests/support/cli.ts";
import { startMoto } from "../tests/support/moto.ts";
import { makeTree } from "../tests/support/tree_gen.ts";
import { loadAverage, type Run, timed as measured } from "./bench/measure.ts";

const MiB = 1024 * 1024;
const quick = Deno.args.includes("--quick");
function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1] : fallback;
}
const files = Number(flag("files", quick ? "1000" : "10000"));
const mib = Number(flag("mib", quick ? "20" : "200"));
const seed = Number(flag("seed", "1"));
const tmpRoot = flag("tmp", Deno.env.get("TMPDIR") ?? "/tmp");
const baseline = flag("baseline", "");
const runs = Math.max(1, Number(flag("runs", "1")));
const SUPPORT = new URL("../tests/support/", import.meta.url).pathname;

/** One timed run (scripts/bench/measure.ts: wall time around the process, CPU and peak RSS from GNU time). */
type Timed = Run;

function timed(argv: string[], env: Record<string, string>, cwd: string): Promise<Timed> {
  return measured(argv, { env, cwd });
}

/** A digest of every path (folders too) and file's bytes and mode under `root`. */
async function digest(root: string, modes = true): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string) => {
    const entries = (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        h.update(`d ${p}\n`);
        await walk(p);
      } else {
        const st = await Deno.stat(join(root, p));
        h.update(`f ${p} ${modes && (st.mode ?? 0) & 0o111 ? "x" : "-"}\n`);
        h.update(await readFile(join(root, p)));
      }
    }
  };
  await walk("");
  return h.digest("hex");
}

const PY_DECRYPT = `
import base64, boto3, shutil, sys
from cryptography.fernet import Fernet
data = open(sys.argv[1], "rb").read()
n = int.from_bytes(data[:4], "big")
key = boto3.client("kms").decrypt(CiphertextBlob=data[4:4 + n])["Plaintext"]
plain = Fernet(base64.b64encode(key)).decrypt(data[4 + n:])
open("application_code.zip", "wb").write(plain)
del plain, data
shutil.unpack_archive("application_code.zip", sys.argv[2], "zip")
`;

const dir = await Deno.makeTempDir({ dir: tmpRoot, prefix: "envelope-bench-dirs-" });
const moto = await startMoto();
try {
  const home = join(dir, "home");
  await Deno.mkdir(home);
  const tree = join(dir, "tree");
  console.error(`writing ${files} files, ${mib} MiB (seed ${seed}) to ${tree}`);
  const stats = await makeTree(tree, { files, totalBytes: mib * MiB, seed });
  const want = await digest(tree);
  // Python's unpack_archive does not restore execute bits, so its tree is compared without them.
  const wantNoModes = await digest(tree, false);
  const arn = await moto.createKey("bench");
  await moto.createAlias("enclavekey", arn);
  const env = await cliEnv(home, { ...moto.env(), AWS_DEFAULT_REGION: moto.region });
  const key = await LocalKey.generate();
  await Deno.writeTextFile(join(dir, "bench.key"), key.toText(), { mode: 0o600 });
  const deno = Deno.execPath();
  const cli = (args: string[]) => [deno, ...cliArgv(args)];
  const baseCli = (args: string[]) => [
    deno,
    "run",
    "-A",
    "--quiet",
    "--config",
    join(baseline, "deno.json"),
    join(baseline, "mod.ts"),
    ...args,
  ];
  await timed(cli(["--version"]), env, dir);
  if (baseline) await timed(baseCli(["--version"]), env, dir);
  const loadBefore = await loadAverage();

  const rows: { step: string; t: Timed }[] = [];
  const step = async (name: string, argv: string[], out?: string, modes = true, after?: () => Promise<void>) => {
    console.error(`${name} ...`);
    let best: Timed | undefined;
    for (let i = 0; i < runs; i++) {
      const t = await timed(argv, env, dir);
      if (out !== undefined) {
        if ((await digest(join(dir, out), modes)) !== (modes ? want : wantNoModes)) {
          throw new Error(`${name}: the extracted tree differs from the source`);
        }
        await Deno.remove(join(dir, out), { recursive: true });
      }
      if (i < runs - 1) await after?.();
      best = best === undefined
        ? t
        : { ...(t.seconds < best.seconds ? t : best), rssKiB: Math.max(t.rssKiB, best.rssKiB) };
    }
    rows.push({ step: name, t: best! });
  };

  const py = join(dir, "py");
  await Deno.mkdir(py);
  await step(
    "python: make_archive + Fernet (the sample)",
    ["python3", join(SUPPORT, "compat_envelope_encryptor.py"), "encrypt", "-d", tree, "-k", "alias/enclavekey"],
    undefined,
    true,
    () => Deno.remove(join(dir, "application_code.zip.encrypted")),
  );
  // The replica writes into its working folder, which is `dir` here.
  await Deno.rename(join(dir, "application_code.zip.encrypted"), join(py, "app.encrypted"));
  await step(
    "python: Fernet decrypt + unpack_archive",
    ["python3", "-c", PY_DECRYPT, join(py, "app.encrypted"), join(dir, "out-py")],
    "out-py",
    false,
  );
  await Deno.remove(join(dir, "application_code.zip")).catch(() => {});
  const ours = async (name: string, args: string[], out?: string) => {
    if (baseline) await step(`${name} (baseline)`, baseCli(args), out);
    await step(name, cli(args), out);
  };
  await ours("envelope encrypt -d", ["encrypt", "-d", "tree", "-k", "local:bench.key", "-o", "t.envl", "--force"]);
  await ours("envelope decrypt -d", ["decrypt", "t.envl", "-k", "local:bench.key", "-d", "out-env"], "out-env");
  await ours(
    "envelope encrypt -d --format nitro",
    ["encrypt", "-d", "tree", "--format", "nitro", "-k", "alias/enclavekey", "-o", "t.nitro", "--force"],
  );
  await ours(
    "envelope decrypt -d (nitro file)",
    ["decrypt", "t.nitro", "--format", "nitro", "-k", "alias/enclavekey", "-d", "out-nitro"],
    "out-nitro",
  );

  const load = await loadAverage();
  const pyEnc = rows[0].t.seconds;
  const pyDec = rows[1].t.seconds;
  const lines = [
    `Tree: ${stats.files} files in ${stats.folders} folders, ${(stats.bytes / MiB).toFixed(0)} MiB (${
      (100 * stats.textBytes / stats.bytes).toFixed(0)
    }% text), seed ${seed}; ${navigator.hardwareConcurrency} cores, load average ${loadBefore} before the runs, ${load} after; Deno ${Deno.version.deno}; ${
      new Date().toISOString()
    }`,
    "",
    `${runs === 1 ? "One run each" : `Fastest of ${runs} runs each, highest peak RSS`}.`,
    "",
    "| step | wall s | MB/s | CPU s | CPU s / wall s | peak RSS MiB | vs Python |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { step, t } of rows) {
    const base = step.includes("decrypt") ? pyDec : pyEnc;
    lines.push(
      `| ${step} | ${t.seconds.toFixed(2)} | ${(stats.bytes / 1e6 / t.seconds).toFixed(1)} | ${
        t.cpuSeconds.toFixed(2)
      } | ${(t.cpuSeconds / t.seconds).toFixed(2)} | ${(t.rssKiB / 1024).toFixed(0)} | ${
        (base / t.seconds).toFixed(2)
      }x |`,
    );
  }
  lines.push("", "MB/s: 10^6 bytes of file contents per wall second, runtime start included.");
  console.log(lines.join("\n"));
} finally {
  await moto.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
