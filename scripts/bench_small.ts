/**
 * `deno task bench:small`: the fixed cost per message. Messages per second
 * for `encrypt` and `decrypt` of whole small messages (64 B, 4 KiB, 16 KiB, 64 KiB)
 * under a local key, a fresh data key per message, in one process, one
 * message after another (each call awaited before the next starts).
 *
 * Decrypt cycles through a pool of distinct messages, each under its own
 * data key, so every call unwraps another key. Each cell is the median of
 * several runs (default 9; `--runs N`, at least 3); runs interleave the
 * sizes and directions so that load from other work on the machine falls
 * on all cells alike. The load average before and after and `deno --version`
 * are printed with the table, and the rate per second of the process's CPU
 * time (user + system, from `process.cpuUsage`), which other work on the
 * machine disturbs less than the wall-clock rate. `--quick` is a smoke run
 * of a few seconds.
 *
 * After the table, the steps of a 4 KiB message are timed one by one (CPU
 * time per call), as the library takes them since issue 16 (one-shot GCM
 * calls with the key schedule inside, one HKDF call for the three keys, the
 * header laid out in the message's array and its fields written in place):
 * what the crypto core's calls add up to is the floor that work outside the
 * core cannot lower.
 *
 * `--against REF` also loads the library as it is at git revision REF (from
 * `git archive`, into a temporary directory) and measures both in the same
 * process, run by run in turn, with a row of ratios: on a shared machine
 * whose load moves during a run, that comparison is fairer than two tables
 * taken minutes apart. Each copy decrypts the messages it encrypted itself.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { gcmOpenOnce, gcmSealOnce } from "../src/crypto/aes_gcm.ts";
import {
  constantTimeEqual,
  hkdfSha256EachInto,
  hkdfSha256Into,
  hmacSha256,
  hmacSha256Into,
  hmacSha256Verify,
} from "../src/crypto/hash.ts";
import { fillRandom, randomBytes } from "../src/crypto/random.ts";
import { planContext } from "../src/format/context.ts";
import { encodeCore, encodeHeader, layoutHeader, parseHeader } from "../src/format/header.ts";

const QUICK = Deno.args.includes("--quick");
const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const RUNS = Math.max(3, Number(arg("--runs")) || (QUICK ? 3 : 9));
const SLICE_MS = QUICK ? 150 : 500;
const AGAINST = arg("--against");
const POOL = 256;
const KIB = 1024;
const SIZES = [64, 4 * KIB, 16 * KIB, 64 * KIB];

const sizeName = (n: number) => (n >= KIB ? `${n / KIB} KiB` : `${n} B`);
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const loadavg = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

/** The part of the library the benchmark uses, so two copies of it can be loaded side by side. */
interface Lib {
  encrypt(pt: Uint8Array, o: { keys: unknown }): Promise<Uint8Array>;
  decrypt(m: Uint8Array, o: { keys: unknown }): Promise<Uint8Array>;
  LocalKey: { generate(): Promise<{ dispose(): void }> };
}

/** One copy of the library with its key, plaintexts and pools of sealed messages. */
interface Subject {
  name: string;
  lib: Lib;
  opts: { keys: { dispose(): void } };
  pools: Uint8Array[][];
  enc: Rate[][];
  dec: Rate[][];
}

/** Calls per second of wall-clock time, and per second of this process's CPU time. */
interface Rate {
  wall: number;
  cpu: number;
}

