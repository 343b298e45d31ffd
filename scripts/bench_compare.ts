/**
 * `deno task bench:compare`: envelope beside the tools a reader would
 * otherwise use, on the same inputs in one run (issue 16). Prints one
 * markdown table per input and a table of the ratios the project's bars are
 * stated in; docs/benchmarks.md ("Side by side") describes the method.
 *
 *   deno run -A scripts/bench_compare.ts [--quick] [--size MiB] [--reps N] [--tmp DIR] [--tmpfs]
 *
 * Inputs (default / --quick): a random file of 1 GiB / 64 MiB (--size), one
 * four times as large for the flatness of peak RSS, an application folder of
 * 200 MiB in 10,000 mixed files / 20 MiB in 1,000 (scripts/bench/inputs.ts,
 * reproducible from a seed), and 10,000 / 1,000 files of 4 KiB. Each child
 * runs under /usr/bin/time (peak RSS, CPU); the contenders of a table are
 * interleaved within each repetition (3 / 1, --reps), starting one further
 * along each time, and every decrypted output of the first repetition is
 * compared with its input. The large-file table also has Deno's WebCrypto
 * AES-GCM with nothing around it (scripts/bench/webcrypto_ceiling.ts): the
 * most any Deno pipeline could reach on the machine. `--tmpfs` (root) runs
 * the folder table, and the rows of the 4 KiB table that make files, a
 * second time on a tmpfs mounted under the temporary folder, where making
 * thousands of files costs only the tools' own work.
 * Everything lives in one temporary folder removed
 * at the end; the network is used only by npm (the SDK and the packed
 * package's dependencies) and apt-get (GNU time or libssl-dev, if missing).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalKey } from "../src/keys/local.ts";
import { cliArgv, cliEnv } from "../tests/support/cli.ts";
import { startMoto } from "../tests/support/moto.ts";
import { machineLine } from "./machine.ts";
import { loadAverage, needGnuTime, type Run, RunFailed, timed } from "./bench/measure.ts";
import { type AppFolder, appFolder, randomFile, smallFiles } from "./bench/inputs.ts";
import { cpuPerWall, fmt, medianRate, peakMiB, type Row, type Sample, table } from "./bench/report.ts";
import {
  buildEvp,
  installNodeCli,
  installSdk,
  probeManyFiles,
  SDK_PACKAGE,
  SDK_SCRIPT,
  SDK_VERSION,
  SetupFailed,
} from "./bench/setup.ts";

const MiB = 1024 * 1024;
const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const SUPPORT = join(ROOT, "tests", "support");
/** The runtime's own AES-GCM in memory (scripts/bench/webcrypto_ceiling.ts): what no Deno pipeline can pass. */
const CEILING_SCRIPT = join(ROOT, "scripts", "bench", "webcrypto_ceiling.ts");
const CEILING = "Deno WebCrypto AES-256-GCM alone (64 KiB, 16 in flight, in memory, no I/O)";

interface Options {
  quick: boolean;
  fileBytes: number;
  folderBytes: number;
  smallCount: number;
  reps: number;
  tmp: string;
  tmpfs: boolean;
}

function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) usage(`${name} needs a value`);
    return v;
  };
  const known = new Set(["--quick", "--size", "--reps", "--tmp", "--tmpfs"]);
  for (let i = 0; i < args.length; i++) {
    if (!known.has(args[i])) usage(`unknown argument ${args[i]}`);
    if (args[i] !== "--quick" && args[i] !== "--tmpfs") i++;
  }
  const size = Number(value("--size") ?? (quick ? 64 : 1024));
  const reps = Number(value("--reps") ?? (quick ? 1 : 3));
  if (!Number.isInteger(size) || size < 1 || size > 16384) usage("--size takes MiB, 1 to 16384");
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) usage("--reps takes 1 to 20");
  return {
    quick,
    fileBytes: size * MiB,
    folderBytes: (quick ? 20 : 200) * MiB,
    smallCount: quick ? 1000 : 10_000,
    reps,
    tmp: value("--tmp") ?? Deno.env.get("TMPDIR") ?? "/tmp",
    tmpfs: args.includes("--tmpfs"),
  };
}

function usage(problem: string): never {
  console.error(`error: Reading the arguments failed: ${problem}`);
  console.error("hint: deno run -A scripts/bench_compare.ts [--quick] [--size MiB] [--reps N] [--tmp DIR] [--tmpfs]");
  Deno.exit(2);
}

