/**
 * Streaming throughput by chunk size, by chunks in flight and by threads:
 * what the default chunk size (docs/FORMAT.md §5), the in-thread
 * pipeline's concurrency and the workers (`parallelism`,
 * src/envelope/parallel.ts) buy.
 *
 *   deno run -A scripts/bench_chunk.ts [MiB] [--rounds N]
 *
 * Encrypts and decrypts MiB (default 128) of random-looking data through
 * encryptStream / decryptStream with a RawDataKey (no KMS), and prints MB/s
 * and CPU/wall (this process's user + system CPU time over wall time, workers
 * included). The rows run interleaved, round after round, and each cell
 * reports its best round, so load from other work hits all rows alike.
 */
import { decryptStream, encryptStream, RawDataKey } from "../mod.ts";
import { machineLine } from "./machine.ts";

const mib = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 128);
const ri = Deno.args.indexOf("--rounds");
const rounds = ri >= 0 ? Number(Deno.args[ri + 1]) : 3;
const total = mib * 1024 * 1024;
const piece = new Uint8Array(1 << 20);
for (let i = 0; i < piece.length; i += 65536) crypto.getRandomValues(piece.subarray(i, i + 65536));
const key = await RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));

function source(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(piece.length, total - sent);
      c.enqueue(piece.slice(0, n));
      sent += n;
    },
  });
}

async function drain(s: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of s) out.push(c);
  return out;
}

function replay(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({ pull: (c) => (i < parts.length ? c.enqueue(parts[i++]) : c.close()) });
}

/** CPU seconds (user + system) of this process so far, workers included. */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
}

interface Row {
  chunkSize: number;
  concurrency: number;
  parallelism: number;
}
interface Cell {
  enc: number;
  dec: number;
  encCpu: number;
  decCpu: number;
}

const threads = navigator.hardwareConcurrency;
const rows: Row[] = [];
for (const chunkSize of [16384, 65536, 262144, 1048576, 4194304]) {
  rows.push({ chunkSize, concurrency: 1, parallelism: 1 }, { chunkSize, concurrency: 4, parallelism: 1 });
  rows.push({ chunkSize, concurrency: 4, parallelism: threads });
  if (threads < 3) rows.push({ chunkSize, concurrency: 4, parallelism: 3 });
}
const best = new Map<Row, Cell>();
for (let round = 0; round < rounds; round++) {
  for (const row of rows) {
    const { chunkSize, concurrency, parallelism } = row;
    const c0 = cpuSeconds();
    const t0 = performance.now();
    const sealed = await drain(source().pipeThrough(encryptStream({ keys: key, chunkSize, concurrency, parallelism })));
    const t1 = performance.now();
    const c1 = cpuSeconds();
    let n = 0;
    for await (const c of replay(sealed).pipeThrough(decryptStream({ keys: key, concurrency, parallelism }))) {
      n += c.length;
    }
    const t2 = performance.now();
    const c2 = cpuSeconds();
    if (n !== total) throw new Error(`decrypted ${n} bytes, expected ${total}`);
    const prev = best.get(row);
    const cell = {
      enc: total / 1e6 / ((t1 - t0) / 1000),
      dec: total / 1e6 / ((t2 - t1) / 1000),
      encCpu: (c1 - c0) / ((t1 - t0) / 1000),
      decCpu: (c2 - c1) / ((t2 - t1) / 1000),
    };
    best.set(row, {
      enc: Math.max(prev?.enc ?? 0, cell.enc),
      dec: Math.max(prev?.dec ?? 0, cell.dec),
      encCpu: prev && prev.enc > cell.enc ? prev.encCpu : cell.encCpu,
      decCpu: prev && prev.dec > cell.dec ? prev.decCpu : cell.decCpu,
    });
  }
}

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`# Streaming throughput by chunk size, concurrency and threads, ${mib} MiB in memory\n`);
console.log(machineLine());
console.log(`\nbest of ${rounds} interleaved rounds; load average at the end ${load()}`);
console.log("\n| chunk size | in flight | threads | encrypt MB/s | CPU/wall | decrypt MB/s | CPU/wall |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) {
  const c = best.get(row)!;
  console.log(
    `| ${row.chunkSize} | ${row.concurrency} | ${row.parallelism} | ${c.enc.toFixed(0)} | ${c.encCpu.toFixed(2)} | ${
      c.dec.toFixed(0)
    } | ${c.decCpu.toFixed(2)} |`,
  );
}
