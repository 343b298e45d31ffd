/**
 * Where the WASM core's AES-GCM time goes: seal and open against the two
 * halves timed alone (the bitsliced AES as CTR uses it, and GHASH), with
 * `@noble/ciphers` in the same run for scale.
 *
 *   deno run -A --lock=deno.dev.lock wasm/tools/profile_gcm.ts [sizes in KiB, default 1 64 1024]
 *
 * Builds `wasm/tools/profile/` (the core's sources plus two timing-only
 * exports) with Debian's cargo into a temporary directory; the shipped module
 * is not touched. Rates are MB/s (10^6 bytes of plaintext) per second of this
 * process's CPU time, best of 12 rounds, so time the scheduler gives to other
 * jobs on a shared machine is not counted (`scripts/bench.ts` measures wall
 * time and is the reference for the project's bars; this is for profiling).
 */
// A bench-only package: inline, as scripts/bench.ts has it (it left the runtime import map; deno.dev.lock has it).
// deno-lint-ignore no-import-prefix
import { gcm } from "npm:@noble/ciphers@2.4.0/aes.js";
import process from "node:process";
import type { CoreExports } from "../../src/crypto/wasm.ts";

/** The shipped core's exports this tool uses (src/crypto/wasm.ts), and the two timing-only ones. */
type ProfileExports = Pick<CoreExports, "memory" | "alloc" | "gcm_new" | "gcm_seal" | "gcm_open"> & {
  profile_ctr(ctx: number, buf: number, len: number): void;
  profile_ghash(ctx: number, buf: number, len: number): number;
};

const ROUNDS = 12;
const SLICE_MS = 100;

async function build(): Promise<Uint8Array> {
  const dir = new URL("./profile/", import.meta.url).pathname;
  const target = await Deno.makeTempDir({ prefix: "envelope-profile-" });
  try {
    const out = await new Deno.Command("/usr/bin/cargo", {
      args: ["build", "--release", "--offline", "--locked", "--quiet", "--target", "wasm32-unknown-unknown"],
      cwd: dir,
      env: { RUSTC: "/usr/bin/rustc", RUSTFLAGS: "-C target-feature=+simd128", CARGO_TARGET_DIR: target },
    }).output();
    if (!out.success) throw new Error(`building wasm/tools/profile failed:\n${new TextDecoder().decode(out.stderr)}`);
    return await Deno.readFile(`${target}/wasm32-unknown-unknown/release/envelope_core_profile.wasm`);
  } finally {
    await Deno.remove(target, { recursive: true });
  }
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Best MB/s over the rounds, jobs interleaved round by round so they see the same load. */
function measure(jobs: (() => unknown)[], size: number): number[] {
  for (const j of jobs) for (let i = 0; i < 3; i++) j();
  const best = jobs.map(() => 0);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, j] of jobs.entries()) {
      let n = 0;
      const c0 = cpuSeconds();
      const t0 = performance.now();
      while (performance.now() < t0 + SLICE_MS) {
        j();
        n++;
      }
      best[i] = Math.max(best[i], (n * size) / (cpuSeconds() - c0) / 1e6);
    }
  }
  return best;
}

async function main(): Promise<void> {
  const sizes = (Deno.args.length > 0 ? Deno.args.map(Number) : [1, 64, 1024]).map((k) => k * 1024);
  const bytes = await build();
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  const e = instance.exports as unknown as ProfileExports;
  const mem = () => new Uint8Array(e.memory.buffer);
  const key = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const kp = e.alloc(32);
  mem().set(key, kp);
  const ctx = e.gcm_new(kp, 32);
  mem().fill(0, kp, kp + 32);
  const ivp = e.alloc(12);
  mem().set(iv, ivp);
  const tag = e.alloc(16);
  const rows: string[] = [];
  for (const size of sizes) {
    const buf = e.alloc(size);
    const pt = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) crypto.getRandomValues(pt.subarray(off, off + 65536));
    const sealed = gcm(key, iv).encrypt(pt);
    // The core must agree with noble before its speed means anything.
    mem().set(pt, buf);
    e.gcm_seal(ctx, ivp, 12, 0, 0, buf, size, tag);
    const ours = mem().slice(buf, buf + size);
    const ourTag = mem().slice(tag, tag + 16);
    if (ours.some((b, i) => b !== sealed[i]) || ourTag.some((b, i) => b !== sealed[size + i])) {
      throw new Error(`the profiled core disagrees with noble at ${size} bytes`);
    }
    const ct = sealed.subarray(0, size);
    const rates = measure([
      () => e.gcm_seal(ctx, ivp, 12, 0, 0, buf, size, tag),
      () => {
        mem().set(ct, buf);
        mem().set(sealed.subarray(size), tag);
        if (e.gcm_open(ctx, ivp, 12, 0, 0, buf, size, tag) !== 0) throw new Error("open failed");
      },
      () => e.profile_ctr(ctx, buf, size),
      () => e.profile_ghash(ctx, buf, size),
      () => gcm(key, iv).encrypt(pt),
      () => gcm(key, iv).decrypt(sealed),
    ], size);
    const f = (x: number) => x.toFixed(x >= 100 ? 0 : 1);
    const [seal, open, ctr, gh, nSeal, nOpen] = rates;
    rows.push(
      `| ${size / 1024} KiB | ${f(seal)} | ${f(open)} | ${f(ctr)} | ${f(gh)} | ${f(1 / (1 / ctr + 1 / gh))} | ${
        f(nSeal)
      } | ${f(nOpen)} | ${(seal / nSeal).toFixed(2)}x | ${(open / nOpen).toFixed(2)}x |`,
    );
  }
  console.log(`- date: ${new Date().toISOString()}; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`);
  console.log(`- MB/s per CPU second, best of ${ROUNDS} rounds of ${SLICE_MS} ms; open copies the ciphertext in first`);
  console.log("");
  console.log(
    "| size | seal | open | AES alone | GHASH alone | AES then GHASH | noble seal | noble open | seal/noble | open/noble |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) console.log(r);
  console.log("");
  console.log(`- load average at end (1, 5, 15 min): ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

if (import.meta.main) await main();
