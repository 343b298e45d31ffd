/**
 * `deno task bench`: throughput of AES-256-GCM and Fernet, printed as
 * markdown tables in one run (about a minute on two cores).
 *
 * AES-256-GCM seal and open at 64 B, 1 KiB, 64 KiB and 1 MiB for the WASM
 * core (synchronous), the chosen backend (`sealAsync`/`openAsync`),
 * WebCrypto and `@noble/ciphers`; the crossover sizes behind the backend
 * thresholds; Fernet encrypt and decrypt at 1 KiB and 1 MiB (ours, sync and
 * async) against Python's `cryptography` timed inside Python; and
 * `openssl speed -evp aes-256-gcm` as the native limit.
 *
 * Messages are processed one after another (async calls awaited in turn),
 * which is how the library uses them. MB/s is 10^6 bytes per second of
 * plaintext. Pass `--quick` for a short smoke run.
 */
import { gcm } from "@noble/ciphers/aes.js";
import { AesGcm } from "../src/crypto/aes_gcm.ts";
import { Fernet, FERNET_WEBCRYPTO_THRESHOLDS } from "../src/crypto/fernet.ts";
import { detectRuntime, WEBCRYPTO_THRESHOLDS } from "../src/crypto/backend.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { benchPythonFernet } from "../tests/support/python.ts";

const QUICK = Deno.args.includes("--quick");
const CELL = QUICK ? 0.05 : 0.5; // seconds per measurement
const KIB = 1024;
const SIZES = [64, KIB, 64 * KIB, KIB * KIB];

interface Rate {
  n: number;
  seconds: number;
}

/** Rounds per cell: the best round is reported, so a busy machine (other jobs on the cores) skews less. */
const ROUNDS = 5;

function best(rates: Rate[]): Rate {
  return rates.reduce((a, b) => (b.n / b.seconds > a.n / a.seconds ? b : a));
}

function timeSync(fn: () => unknown, seconds = CELL): Rate {
  for (let i = 0; i < 3; i++) fn();
  const rounds: Rate[] = [];
  let batch = 1;
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + (seconds * 1000) / ROUNDS;
    let t = t0;
    while (t < end) {
      for (let i = 0; i < batch; i++) fn();
      n += batch;
      t = performance.now();
      if (t - t0 < 5) batch *= 2;
    }
    rounds.push({ n, seconds: (t - t0) / 1000 });
  }
  return best(rounds);
}

async function timeAsync(fn: () => Promise<unknown>, seconds = CELL): Promise<Rate> {
  for (let i = 0; i < 3; i++) await fn();
  const rounds: Rate[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + (seconds * 1000) / ROUNDS;
    let t = t0;
    while (t < end) {
      await fn();
      n++;
      t = performance.now();
    }
    rounds.push({ n, seconds: (t - t0) / 1000 });
  }
  return best(rounds);
}

const mbps = (r: Rate, size: number) => (r.n * size) / r.seconds / 1e6;
const perSec = (r: Rate) => r.n / r.seconds;
const fmtNum = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(x >= 10 ? 1 : 2));
const cell = (r: Rate, size: number) => `${fmtNum(mbps(r, size))} MB/s (${fmtNum(perSec(r))}/s)`;
const sizeName = (n: number) => (n >= KIB * KIB ? `${n / KIB / KIB} MiB` : n >= KIB ? `${n / KIB} KiB` : `${n} B`);

function table(title: string, cols: string[], rows: [string, string[]][]): string {
  const lines = [`### ${title}`, "", `| | ${cols.join(" | ")} |`, `| --- | ${cols.map(() => "---:").join(" | ")} |`];
  for (const [name, cells] of rows) lines.push(`| ${name} | ${cells.join(" | ")} |`);
  return lines.join("\n") + "\n";
}

