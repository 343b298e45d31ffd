/**
 * `deno task bench:small`: the fixed cost per message. Messages per second
 * for `encrypt` and `decrypt` of whole small messages (64 B, 4 KiB, 64 KiB)
 * under a local key, a fresh data key per message, in one process, one
 * message after another (each call awaited before the next starts).
 *
 * Decrypt cycles through a pool of distinct messages, each under its own
 * data key, so every call unwraps a different key. Each cell is the median
 * of several runs (default 9; `--runs N`, at least 3); runs interleave the
 * sizes and directions so that load from other work on the machine falls
 * on all cells alike. The load average before and after and `deno --version`
 * are printed with the table. `--quick` is a smoke run of a few seconds.
 *
 * @module
 */
import { decrypt, encrypt, LocalKey } from "../mod.ts";

const QUICK = Deno.args.includes("--quick");
const runsArg = Deno.args.indexOf("--runs");
const RUNS = Math.max(3, runsArg >= 0 ? Number(Deno.args[runsArg + 1]) || 9 : QUICK ? 3 : 9);
const SLICE_MS = QUICK ? 150 : 500;
const POOL = 256;
const KIB = 1024;
const SIZES = [64, 4 * KIB, 64 * KIB];

const sizeName = (n: number) => (n >= KIB ? `${n / KIB} KiB` : `${n} B`);
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const loadavg = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

/** Calls `fn` one call after another for `ms` milliseconds; returns calls per second. */
async function rate(fn: (i: number) => Promise<unknown>, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await fn(n);
    n++;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function denoVersion(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["--version"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").join("; ");
}

const key = await LocalKey.generate();
const opts = { keys: key };
const plaintexts = SIZES.map((n) => crypto.getRandomValues(new Uint8Array(n)));
const pools: Uint8Array[][] = [];
for (const pt of plaintexts) {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < POOL; i++) pool.push(await encrypt(pt, opts));
  // A benchmark of a broken round trip measures nothing: check one message of each size.
  const back = await decrypt(pool[0], opts);
  if (back.length !== pt.length || !back.every((x, i) => x === pt[i])) {
    throw new Error(`Round trip of ${sizeName(pt.length)} failed: the benchmark would be meaningless`);
  }
  pools.push(pool);
}

const loadBefore = loadavg();
const t0 = Date.now();
const enc: number[][] = SIZES.map(() => []);
const dec: number[][] = SIZES.map(() => []);
// Warm-up, not counted.
for (const [s, pt] of plaintexts.entries()) {
  await rate(() => encrypt(pt, opts), SLICE_MS / 5);
  await rate((i) => decrypt(pools[s][i % POOL], opts), SLICE_MS / 5);
}
for (let r = 0; r < RUNS; r++) {
  for (const [s, pt] of plaintexts.entries()) {
    enc[s].push(await rate(() => encrypt(pt, opts), SLICE_MS));
    dec[s].push(await rate((i) => decrypt(pools[s][i % POOL], opts), SLICE_MS));
  }
}
const seconds = (Date.now() - t0) / 1000;
key.dispose();

const cols = SIZES.map(sizeName);
const lines = [
  `### Small messages: messages/s, median of ${RUNS} runs${QUICK ? " (--quick: rough)" : ""}`,
  "",
  `local key, fresh data key per message, one process, one message after another; ${
    SLICE_MS / 1000
  } s per cell per run`,
  "",
  `| | ${cols.join(" | ")} |`,
  `| --- | ${cols.map(() => "---:").join(" | ")} |`,
  `| encrypt | ${enc.map((xs) => fmt(median(xs))).join(" | ")} |`,
  `| decrypt | ${dec.map((xs) => fmt(median(xs))).join(" | ")} |`,
  `| encrypt (min..max) | ${enc.map((xs) => `${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}`).join(" | ")} |`,
  `| decrypt (min..max) | ${dec.map((xs) => `${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}`).join(" | ")} |`,
  "",
  `- date: ${new Date().toISOString()}, ${seconds.toFixed(0)} s measured`,
  `- load average (1, 5, 15 min): ${loadBefore} before, ${loadavg()} after; ${navigator.hardwareConcurrency} cores`,
  `- deno --version: ${await denoVersion()}`,
];
console.log(lines.join("\n"));
