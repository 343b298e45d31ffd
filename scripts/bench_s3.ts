/**
 * Object-storage throughput against moto's S3 on loopback: prints, for a
 * file of `--size` bytes (default 1 GiB), MB/s and peak RSS of
 *
 * - plain upload and download through the same SDK and the same multipart
 *   and ranged-GET code, no encryption (what `aws s3 cp` does: the limit);
 * - encrypt-to-S3 (file -> encryptStream -> s3Sink) and decrypt-from-S3
 *   (sourceStream -> decryptStream), each with 1, 4 and 8 parts in flight;
 *
 * and the latency of a 1 MiB ranged, authenticated read from the object.
 * Every case runs in its own child process (so its peak RSS, VmHWM, is its
 * own) against one moto server. `deno task bench:s3 [--size 256MiB] [--part-size 8MiB]`.
 *
 * @module
 */
import { S3Client } from "@aws-sdk/client-s3";
import { decryptStream, encryptStream, LocalKey, openRandomAccess } from "../mod.ts";
import { objectSink } from "../src/s3/sink.ts";
import { objectSource, sourceStream } from "../src/s3/source.ts";
import { machineLine } from "./machine.ts";
import { startMotoS3 } from "../tests/support/moto_s3.ts";

const MIB = 1024 * 1024;

function parseSize(text: string): number {
  const m = /^(\d+)(KiB|MiB|GiB)?$/.exec(text);
  if (!m) throw new Error(`bad size ${text}: write e.g. 256MiB or 1GiB`);
  return Number(m[1]) * ({ KiB: 1024, MiB: MIB, GiB: 1024 * MIB }[m[2] ?? ""] ?? 1);
}

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Counts bytes and drops them. */
function discard(): WritableStream<Uint8Array> & { bytes: () => number } {
  let n = 0;
  const s = new WritableStream<Uint8Array>({ write: (c) => void (n += c.length) });
  return Object.assign(s, { bytes: () => n });
}

/** One case, in a child: prints a JSON line. */
async function child(): Promise<void> {
  const endpoint = arg("--endpoint", "");
  const kind = arg("--case", "");
  const q = Number(arg("--q", "4"));
  const partSize = parseSize(arg("--part-size", "8MiB"));
  const file = arg("--file", "");
  const keyText = arg("--key", "");
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const key = await LocalKey.fromBytes(Uint8Array.from(atob(keyText), (c) => c.charCodeAt(0)));
  const loc = (k: string) => ({ scheme: "s3" as const, bucket: "bench", key: k });
  const t0 = performance.now();
  let bytes = 0;
  let extra: Record<string, number> = {};
  if (kind === "plain-up" || kind === "enc-up") {
    const f = await Deno.open(file);
    const sink = objectSink(loc(kind === "plain-up" ? `plain-${q}` : `enc-${q}`), { client, partSize, queueSize: q });
    const src = kind === "plain-up" ? f.readable : f.readable.pipeThrough(encryptStream({ keys: key }));
    await src.pipeTo(sink.stream);
    bytes = (await Deno.stat(file)).size;
    await sink.done;
  } else if (kind === "plain-down" || kind === "dec-down") {
    const source = await objectSource(loc(kind === "plain-down" ? "plain-4" : "enc-4"), { client });
    const out = discard();
    const s = sourceStream(source, { partSize, concurrency: q });
    await (kind === "plain-down" ? s : s.pipeThrough(decryptStream({ keys: key }))).pipeTo(out);
    bytes = out.bytes();
  } else if (kind === "range") {
    const tOpen = performance.now();
    const reader = await openRandomAccess(await objectSource(loc("enc-4"), { client }), { keys: key });
    const openMs = performance.now() - tOpen;
    const times: number[] = [];
    let seed = 12345;
    for (let i = 0; i < 10; i++) {
      seed = (seed * 48271) % 2147483647;
      const offset = seed % Math.max(1, reader.size - MIB);
      const t = performance.now();
      const got = await reader.read(offset, MIB);
      times.push(performance.now() - t);
      bytes += got.length;
    }
    await reader.close();
    times.sort((a, b) => a - b);
    extra = { openMs, medianMs: times[5], maxMs: times[9] };
  }
  const seconds = (performance.now() - t0) / 1000;
  client.destroy();
  console.log(JSON.stringify({ bytes, seconds, rss: peakRss(), ...extra }));
}

async function main(): Promise<void> {
  const size = parseSize(arg("--size", "1GiB"));
  const partSize = arg("--part-size", "8MiB");
  const s3 = await startMotoS3();
  const dir = await Deno.makeTempDir({ prefix: "envelope-bench-s3-" });
  try {
    await s3.createBucket("bench");
    const file = `${dir}/data.bin`;
    {
      const f = await Deno.open(file, { write: true, create: true });
      const block = new Uint8Array(MIB);
      for (let o = 0; o < size; o += MIB) {
        crypto.getRandomValues(block.subarray(0, 65536));
        block.copyWithin(65536, 0, MIB - 65536);
        await f.write(block.subarray(0, Math.min(MIB, size - o)));
      }
      f.close();
    }
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const keyText = btoa(String.fromCharCode(...raw));
    const run = async (kind: string, q: number) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          import.meta.filename!,
          "--child",
          "--endpoint",
          s3.endpoint,
          "--case",
          kind,
          "--q",
          String(q),
          "--part-size",
          partSize,
          "--file",
          file,
          "--key",
          keyText,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`${kind} q=${q} failed`);
      return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    };
    console.log(
      `# envelope S3 benchmark: ${(size / MIB).toFixed(0)} MiB against moto on 127.0.0.1, part size ${partSize}`,
    );
    console.log(`# ${machineLine()}; load average at start ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
    console.log("");
    console.log("| case              | parts in flight |   MB/s | vs plain | peak RSS MiB |");
    console.log("| ----------------- | --------------: | -----: | -------: | -----------: |");
    const mbps = (r: { bytes: number; seconds: number }) => r.bytes / r.seconds / 1e6;
    const row = (name: string, q: number, r: { bytes: number; seconds: number; rss: number }, base?: number) =>
      console.log(
        `| ${name.padEnd(17)} | ${String(q).padStart(15)} | ${mbps(r).toFixed(1).padStart(6)} | ${
          base ? (mbps(r) / base).toFixed(2).padStart(7) + "x" : "       -"
        } | ${(r.rss / MIB).toFixed(0).padStart(12)} |`,
      );
    for (const q of [1, 4, 8]) {
      const plain = await run("plain-up", q);
      row("plain upload", q, plain);
      row("encrypt to S3", q, await run("enc-up", q), mbps(plain));
    }
    for (const q of [1, 4, 8]) {
      const plain = await run("plain-down", q);
      row("plain download", q, plain);
      row("decrypt from S3", q, await run("dec-down", q), mbps(plain));
    }
    const r = await run("range", 1);
    console.log("");
    console.log(
      `1 MiB ranged read (authenticated) of the ${(size / MIB).toFixed(0)} MiB object: open ${
        r.openMs.toFixed(1)
      } ms ` +
        `(header + final chunk), then median ${r.medianMs.toFixed(1)} ms, max ${
          r.maxMs.toFixed(1)
        } ms over 10 random offsets`,
    );
    console.log(`# load average at end ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await s3.close();
  }
}

if (Deno.args.includes("--child")) await child();
else await main();