async function machine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const flags = /^flags\s*:\s*(.+)$/m.exec(info)?.[1]?.split(" ") ?? [];
    const has = ["aes", "pclmulqdq", "avx2", "sha_ni"].filter((f) => flags.includes(f));
    cpu += ` (${has.join(", ") || "no AES-NI"})`;
  } catch {
    // not Linux
  }
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os}/${Deno.build.arch}`,
    `- runtime: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}`,
    `- each cell: messages processed one after another for ${CELL} s after a warm-up, in ${ROUNDS} rounds, best round reported; MB = 10^6 bytes of plaintext`,
  ].join("\n");
}

type Impl = { name: string; seal: (size: number) => Promise<Rate>; open: (size: number) => Promise<Rate> };

async function gcmImpls(key: Uint8Array): Promise<{ impls: Impl[]; core: AesGcm }> {
  const core = await AesGcm.create(key);
  const iv = randomBytes(12);
  const webKey = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
  const params = { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer> };
  const inputs = (size: number) => {
    const pt = randomBytes(size);
    return { pt, sealed: core.seal(iv, pt) };
  };
  const impls: Impl[] = [
    {
      name: "envelope core (WASM, sync)",
      seal: (s) => {
        const { pt } = inputs(s);
        return Promise.resolve(timeSync(() => core.seal(iv, pt)));
      },
      open: (s) => {
        const { sealed } = inputs(s);
        return Promise.resolve(timeSync(() => core.open(iv, sealed)));
      },
    },
    {
      name: "envelope chosen backend (async)",
      seal: (s) => {
        const { pt } = inputs(s);
        return timeAsync(() => core.sealAsync(iv, pt));
      },
      open: (s) => {
        const { sealed } = inputs(s);
        return timeAsync(() => core.openAsync(iv, sealed));
      },
    },
    {
      name: "WebCrypto (crypto.subtle)",
      seal: (s) => {
        const { pt } = inputs(s);
        return timeAsync(() => crypto.subtle.encrypt(params, webKey, pt as Uint8Array<ArrayBuffer>));
      },
      open: (s) => {
        const { sealed } = inputs(s);
        return timeAsync(() => crypto.subtle.decrypt(params, webKey, sealed as Uint8Array<ArrayBuffer>));
      },
    },
    {
      name: "@noble/ciphers gcm",
      seal: (s) => {
        const { pt } = inputs(s);
        return Promise.resolve(timeSync(() => gcm(key, iv).encrypt(pt), s >= KIB * KIB ? Math.max(CELL, 1) : CELL));
      },
      open: (s) => {
        const { sealed } = inputs(s);
        return Promise.resolve(timeSync(() => gcm(key, iv).decrypt(sealed), s >= KIB * KIB ? Math.max(CELL, 1) : CELL));
      },
    },
  ];
  return { impls, core };
}

function fernetRule(): string {
  const t = FERNET_WEBCRYPTO_THRESHOLDS;
  return `encrypt: WebCrypto AES-CBC from ${sizeName(t.encryptCbc)}, WebCrypto HMAC from ${sizeName(t.encryptMac)}; decrypt: WebCrypto from ${sizeName(t.decrypt)}`;
}

async function opensslSpeed(): Promise<string> {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["speed", "-evp", "aes-256-gcm", "-seconds", "1"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const version = (await new Deno.Command("openssl", { args: ["version"], stdout: "piped" }).output()).stdout;
    const lines = text.split("\n");
    const head = lines.findIndex((l) => l.startsWith("type"));
    if (head < 0 || head + 1 >= lines.length) return "openssl speed printed no table\n";
    const sizes = [...lines[head].matchAll(/(\d+) bytes/g)].map((m) => Number(m[1]));
    const vals = [...lines[head + 1].matchAll(/([\d.]+)k/g)].map((m) => Number(m[1]) * 1000);
    return table(
      `\`openssl speed -evp aes-256-gcm -seconds 1\` (${new TextDecoder().decode(version).trim()}; encrypt only, native limit)`,
      sizes.map(sizeName),
      [["OpenSSL AES-256-GCM", vals.map((v, i) => `${fmtNum(v / 1e6)} MB/s (${fmtNum(v / sizes[i])}/s)`)]],
    );
  } catch (err) {
    return `openssl speed failed: ${err}\n`;
  }
}