function sizeLabel(bytes: number): string {
  return bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`;
}

function hex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exec(cmd: string, args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
    return { code: o.code, out: text.trim() };
  } catch (e) {
    return { code: -1, out: (e as Error).message };
  }
}

async function need(cmd: string, args: string[], install: string): Promise<string> {
  const r = await exec(cmd, args);
  if (r.code !== 0) throw new SetupFailed(`${cmd} is needed (${r.out.split("\n")[0]}): ${install}`);
  return r.out.split("\n")[0];
}

/** True when the two files hold the same bytes (`cmp -s`). */
async function same(a: string, b: string): Promise<boolean> {
  return (await exec("cmp", ["-s", a, b])).code === 0;
}

async function rm(...paths: string[]): Promise<void> {
  for (const p of paths) await Deno.remove(p, { recursive: true }).catch(() => {});
}

function sample(run: Run, rate: number): Sample {
  return { rate, seconds: run.seconds, rssKiB: run.rssKiB, cpuSeconds: run.cpuSeconds };
}

/** `list` rotated left by `k` (the interleaving starts one contender further along each repetition). */
function rotate<T>(list: readonly T[], k: number): T[] {
  const n = k % list.length;
  return [...list.slice(n), ...list.slice(0, n)];
}

const opts = parseOptions(Deno.args);
const started = new Date();
const loadBefore = await loadAverage();
const log = (s: string) =>
  console.error(`[bench:compare ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${s}`);

await needGnuTime();
const versions = {
  openssl: await need("openssl", ["version"], "apt-get install openssl"),
  node: await need("node", ["--version"], "install Node 20+ and npm"),
  npm: await need("npm", ["--version"], "install npm"),
  python: await need(
    "python3",
    ["-c", "import cryptography, boto3, moto; print(cryptography.__version__)"],
    "install python3 with cryptography, boto3 and moto",
  ),
};

const dir = await Deno.realPath(await Deno.makeTempDir({ dir: opts.tmp, prefix: "envelope-bench-compare-" }));
const disk = await fileSystemOf(dir);

/**
 * The file system the run writes to, as a reader needs it to compare runs: its type and device, and for ext4
 * whether it keeps a journal (without one, ext4 skips recently freed inodes when it makes a file, which on a disk
 * where many files were just deleted dominates the time of every contender that makes thousands of files).
 */
async function fileSystemOf(path: string): Promise<string> {
  const r = await exec("findmnt", ["-n", "-o", "FSTYPE,SOURCE", "--target", path]);
  if (r.code !== 0) return "unknown";
  const [type, source] = r.out.split(/\s+/);
  if (type !== "ext4") return `${type} (${source})`;
  const name = source.replace(/^\/dev\//, "");
  let journal = false;
  try {
    for (const e of Deno.readDirSync("/proc/fs/jbd2")) if (e.name.startsWith(`${name}-`)) journal = true;
  } catch { /* no jbd2 entries at all */ }
  return `ext4 (${source}), ${journal ? "with a journal" : "no journal"}`;
}
// The 4x file, its sealed copy and its decrypted copy are on disk at once.
const needBytes = 3 * 4 * opts.fileBytes + 4 * opts.folderBytes + 2 * 4096 * opts.smallCount;
const avail = Number((await exec("df", ["-k", "--output=avail", dir])).out.split("\n").at(-1)) * 1024;
if (avail < needBytes * 1.1) {
  await Deno.remove(dir, { recursive: true });
  console.error(
    `error: Preparing the inputs failed: ${dir} has ${(avail / MiB).toFixed(0)} MiB free, the run needs about ${
      (needBytes * 1.1 / MiB).toFixed(0)
    } MiB`,
  );
  console.error("hint: pass --tmp DIR on a larger disk, or a smaller --size");
  Deno.exit(1);
}
const out: string[] = [];
let failed = false;
const moto = await startMoto().catch(async (e) => {
  await Deno.remove(dir, { recursive: true });
  throw e;
});
/** The tmpfs mounts (`--tmpfs`) under `dir` not yet unmounted: Ctrl-C and the end unmount them before `dir` goes. */
const mounts = new Set<string>();

/** Mounts a tmpfs of `bytes` at a new folder `name` under `dir` (root only). */
async function mountTmpfs(name: string, bytes: number): Promise<string> {
  const mnt = join(dir, name);
  await Deno.mkdir(mnt);
  const mounted = await exec("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "tmpfs", mnt]);
  if (mounted.code !== 0) {
    throw new SetupFailed(`--tmpfs needs root to mount a tmpfs (${mounted.out.split("\n")[0]})`);
  }
  mounts.add(mnt);
  return mnt;
}

/** Unmounts a tmpfs of {@linkcode mountTmpfs}; one still in use (a child left running) is detached (`umount -l`). */
async function unmountTmpfs(mnt: string): Promise<void> {
  if ((await exec("umount", [mnt])).code !== 0) await exec("umount", ["-l", mnt]);
  mounts.delete(mnt);
}

// Ctrl-C (and SIGTERM, SIGHUP): the children get the signal too; stop moto, unmount, and remove the temporary folder
// before leaving.
const onInterrupt = async () => {
  console.error("interrupted: removing " + dir);
  await moto.close();
  for (const mnt of [...mounts]) await unmountTmpfs(mnt);
  await rm(dir);
  Deno.exit(130);
};
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
for (const signal of SIGNALS) Deno.addSignalListener(signal, onInterrupt);
try {
  // ---------------------------------------------------------------- setup
  const home = join(dir, "home");
  await Deno.mkdir(home);
  const arn = await moto.createKey("bench:compare key");
  const alias = await moto.createAlias("bench-compare", arn);
  const sdkDir = await installSdk();
  const env = await cliEnv(home, { ...moto.env(), AWS_DEFAULT_REGION: moto.region, SDK_DIR: sdkDir });
  const keyFile = join(dir, "bench.key");
  await Deno.writeTextFile(keyFile, (await LocalKey.generate()).toText(), { mode: 0o600 });
  const rawKey = join(dir, "raw.key"); // 32 bytes for the SDK and the EVP program
  await Deno.writeFile(rawKey, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
  const sslKey = ["-K", hex(32), "-iv", hex(16)]; // a throwaway key for this run only
  log("compiling the EVP program ...");
  const evp = await buildEvp(dir);
  log("building, packing and installing envelope's npm package ...");
  const nodeBin = await installNodeCli(dir);
  const deno = [Deno.execPath(), ...cliArgv([])];
  const node = ["node", nodeBin];
  const run = (argv: string[], cwd = dir) => timed(argv, { env, cwd });
  await run([...deno, "--version"]); // fills Deno's module cache, so no timed run compiles
  const many = await probeManyFiles(deno, env, dir, keyFile);
  log(`the CLI ${many.several ? "takes several files per run" : "takes one file per run"} (outputs *${many.suffix})`);
  const k = ["-k", `local:${keyFile}`];

  // ---------------------------------------------------------------- one large file
  const big = join(dir, "big.bin");
  log(`writing ${sizeLabel(opts.fileBytes)} of random bytes ...`);
  await randomFile(big, opts.fileBytes);
  interface FileContender {
    name: string;
    enc: (i: string, o: string) => string[];
    dec?: (i: string, o: string) => string[];
    /** The row writes no output (the WebCrypto ceiling): nothing to compare with the input. */
    noOutput?: boolean;
  }
  const fileContenders: FileContender[] = [
    {
      name: "envelope CLI, Deno",
      enc: (i, o) => [...deno, "encrypt", ...k, i, "-o", o],
      dec: (i, o) => [...deno, "decrypt", ...k, i, "-o", o],
    },
    {
      name: "envelope CLI, Node (npm package)",
      enc: (i, o) => [...node, "encrypt", ...k, i, "-o", o],
      dec: (i, o) => [...node, "decrypt", ...k, i, "-o", o],
    },
    {
      name: `AWS Encryption SDK JS ${SDK_VERSION}, default (signed, 4 KiB frames)`,
      enc: (i, o) => ["node", SDK_SCRIPT, "enc", "default", rawKey, i, o],
      dec: (i, o) => ["node", SDK_SCRIPT, "dec", "default", rawKey, i, o],
    },
    {
      name: `AWS Encryption SDK JS ${SDK_VERSION}, fastest (unsigned, 1 MiB frames)`,
      enc: (i, o) => ["node", SDK_SCRIPT, "enc", "fastest", rawKey, i, o],
      dec: (i, o) => ["node", SDK_SCRIPT, "dec", "fastest", rawKey, i, o],
    },
    {
      name: "EVP AES-256-GCM in C (one core)",
      enc: (i, o) => [evp, "enc", rawKey, i, o],
      dec: (i, o) => [evp, "dec", rawKey, i, o],
    },
    {
      name: "openssl enc -aes-256-ctr",
      enc: (i, o) => ["openssl", "enc", "-aes-256-ctr", ...sslKey, "-in", i, "-out", o],
      dec: (i, o) => ["openssl", "enc", "-d", "-aes-256-ctr", ...sslKey, "-in", i, "-out", o],
    },
    { name: "cp (the disk path)", enc: (i, o) => ["cp", i, o] },
    {
      name: CEILING,
      enc: (i, o) => [Deno.execPath(), "run", "-A", CEILING_SCRIPT, "enc", i, o],
      dec: (i, o) => [Deno.execPath(), "run", "-A", CEILING_SCRIPT, "dec", i, o],
      noOutput: true,
    },
  ];
  const fileRows = new Map<string, { enc: Row; dec?: Row }>();
  for (const c of fileContenders) {
    fileRows.set(c.name, {
      enc: { contender: c.name, op: c.dec ? "encrypt" : "copy", unit: "MB/s", samples: [] },
      dec: c.dec ? { contender: c.name, op: "decrypt", unit: "MB/s", samples: [] } : undefined,
    });
  }
  const enc = join(dir, "big.sealed");
  const dec = join(dir, "big.opened");
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const c of rotate(fileContenders, rep)) {
      log(`${sizeLabel(opts.fileBytes)} file, repetition ${rep + 1}/${opts.reps}: ${c.name}`);
      const rows = fileRows.get(c.name)!;
      const e = await run(c.enc(big, enc));
      rows.enc.samples.push(sample(e, opts.fileBytes / e.seconds));
      if (c.dec) {
        const d = await run(c.dec(enc, dec));
        rows.dec!.samples.push(sample(d, opts.fileBytes / d.seconds));
        if (rep === 0 && !c.noOutput && !(await same(big, dec))) {
          console.error(`error: ${c.name} decrypted to different bytes`);
          failed = true;
        }
      }
      await rm(enc, dec);
    }
  }
  const fileTable = [...fileRows.values()].flatMap((r) => (r.dec ? [r.enc, r.dec] : [r.enc]));
  out.push(
    `### One ${sizeLabel(opts.fileBytes)} file of random bytes`,
    "",
    `Load average before this table: ${loadBefore}. Each run is a fresh process (the CLIs' times include the runtime's start).`,
    "",
    table(fileTable),
    "",
  );

  // ---------------------------------------------------------------- RSS flatness
  const flatBytes = opts.fileBytes * 4;
  log(`writing ${sizeLabel(flatBytes)} of random bytes (peak RSS flatness) ...`);
  await rm(big);
  const huge = join(dir, "huge.bin");
  await randomFile(huge, flatBytes);
  const loadFlat = await loadAverage();
  const flatEnc: Row = { contender: "envelope CLI, Deno", op: "encrypt", unit: "MB/s", samples: [] };
  const flatDec: Row = { contender: "envelope CLI, Deno", op: "decrypt", unit: "MB/s", samples: [] };
  {
    log(`${sizeLabel(flatBytes)} file: envelope CLI, Deno (one repetition)`);
    const e = await run(fileContenders[0].enc(huge, enc));
    flatEnc.samples.push(sample(e, flatBytes / e.seconds));
    const d = await run(fileContenders[0].dec!(enc, dec));
    flatDec.samples.push(sample(d, flatBytes / d.seconds));
    if (!(await same(huge, dec))) {
      console.error(`error: the ${sizeLabel(flatBytes)} file decrypted to different bytes`);
      failed = true;
    }
    await rm(enc, dec, huge);
  }
  out.push(
    `### Peak RSS flatness: one ${sizeLabel(flatBytes)} file (4x), one repetition`,
    "",
    `Load average before: ${loadFlat}.`,
    "",
    table([flatEnc, flatDec]),
    "",
  );

  // ---------------------------------------------------------------- application folder
  interface FolderContender {
    name: string;
    enc: (o: string) => { argv: string[]; cwd?: string; output: string };
    dec?: (i: string, restored: string) => string[];
  }
  /** The folder table's rows by contender, run in `base` (the disk, or a tmpfs). */
  const folderTable = async (base: string, where: string) => {
    const app = join(base, "app");
    log(`making the application folder (${sizeLabel(opts.folderBytes)}) ${where} ...`);
    const made = await appFolder(app, opts.folderBytes);
    const loadFolder = await loadAverage();
    const pyWork = join(base, "py");
    await Deno.mkdir(pyWork);
    const contenders: FolderContender[] = [
      {
        name: "envelope CLI, Deno: encrypt -d / decrypt -d",
        enc: (o) => ({ argv: [...deno, "encrypt", "-d", app, "-k", alias, "-o", o], output: o }),
        dec: (i, r) => [...deno, "decrypt", i, "-d", r],
      },
      {
        name: "envelope CLI, Deno: --format nitro",
        enc: (o) => ({ argv: [...deno, "encrypt", "-d", app, "--format", "nitro", "-k", alias, "-o", o], output: o }),
        dec: (i, r) => [...deno, "decrypt", i, "--format", "nitro", "-d", r],
      },
      {
        name: "envelope CLI, Node: encrypt -d / decrypt -d",
        enc: (o) => ({ argv: [...node, "encrypt", "-d", app, "-k", alias, "-o", o], output: o }),
        dec: (i, r) => [...node, "decrypt", i, "-d", r],
      },
      {
        name: "Python, the Nitro sample's method (make_archive + Fernet; boto3 on moto)",
        enc: () => ({
          argv: ["python3", join(SUPPORT, "compat_envelope_encryptor.py"), "encrypt", "-d", app, "-k", alias],
          cwd: pyWork,
          output: join(pyWork, "application_code.zip.encrypted"),
        }),
        dec: (i, r) => ["python3", join(SUPPORT, "compat_enclave_run.py"), i, r],
      },
      {
        name: `cp -r (the ${base === dir ? "disk" : "tmpfs"} path)`,
        enc: (o) => ({ argv: ["cp", "-r", app, o], output: o }),
      },
    ];
    const rows = new Map<string, { enc: Row; dec?: Row }>();
    for (const c of contenders) {
      const row = (op: string): Row => ({ contender: c.name, op, unit: "MB/s", samples: [], itemsPerRun: made.files });
      rows.set(c.name, { enc: row(c.dec ? "encrypt" : "copy"), dec: c.dec ? row("decrypt") : undefined });
    }
    const sealedApp = join(base, "app.sealed");
    const restored = join(base, "restored");
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const c of rotate(contenders, rep)) {
        log(`folder ${where}, repetition ${rep + 1}/${opts.reps}: ${c.name}`);
        const r = rows.get(c.name)!;
        const job = c.enc(sealedApp);
        const e = await run(job.argv, job.cwd ?? base);
        r.enc.samples.push(sample(e, opts.folderBytes / e.seconds));
        if (c.dec) {
          const d = await run(c.dec(job.output, restored), base);
          r.dec!.samples.push(sample(d, opts.folderBytes / d.seconds));
          if (rep === 0 && (await exec("diff", ["-r", app, restored])).code !== 0) {
            console.error(`error: ${c.name} restored a different tree ${where}`);
            failed = true;
          }
        }
        await rm(job.output, restored, restored + ".zip");
      }
    }
    await rm(app, pyWork);
    const at = (i: number) => rows.get(contenders[i].name)!;
    return { made, loadFolder, rows, envelope: at(0), nitro: at(1), python: at(3) };
  };
  const folderText = (made: AppFolder, loadFolder: string) =>
    `${made.textFiles.toLocaleString("en-US")} text files (${
      (made.textBytes / MiB).toFixed(1)
    } MiB, source-like, compressible) and ${(made.files - made.textFiles).toLocaleString("en-US")} binary ` +
    `(incompressible) in nested folders, made by scripts/bench/inputs.ts from seed 16 (fingerprint ${made.fingerprint}). ` +
    `MB/s counts the files' bytes; the KMS is moto on loopback (one GenerateDataKey or Decrypt per run). ` +
    `Load average before: ${loadFolder}.`;
  const onDisk = await folderTable(dir, "on the disk");
  out.push(
    `### An application folder: ${sizeLabel(opts.folderBytes)} in ${onDisk.made.files.toLocaleString("en-US")} files`,
    "",
    folderText(onDisk.made, onDisk.loadFolder),
    "",
    table([...onDisk.rows.values()].flatMap((r) => (r.dec ? [r.enc, r.dec] : [r.enc]))),
    "",
  );
  // The same on a tmpfs: creating files costs nothing there but the tools' own work, so this table shows what the
  // contenders do, where the disk's table also shows what its file system does with thousands of new files.
  let inMemory: Awaited<ReturnType<typeof folderTable>> | undefined;
  if (opts.tmpfs) {
    const mnt = await mountTmpfs("tmpfs", 4 * opts.folderBytes + 512 * MiB);
    try {
      inMemory = await folderTable(mnt, "on a tmpfs");
    } finally {
      await unmountTmpfs(mnt);
    }
    out.push(
      `### The same folder on a tmpfs (\`--tmpfs\`)`,
      "",
      folderText(inMemory.made, inMemory.loadFolder) +
        " The folder, the sealed file and the restored tree are on a tmpfs mounted under the run's temporary folder.",
      "",
      table([...inMemory.rows.values()].flatMap((r) => (r.dec ? [r.enc, r.dec] : [r.enc]))),
      "",
    );
  }

  // ---------------------------------------------------------------- small files
  const n = opts.smallCount;
  const small = join(dir, "small");
  log(`writing ${n} files of 4 KiB ...`);
  const names = await smallFiles(small, n, 4096);
  const loadSmall = await loadAverage();
  const perProcess = Math.min(n, opts.quick ? 10 : 100); // about 3 processes/s: bounded
  const cliNames = many.several ? names : names.slice(0, perProcess);
  const sdkDefaultCount = Math.min(n, opts.quick ? 200 : 1000); // about 100 messages/s: bounded
  const lib: Row[] = [
    { contender: "envelope library, Deno (one process, in memory)", op: "encrypt", unit: "msgs/s", samples: [] },
    { contender: "envelope library, Deno (one process, in memory)", op: "decrypt", unit: "msgs/s", samples: [] },
    { contender: "AWS SDK JS, fastest (one process, in memory)", op: "encrypt", unit: "msgs/s", samples: [] },
    { contender: "AWS SDK JS, fastest (one process, in memory)", op: "decrypt", unit: "msgs/s", samples: [] },
    {
      contender: `AWS SDK JS, default (one process, in memory; ${sdkDefaultCount.toLocaleString("en-US")} messages)`,
      op: "encrypt",
      unit: "msgs/s",
      samples: [],
    },
    {
      contender: `AWS SDK JS, default (one process, in memory; ${sdkDefaultCount.toLocaleString("en-US")} messages)`,
      op: "decrypt",
      unit: "msgs/s",
      samples: [],
    },
  ];
  const allFiles = `one run for all ${n.toLocaleString("en-US")} files, the CLI's default --jobs and key cache`;
  const oneEach = `one process per file; the first ${perProcess} files`;
  const cliEnc: Row = {
    contender: `envelope CLI, Deno (${many.several ? allFiles : oneEach})`,
    op: "encrypt",
    unit: "files/s",
    samples: [],
  };
  const cliDec: Row = {
    contender: `envelope CLI, Deno (${many.severalDecrypt ? allFiles : oneEach})`,
    op: "decrypt",
    unit: "files/s",
    samples: [],
  };
  const cpRow: Row = { contender: "cp -r (the disk path)", op: "copy", unit: "files/s", samples: [] };
  const floorRow: Row = {
    contender: "the safe-write floor (Python, one file at a time: create, write, fsync, link, unlink; no crypto)",
    op: "write",
    unit: "files/s",
    samples: [],
  };
  const libArgv = [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    "--config",
    join(ROOT, "deno.json"),
    join(ROOT, "scripts", "bench", "lib_messages.ts"),
  ];
  type SmallJob = () => Promise<void>;
  const rates = (r: Run) => JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, number>;
  const libJob = (argv: string[], encRow: Row, decRow: Row): SmallJob => async () => {
    const r = await run(argv);
    const { encryptPerSecond, decryptPerSecond } = rates(r);
    encRow.samples.push(sample(r, encryptPerSecond));
    decRow.samples.push(sample(r, decryptPerSecond));
  };
  /** Sums per-process runs into one sample: total seconds, highest RSS, total CPU. */
  const sumRuns = (runs: Run[], items: number): Sample => {
    const seconds = runs.reduce((a, r) => a + r.seconds, 0);
    return {
      rate: items / seconds,
      seconds,
      rssKiB: Math.max(...runs.map((r) => r.rssKiB)),
      cpuSeconds: runs.reduce((a, r) => a + r.cpuSeconds, 0),
    };
  };
  /** The rows that make files: the CLI's, the safe-write floor's and `cp -r`'s, for the files in `from`. */
  interface FileRows {
    enc: Row;
    dec: Row;
    floor: Row;
    cp: Row;
  }
  let smallRep = 0;
  const cliJob = (from: string, base: string, rows: FileRows): SmallJob => async () => {
    const sealedDir = join(base, "small-sealed");
    const encRuns = many.several ? [await run([...deno, "encrypt", ...k, ...cliNames], from)] : await (async () => {
      const rs: Run[] = [];
      for (const f of cliNames) rs.push(await run([...deno, "encrypt", ...k, f], from));
      return rs;
    })();
    rows.enc.samples.push(sumRuns(encRuns, cliNames.length));
    await Deno.mkdir(sealedDir);
    for (const f of cliNames) await Deno.rename(join(from, f + many.suffix), join(sealedDir, f + many.suffix));
    const decNames = many.severalDecrypt ? cliNames : cliNames.slice(0, perProcess);
    const decRuns = many.severalDecrypt
      ? [await run([...deno, "decrypt", ...k, ...decNames.map((f) => f + many.suffix)], sealedDir)]
      : await (async () => {
        const rs: Run[] = [];
        for (const f of decNames) rs.push(await run([...deno, "decrypt", ...k, f + many.suffix], sealedDir));
        return rs;
      })();
    rows.dec.samples.push(sumRuns(decRuns, decNames.length));
    if (smallRep === 0) {
      for (const f of [decNames[0], decNames.at(-1)!]) {
        if (!(await same(join(from, f), join(sealedDir, f)))) {
          console.error(`error: the CLI decrypted ${f} to different bytes`);
          failed = true;
        }
      }
    }
    await rm(sealedDir);
  };
  const floorJob = (base: string, rows: FileRows): SmallJob => async () => {
    // What each encrypted file costs the file system alone, one write at a time (the CLI has up to 16 in flight).
    const floorDir = join(base, "small-floor");
    const r = await run([
      "python3",
      join(ROOT, "scripts", "bench", "safe_write_floor.py"),
      floorDir,
      String(n),
      "4333",
    ]);
    rows.floor.samples.push(sumRuns([r], n));
    await rm(floorDir);
  };
  const cpJob = (from: string, base: string, rows: FileRows): SmallJob => async () => {
    const copy = join(base, "small-copy");
    rows.cp.samples.push(sumRuns([await run(["cp", "-r", from, copy])], n));
    await rm(copy);
  };
  const onDiskRows: FileRows = { enc: cliEnc, dec: cliDec, floor: floorRow, cp: cpRow };
  const smallJobs: [string, SmallJob][] = [
    ["envelope library", libJob([...libArgv, keyFile, "4096", String(n)], lib[0], lib[1])],
    ["SDK fastest", libJob(["node", SDK_SCRIPT, "msgs", "fastest", rawKey, "4096", String(n)], lib[2], lib[3])],
    [
      "SDK default",
      libJob(["node", SDK_SCRIPT, "msgs", "default", rawKey, "4096", String(sdkDefaultCount)], lib[4], lib[5]),
    ],
    ["envelope CLI", cliJob(small, dir, onDiskRows)],
    ["safe-write floor", floorJob(dir, onDiskRows)],
    ["cp -r", cpJob(small, dir, onDiskRows)],
  ];
  for (let rep = 0; rep < opts.reps; rep++) {
    smallRep = rep;
    for (const [name, job] of rotate(smallJobs, rep)) {
      log(`4 KiB files, repetition ${rep + 1}/${opts.reps}: ${name}`);
      await job();
    }
  }
  out.push(
    `### ${n.toLocaleString("en-US")} files of 4 KiB`,
    "",
    `In-memory rows: one process encrypts ${n.toLocaleString("en-US")} random 4 KiB messages one after another, ` +
      `each under a fresh data key (envelope: local key, no cache; SDK: raw AES keyring), then decrypts them; ` +
      `the rate is timed inside the process, RSS and CPU/wall cover the whole process. CLI rows: ${
        many.several
          ? `the CLI took several inputs in one run (detected by trying \`encrypt -k KEY a b\`)`
          : `the CLI took one input per run (\`encrypt -k KEY a b\` failed), so each file is one process and only the first ${perProcess} files are run`
      }; decrypt ${many.severalDecrypt ? "likewise took all the files in one run" : "ran one process per file"}${
        many.several && many.severalDecrypt ? "" : "; wall and CPU are summed over the processes"
      }. Load average before: ${loadSmall}.`,
    "",
    table([...lib, cliEnc, cliDec, floorRow, cpRow]),
    "",
  );
  // The rows that make files, again on a tmpfs: what the CLI does when making a file costs only its own work.
  let smallInMemory: FileRows | undefined;
  if (opts.tmpfs) {
    const mnt = await mountTmpfs("tmpfs-small", 8 * 4096 * n + 256 * MiB);
    try {
      const from = join(mnt, "small");
      const copied = await exec("cp", ["-r", small, from]);
      if (copied.code !== 0) throw new SetupFailed(`copying the small files to the tmpfs failed: ${copied.out}`);
      const row = (r: Row, name = r.contender): Row => ({ ...r, contender: name, samples: [] });
      smallInMemory = {
        enc: row(cliEnc),
        dec: row(cliDec),
        floor: row(floorRow),
        cp: row(cpRow, "cp -r (the tmpfs path)"),
      };
      const jobs: [string, SmallJob][] = [
        ["envelope CLI", cliJob(from, mnt, smallInMemory)],
        ["safe-write floor", floorJob(mnt, smallInMemory)],
        ["cp -r", cpJob(from, mnt, smallInMemory)],
      ];
      const loadTmpfs = await loadAverage();
      for (let rep = 0; rep < opts.reps; rep++) {
        smallRep = rep;
        for (const [name, job] of rotate(jobs, rep)) {
          log(`4 KiB files on a tmpfs, repetition ${rep + 1}/${opts.reps}: ${name}`);
          await job();
        }
      }
      out.push(
        `### The same ${n.toLocaleString("en-US")} files of 4 KiB on a tmpfs (\`--tmpfs\`)`,
        "",
        `The rows that make files, with the files, the outputs and the floor's folder on a tmpfs mounted under the ` +
          `run's temporary folder. Load average before: ${loadTmpfs}.`,
        "",
        table([smallInMemory.enc, smallInMemory.dec, smallInMemory.floor, smallInMemory.cp]),
        "",
      );
    } finally {
      await unmountTmpfs(mnt);
    }
  }

  // ---------------------------------------------------------------- ratios
  const fr = (name: string) => fileRows.get(name)!;
  const denoFile = fr(fileContenders[0].name);
  const nodeFile = fr(fileContenders[1].name);
  const sdkFast = fr(fileContenders[3].name);
  const evpFile = fr(fileContenders[4].name);
  const ceiling = fr(CEILING);
  const x = (a: Row, b: Row) => `${(medianRate(a) / medianRate(b)).toFixed(2)}x`;
  const py = onDisk.python;
  const label = sizeLabel(opts.fileBytes);
  const ratios = [
    "| bar | encrypt | decrypt |",
    "| --- | ---: | ---: |",
    `| ${label}: envelope Deno / SDK fastest (MB/s) | ${x(denoFile.enc, sdkFast.enc)} | ${
      x(denoFile.dec!, sdkFast.dec!)
    } |`,
    `| ${label}: envelope Deno / EVP AES-256-GCM (MB/s) | ${x(denoFile.enc, evpFile.enc)} | ${
      x(denoFile.dec!, evpFile.dec!)
    } |`,
    `| ${label}: Deno's WebCrypto alone, in memory / SDK fastest (MB/s): the most any Deno pipeline could reach | ${
      x(ceiling.enc, sdkFast.enc)
    } | ${x(ceiling.dec!, sdkFast.dec!)} |`,
    `| ${label}: envelope Deno / Deno's WebCrypto alone, in memory (MB/s) | ${x(denoFile.enc, ceiling.enc)} | ${
      x(denoFile.dec!, ceiling.dec!)
    } |`,
    `| ${label}: envelope Deno CPU/wall | ${cpuPerWall(denoFile.enc).toFixed(2)} | ${
      cpuPerWall(denoFile.dec!).toFixed(2)
    } |`,
    `| peak RSS ${label} → ${sizeLabel(flatBytes)} (envelope Deno, MiB) | ${peakMiB(denoFile.enc).toFixed(0)} → ${
      peakMiB(flatEnc).toFixed(0)
    } | ${peakMiB(denoFile.dec!).toFixed(0)} → ${peakMiB(flatDec).toFixed(0)} |`,
    `| ${label}: envelope Node / envelope Deno (MB/s) | ${x(nodeFile.enc, denoFile.enc)} | ${
      x(nodeFile.dec!, denoFile.dec!)
    } |`,
    `| folder: envelope \`encrypt -d\` / \`decrypt -d\` vs Python (MB/s) | ${x(onDisk.envelope.enc, py.enc)} | ${
      x(onDisk.envelope.dec!, py.dec!)
    } |`,
    `| folder: envelope \`encrypt -d --format nitro\` / its \`decrypt -d\` vs Python (MB/s) | ${
      x(onDisk.nitro.enc, py.enc)
    } | ${x(onDisk.nitro.dec!, py.dec!)} |`,
    ...(inMemory
      ? [
        `| folder on a tmpfs: envelope \`encrypt -d\` / \`decrypt -d\` vs Python (MB/s) | ${
          x(inMemory.envelope.enc, inMemory.python.enc)
        } | ${x(inMemory.envelope.dec!, inMemory.python.dec!)} |`,
        `| folder on a tmpfs: envelope \`encrypt -d --format nitro\` / its \`decrypt -d\` vs Python (MB/s) | ${
          x(inMemory.nitro.enc, inMemory.python.enc)
        } | ${x(inMemory.nitro.dec!, inMemory.python.dec!)} |`,
      ]
      : []),
    `| 4 KiB messages/s in one process: envelope Deno / SDK fastest | ${x(lib[0], lib[2])} | ${x(lib[1], lib[3])} |`,
    `| 4 KiB messages/s in one process: envelope Deno (absolute) | ${fmt(medianRate(lib[0]))} | ${
      fmt(medianRate(lib[1]))
    } |`,
    `| 4 KiB files/s through the CLI (${many.several ? "one run, several files" : "one process per file"}) | ${
      fmt(medianRate(cliEnc))
    } | ${fmt(medianRate(cliDec))} |`,
    `| 4 KiB files/s through the CLI / the safe-write floor (4,333-byte outputs: 4 KiB and a header) | ${
      x(cliEnc, floorRow)
    } | ${x(cliDec, floorRow)} |`,
    ...(smallInMemory
      ? [
        `| 4 KiB files/s through the CLI on a tmpfs | ${fmt(medianRate(smallInMemory.enc))} | ${
          fmt(medianRate(smallInMemory.dec))
        } |`,
      ]
      : []),
  ];
  out.push("### Ratios (medians of this run)", "", ...ratios, "");
} catch (e) {
  if (e instanceof SetupFailed || e instanceof RunFailed) {
    console.error(`error: ${e.message}`);
    failed = true;
  } else {
    throw e;
  }
} finally {
  for (const signal of SIGNALS) Deno.removeSignalListener(signal, onInterrupt);
  await moto.close();
  for (const mnt of [...mounts]) await unmountTmpfs(mnt);
  await rm(dir);
}

const loadAfter = await loadAverage();
console.log(
  [
    "## envelope side by side (`deno task bench:compare`)",
    "",
    `- command: \`deno run -A scripts/bench_compare.ts${Deno.args.length ? " " + Deno.args.join(" ") : ""}\``,
    `- date: ${started.toISOString()} (took ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`,
    `- ${machineLine()}; ${Math.round(Deno.systemMemoryInfo().total / 1024 ** 3)} GiB RAM; Node ${versions.node}; ` +
    `${versions.openssl}; Python cryptography ${versions.python}; ${SDK_PACKAGE}@${SDK_VERSION}`,
    `- repetitions: ${opts.reps}, the contenders of each table interleaved; rate = median, with the range of the repetitions; ` +
    `MB = 10^6 bytes of plaintext; wall time around each process (start-up included); peak RSS and CPU (user + system) ` +
    `from /usr/bin/time`,
    `- the temporary folder's file system: ${disk}`,
    `- load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}`,
    "",
    ...out,
  ].join("\n"),
);
if (failed) {
  console.error("error: the comparison did not complete cleanly (see above)");
  Deno.exit(1);
}
