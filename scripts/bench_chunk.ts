/**
 * Streaming throughput by chunk size and by chunks in flight: what the
 * default chunk size (docs/FORMAT.md §5) and the pipeline's concurrency buy.
 *
 *   deno run -A scripts/bench_chunk.ts [MiB]
 *
 * Encrypts and decrypts MiB (default 128) of random-looking data through
 * encryptStream / decryptStream with a RawDataKey (no KMS), and prints MB/s.
 */
import { decryptStream, encryptStream, RawDataKey } from "../mod.ts";
import { machineLine } from "./machine.ts";

const mib = Number(Deno.args[0] ?? 128);
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

const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

console.log(`# Streaming throughput by chunk size and concurrency, ${mib} MiB\n`);
console.log(machineLine());
console.log("\n| chunk size | in flight | encrypt MB/s | decrypt MB/s |");
console.log("| ---: | ---: | ---: | ---: |");
for (const chunkSize of [4096, 16384, 65536, 262144, 1048576]) {
  for (const concurrency of [1, 4]) {
    const t0 = performance.now();
    const sealed = await drain(source().pipeThrough(encryptStream({ keys: key, chunkSize, concurrency })));
    const t1 = performance.now();
    let n = 0;
    for await (const c of replay(sealed).pipeThrough(decryptStream({ keys: key, concurrency }))) n += c.length;
    const t2 = performance.now();
    if (n !== total) throw new Error(`decrypted ${n} bytes, expected ${total}`);
    console.log(`| ${chunkSize} | ${concurrency} | ${mbps(total, t1 - t0)} | ${mbps(total, t2 - t1)} |`);
  }
}