async function main(): Promise<void> {
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    console.log(s);
  };
  say(`## envelope benchmark\n\n${await machine()}\n`);
  // Python first, alone, so it does not share the CPU with us.
  const pyResult = await benchPythonFernet([KIB, KIB * KIB], CELL, ROUNDS);

  const key = randomBytes(32);
  const { impls, core } = await gcmImpls(key);
  const rates: Record<string, Record<string, Rate[]>> = {};
  for (const op of ["seal", "open"] as const) {
    const rows: [string, string[]][] = [];
    for (const impl of impls) {
      const rs: Rate[] = [];
      for (const s of SIZES) rs.push(await impl[op](s));
      (rates[impl.name] ??= {})[op] = rs;
      rows.push([impl.name, rs.map((r, i) => cell(r, SIZES[i]))]);
    }
    say(table(`AES-256-GCM ${op}, 12-byte IV, no AAD`, SIZES.map(sizeName), rows));
  }

  // The crossover behind the backend thresholds.
  const cross = [4 * KIB, 8 * KIB, 16 * KIB, 32 * KIB, 128 * KIB];
  const crossRows: [string, string[]][] = [];
  for (const op of ["seal", "open"] as const) {
    for (const impl of [impls[0], impls[2]]) {
      const rs: Rate[] = [];
      for (const s of cross) rs.push(await impl[op](s));
      crossRows.push([`${op}: ${impl.name}`, rs.map((r, i) => cell(r, cross[i]))]);
    }
  }
  const th = WEBCRYPTO_THRESHOLDS[detectRuntime()];
  say(table(`Backend crossover (current ${detectRuntime()} thresholds: seal >= ${sizeName(th.seal)}, open >= ${sizeName(th.open)} go to WebCrypto)`, cross.map(sizeName), crossRows));
  core.dispose();

  // Fernet.
  const f = await Fernet.create(Fernet.generateKey());
  const fsizes = [KIB, KIB * KIB];
  const fr: Record<string, Rate[]> = { "enc sync": [], "enc async": [], "dec sync": [], "dec async": [], "enc core": [], "enc web": [], "dec core": [], "dec web": [] };
  for (const s of fsizes) {
    const data = randomBytes(s);
    const token = f.encrypt(data);
    fr["enc sync"].push(timeSync(() => f.encrypt(data)));
    fr["enc async"].push(await timeAsync(() => f.encryptAsync(data)));
    fr["dec sync"].push(timeSync(() => f.decrypt(token)));
    fr["dec async"].push(await timeAsync(() => f.decryptAsync(token)));
  }
  const py = pyResult.results;
  const pyRate = (i: number, op: "encrypt" | "decrypt"): Rate => py[i][op];
  say(table(`Fernet (AES-128-CBC + HMAC-SHA256 + base64url); Python cryptography ${pyResult.version} timed inside Python`, fsizes.flatMap((s) => [`encrypt ${sizeName(s)}`, `decrypt ${sizeName(s)}`]), [
    ["envelope Fernet, sync (core)", fsizes.flatMap((s, i) => [cell(fr["enc sync"][i], s), cell(fr["dec sync"][i], s)])],
    [`envelope Fernet, async (chosen: ${fernetRule()})`, fsizes.flatMap((s, i) => [cell(fr["enc async"][i], s), cell(fr["dec async"][i], s)])],
    ["Python cryptography Fernet", fsizes.flatMap((s, i) => [cell(pyRate(i, "encrypt"), s), cell(pyRate(i, "decrypt"), s)])],
  ]));
  const fcross = [256, KIB, 4 * KIB, 16 * KIB, 64 * KIB];
  const fcRows: [string, string[]][] = [];
  for (const [label, backend] of [["core only", "wasm"], ["WebCrypto only", "webcrypto"], ["chosen", undefined]] as const) {
    const cells: string[] = [];
    for (const s of fcross) {
      const data = randomBytes(s);
      const token = f.encrypt(data);
      cells.push(cell(await timeAsync(() => f.encryptAsync(data, { backend }), CELL / 2), s));
      cells.push(cell(await timeAsync(() => f.decryptAsync(token, { backend }), CELL / 2), s));
    }
    fcRows.push([`Fernet async, ${label}`, cells]);
  }
  say(table(`Fernet backend crossover (chosen: ${fernetRule()})`, fcross.flatMap((s) => [`encrypt ${sizeName(s)}`, `decrypt ${sizeName(s)}`]), fcRows));
  f.dispose();

  say(await opensslSpeed());

  // Ratios against the project's bars.
  const at = (name: string, op: "seal" | "open", size: number) => rates[name][op][SIZES.indexOf(size)];
  const [CORE, CHOSEN, WEB, NOBLE] = impls.map((i) => i.name);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const lines = ["### Ratios", "", "| comparison | seal / encrypt | open / decrypt | bar |", "| --- | ---: | ---: | --- |"];
  lines.push(`| core vs noble, MB/s at 64 KiB | ${ratio(mbps(at(CORE, "seal", 64 * KIB), 1), mbps(at(NOBLE, "seal", 64 * KIB), 1))} | ${ratio(mbps(at(CORE, "open", 64 * KIB), 1), mbps(at(NOBLE, "open", 64 * KIB), 1))} | >= 4x |`);
  lines.push(`| core vs WebCrypto, msgs/s at 1 KiB | ${ratio(perSec(at(CORE, "seal", KIB)), perSec(at(WEB, "seal", KIB)))} | ${ratio(perSec(at(CORE, "open", KIB)), perSec(at(WEB, "open", KIB)))} | >= 2x |`);
  for (const s of [64 * KIB, KIB * KIB]) {
    lines.push(`| chosen backend vs WebCrypto at ${sizeName(s)} | ${ratio(perSec(at(CHOSEN, "seal", s)), perSec(at(WEB, "seal", s)))} | ${ratio(perSec(at(CHOSEN, "open", s)), perSec(at(WEB, "open", s)))} | >= 1x |`);
  }
  for (const [i, s] of fsizes.entries()) {
    lines.push(`| Fernet sync vs Python at ${sizeName(s)} | ${ratio(perSec(fr["enc sync"][i]), perSec(pyRate(i, "encrypt")))} | ${ratio(perSec(fr["dec sync"][i]), perSec(pyRate(i, "decrypt")))} | >= 1x |`);
    lines.push(`| Fernet async vs Python at ${sizeName(s)} | ${ratio(perSec(fr["enc async"][i]), perSec(pyRate(i, "encrypt")))} | ${ratio(perSec(fr["dec async"][i]), perSec(pyRate(i, "decrypt")))} | >= 1x |`);
  }
  say(lines.join("\n") + "\n");
}

if (import.meta.main) await main();