/** Calls `fn` one call after another for `ms` milliseconds. */
async function rate(fn: (i: number) => Promise<unknown>, ms: number): Promise<Rate> {
  let n = 0;
  const c0 = cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await fn(n);
    n++;
    t = performance.now();
  }
  const c = cpuUsage(c0);
  return { wall: n / ((t - t0) / 1000), cpu: n / ((c.user + c.system) / 1e6) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** The library at git revision `ref`, unpacked into a temporary directory. */
async function libAt(ref: string): Promise<{ lib: Lib; label: string; dir: string }> {
  const root = new URL("..", import.meta.url).pathname;
  const commit = await run("git", ["rev-parse", "--short", ref], root);
  const dir = await Deno.makeTempDir({ prefix: "bench_small_" });
  const tar = `${dir}/src.tar`;
  await run("git", ["archive", "-o", tar, commit, "mod.ts", "src"], root);
  await run("tar", ["-xf", tar, "-C", dir]);
  const lib = await import(`file://${dir}/mod.ts`) as Lib;
  return { lib, label: commit.startsWith(ref) ? commit : `${ref} (${commit})`, dir };
}

async function subject(name: string, lib: Lib, plaintexts: Uint8Array[]): Promise<Subject> {
  const opts = { keys: await lib.LocalKey.generate() };
  const pools: Uint8Array[][] = [];
  for (const pt of plaintexts) {
    const pool: Uint8Array[] = [];
    for (let i = 0; i < POOL; i++) pool.push(await lib.encrypt(pt, opts));
    // A benchmark of a broken round trip measures nothing: check one message of each size.
    const back = await lib.decrypt(pool[0], opts);
    if (back.length !== pt.length || !back.every((x, i) => x === pt[i])) {
      throw new Error(`Round trip of ${sizeName(pt.length)} failed in ${name}: the benchmark would be meaningless`);
    }
    pools.push(pool);
  }
  return { name, lib, opts, pools, enc: SIZES.map(() => []), dec: SIZES.map(() => []) };
}

/** One step of a message, timed alone: CPU microseconds per call, and how often a 4 KiB message makes it. */
interface Step {
  name: string;
  core: boolean;
  perEncrypt: number;
  perDecrypt: number;
  fn: () => unknown;
}

/** CPU microseconds per call of `fn`: the best of several rounds, after a warm-up. */
function cpuMicros(fn: () => unknown): number {
  const n = QUICK ? 500 : 4000;
  for (let i = 0; i < n; i++) fn();
  let best = Infinity;
  for (let r = 0; r < (QUICK ? 3 : 9); r++) {
    const c0 = cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const c = cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / n);
  }
  return best;
}

/**
 * The steps of encrypting and decrypting a 4 KiB message under a local key,
 * each timed alone with the same sizes: what the crypto core's calls cost
 * per message, against the whole message measured above. The core's part is
 * a floor that work outside the core cannot lower.
 */
