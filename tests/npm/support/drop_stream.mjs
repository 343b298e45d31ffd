// A Node program that drops a stream on workers half read: `node drop_stream.mjs encrypt|decrypt`.
// It streams 24 MiB in 1 MiB writes through encryptStream or decryptStream at parallelism 3, reads
// 6 MiB of the output (past the 4 MiB where workers start), then ends without reading on or
// cancelling. It prints {"read","workers"} then, as the process exits, {"exitAfterDropMs"}: the
// worker_threads workers it made must not keep it running (tests/npm/parallel.node.mjs).
import { writeSync } from "node:fs";
import process from "node:process";
import { decryptStream, encrypt, encryptStream, RawDataKey } from "@envelope/envelope";

const op = process.argv[2];
const MiB = 1024 * 1024;
const keys = await RawDataKey.create(new Uint8Array(32).fill(7));
const plain = new Uint8Array(24 * MiB).fill(1);
const input = op === "encrypt" ? plain : await encrypt(plain, { keys, parallelism: 1 });

// Counts the workers the library makes (it takes the class from node:worker_threads when it starts one).
const threads = process.getBuiltinModule("node:worker_threads");
const Real = threads.Worker;
let workers = 0;
threads.Worker = class extends Real {
  constructor(...args) {
    super(...args);
    workers++;
  }
};

let at = 0;
const source = new ReadableStream({
  pull(c) {
    if (at >= input.length) return c.close();
    c.enqueue(input.slice(at, at + MiB));
    at += MiB;
  },
});
const stream = op === "encrypt" ? encryptStream({ keys, parallelism: 3 }) : decryptStream({ keys, parallelism: 3 });
const reader = source.pipeThrough(stream).getReader();
let read = 0;
while (read < 6 * MiB) {
  const r = await reader.read();
  if (r.done) break;
  read += r.value.length;
}
const droppedAt = performance.now();
writeSync(1, JSON.stringify({ read, workers }) + "\n");
process.on("exit", () => {
  writeSync(1, JSON.stringify({ exitAfterDropMs: Math.round(performance.now() - droppedAt) }) + "\n");
});