function breakdown(wholeEncrypt: number, wholeDecrypt: number): string[] {
  const key = randomBytes(32);
  const salt = randomBytes(32);
  const te = new TextEncoder();
  const info = te.encode("envelope v1 local wrap v2");
  const infos = ["envelope v1 commitment", "envelope v1 header", "envelope v1 payload"].map((l) => te.encode(l));
  const iv = new Uint8Array(12);
  const aad = te.encode("envelope v1 local wrap v2\0\0");
  const pt = randomBytes(4096);
  const none = new Uint8Array(0);
  const sealed = new Uint8Array(4096 + 16);
  gcmSealOnce(key, iv, pt, none, sealed, 0);
  const sealedKey = new Uint8Array(32 + 16);
  gcmSealOnce(key, iv, key, aad, sealedKey, 0);
  const core = encodeCore({ chunkSize: 65536, salt, context: {}, commitment: key });
  const keys = [{ provider: "local", keyId: "0123456789abcdef", wrapped: new Uint8Array(81) }];
  const header = encodeHeader(core, key, keys);
  const key32 = new Uint8Array(32);
  const keys96 = new Uint8Array(96);
  const tag = hmacSha256(key, core);
  const room = 4096 + 16;
  const steps: Step[] = [
    { name: "randomBytes(32) (the data key)", core: false, perEncrypt: 1, perDecrypt: 0, fn: () => randomBytes(32) },
    {
      name: "fillRandom, 32 B in place (wrap salt, header salt)",
      core: false,
      perEncrypt: 2,
      perDecrypt: 0,
      fn: () => fillRandom(salt),
    },
    {
      name: "hkdfSha256Into (local wrap key)",
      core: true,
      perEncrypt: 1,
      perDecrypt: 1,
      fn: () => hkdfSha256Into(key, salt, info, key32),
    },
    {
      name: "gcmSealOnce 32 B data key (wrap; key schedule included)",
      core: true,
      perEncrypt: 1,
      perDecrypt: 0,
      fn: () => gcmSealOnce(key, iv, key, aad, sealedKey, 0),
    },
    {
      name: "gcmOpenOnce 32 B data key (unwrap; key schedule included)",
      core: true,
      perEncrypt: 0,
      perDecrypt: 1,
      fn: () => gcmOpenOnce(key, iv, sealedKey, aad),
    },
    {
      name: "hkdfSha256EachInto, 3 keys (commitment, header, payload)",
      core: true,
      perEncrypt: 1,
      perDecrypt: 1,
      fn: () => hkdfSha256EachInto(key, salt, infos, 32, keys96),
    },
    {
      name: `hmacSha256Into of the ${core.length}-byte header core (the tag into the header)`,
      core: true,
      perEncrypt: 1,
      perDecrypt: 0,
      fn: () => hmacSha256Into(key, core, header, core.length),
    },
    {
      name: `hmacSha256Verify of the ${core.length}-byte header core (compared in the core)`,
      core: true,
      perEncrypt: 0,
      perDecrypt: 1,
      fn: () => hmacSha256Verify(key, core, tag),
    },
    {
      name: "constantTimeEqual, 32 B (the commitment)",
      core: true,
      perEncrypt: 0,
      perDecrypt: 1,
      fn: () => constantTimeEqual(key, salt),
    },
    {
      name: "gcmSealOnce 4 KiB payload (key schedule included)",
      core: true,
      perEncrypt: 1,
      perDecrypt: 0,
      fn: () => gcmSealOnce(key, iv, pt, none, sealed, 0),
    },
    {
      name: "gcmOpenOnce 4 KiB payload (key schedule included)",
      core: true,
      perEncrypt: 0,
      perDecrypt: 1,
      fn: () => gcmOpenOnce(key, iv, sealed, none),
    },
    {
      name: "planContext + layoutHeader (the message's array, with room for the payload)",
      core: false,
      perEncrypt: 1,
      perDecrypt: 0,
      fn: () => layoutHeader({ chunkSize: 65536, suite: 1, context: planContext({}) }, keys, room),
    },
    { name: "parseHeader", core: false, perEncrypt: 0, perDecrypt: 1, fn: () => parseHeader(header) },
  ];
  const us = steps.map((st) => cpuMicros(st.fn));
  const f2 = (x: number) => x.toFixed(2);
  const sum = (k: "perEncrypt" | "perDecrypt", coreOnly: boolean) =>
    steps.reduce((a, st, i) => a + (coreOnly && !st.core ? 0 : st[k] * us[i]), 0);
  const lines = [
    "",
    "### Where a 4 KiB message's time goes: each step timed alone, CPU microseconds per call (best of rounds)",
    "",
    "| step | in the core | us per call | per encrypt | per decrypt |",
    "| --- | --- | ---: | ---: | ---: |",
    ...steps.map((st, i) =>
      `| ${st.name} | ${st.core ? "yes" : "no"} | ${f2(us[i])} | ${st.perEncrypt} | ${st.perDecrypt} |`
    ),
    `| **the core's calls, summed** | | | ${f2(sum("perEncrypt", true))} | ${f2(sum("perDecrypt", true))} |`,
    `| **every step above, summed** | | | ${f2(sum("perEncrypt", false))} | ${f2(sum("perDecrypt", false))} |`,
    `| **the whole message (best run per CPU-second above, as the steps are best of rounds)** | | | ${
      f2(wholeEncrypt)
    } | ${f2(wholeDecrypt)} |`,
    "",
    `With the core as it is, its calls alone allow at most ${fmt(1e6 / sum("perEncrypt", true))} encryptions and ${
      fmt(1e6 / sum("perDecrypt", true))
    } decryptions of 4 KiB per CPU-second; the rest of the whole is promises, objects, copies and garbage collection.`,
  ];
  return lines;
}

async function denoVersion(): Promise<string> {
  return (await run(Deno.execPath(), ["--version"])).split("\n").join("; ");
}

const plaintexts = SIZES.map((n) => crypto.getRandomValues(new Uint8Array(n)));
const subjects: Subject[] = [];
let tempDir: string | undefined;
if (AGAINST) {
  const base = await libAt(AGAINST);
  tempDir = base.dir;
  subjects.push(await subject(base.label, base.lib, plaintexts));
}
subjects.push(await subject("this tree", await import("../mod.ts") as unknown as Lib, plaintexts));

const loadBefore = loadavg();
const t0 = Date.now();
const cellOf = (s: Subject, i: number, pt: Uint8Array) => ({
  enc: () => rate(() => s.lib.encrypt(pt, s.opts), SLICE_MS),
  dec: () => rate((k) => s.lib.decrypt(s.pools[i][k % POOL], s.opts), SLICE_MS),
});
// Warm-up, not counted.
for (const s of subjects) {
  for (const [i, pt] of plaintexts.entries()) {
    await rate(() => s.lib.encrypt(pt, s.opts), SLICE_MS / 5);
    await rate((k) => s.lib.decrypt(s.pools[i][k % POOL], s.opts), SLICE_MS / 5);
  }
}
for (let r = 0; r < RUNS; r++) {
  for (const [i, pt] of plaintexts.entries()) {
    // Alternate which copy goes first, so neither always follows the other's garbage.
    for (const s of r % 2 ? [...subjects].reverse() : subjects) {
      const c = cellOf(s, i, pt);
      s.enc[i].push(await c.enc());
      s.dec[i].push(await c.dec());
    }
  }
}
const seconds = (Date.now() - t0) / 1000;
for (const s of subjects) s.opts.keys.dispose();
if (tempDir) await Deno.remove(tempDir, { recursive: true });

const cols = SIZES.map(sizeName);
const suffix = (s: Subject) => (subjects.length > 1 ? ` (${s.name})` : "");
const med = (xs: Rate[], k: keyof Rate = "wall") => median(xs.map((x) => x[k]));
const rows: string[] = [];
for (const dir of ["enc", "dec"] as const) {
  for (const s of subjects) rows.push(`| ${dir}rypt${suffix(s)} | ${s[dir].map((xs) => fmt(med(xs))).join(" | ")} |`);
}
if (subjects.length > 1) {
  const [a, b] = subjects;
  for (const dir of ["enc", "dec"] as const) {
    const ratios = SIZES.map((_, i) => (med(b[dir][i]) / med(a[dir][i])).toFixed(2) + "x");
    rows.push(`| ${dir}rypt: this tree / ${a.name} | ${ratios.join(" | ")} |`);
  }
}
for (const dir of ["enc", "dec"] as const) {
  for (const s of subjects) {
    const spread = s[dir].map((xs) =>
      `${fmt(Math.min(...xs.map((x) => x.wall)))}..${fmt(Math.max(...xs.map((x) => x.wall)))}`
    );
    rows.push(`| ${dir}rypt${suffix(s)} min..max | ${spread.join(" | ")} |`);
  }
}
for (const dir of ["enc", "dec"] as const) {
  for (const s of subjects) {
    rows.push(`| ${dir}rypt${suffix(s)} per CPU-second | ${s[dir].map((xs) => fmt(med(xs, "cpu"))).join(" | ")} |`);
  }
}
if (subjects.length > 1) {
  const [a, b] = subjects;
  for (const dir of ["enc", "dec"] as const) {
    const ratios = SIZES.map((_, i) => (med(b[dir][i], "cpu") / med(a[dir][i], "cpu")).toFixed(2) + "x");
    rows.push(`| ${dir}rypt per CPU-second: this tree / ${a.name} | ${ratios.join(" | ")} |`);
  }
}
const lines = [
  `### Small messages: messages/s, median of ${RUNS} runs${QUICK ? " (--quick: rough)" : ""}`,
  "",
  `local key, fresh data key per message, one process, one message after another; ${
    SLICE_MS / 1000
  } s per cell per run`,
  "",
  `| | ${cols.join(" | ")} |`,
  `| --- | ${cols.map(() => "---:").join(" | ")} |`,
  ...rows,
  "",
  `- date: ${new Date().toISOString()}, ${seconds.toFixed(0)} s measured`,
  `- load average (1, 5, 15 min): ${loadBefore} before, ${loadavg()} after; ${navigator.hardwareConcurrency} cores`,
  `- deno --version: ${await denoVersion()}`,
];
const tree = subjects[subjects.length - 1];
const at4k = SIZES.indexOf(4 * KIB);
const best = (xs: Rate[]) => Math.max(...xs.map((x) => x.cpu));
lines.push(...breakdown(1e6 / best(tree.enc[at4k]), 1e6 / best(tree.dec[at4k])));
lines.push(`- load average after the breakdown: ${loadavg()}`);
console.log(lines.join("\n"));
