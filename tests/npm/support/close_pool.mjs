// A Node program that closes a chunk pool with jobs in flight: `node close_pool.mjs`. It starts the installed
// package's ChunkWorkerPool (three worker_threads workers), sends six seal jobs, awaits close() and prints
// "closed". The last job's answer used to unreference its worker before the worker answered the farewell, so
// Node could exit with close() unsettled, about one run in four (tests/npm/parallel.node.mjs runs it 20 times).
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const pkg = dirname(fileURLToPath(import.meta.resolve("@envelope/envelope/package.json")));
const { ChunkWorkerPool } = await import(pathToFileURL(join(pkg, "src", "crypto", "worker_pool.js")).href);
const pool = await ChunkWorkerPool.start(new Uint8Array(32).fill(9), 3);
const jobs = [];
for (let k = 0; k < 6; k++) {
  const n = 1 + (k * 13) % 64; // 64 KiB chunks
  jobs.push(pool.run("seal", new Uint8Array(12 * n), Array(n).fill(64 << 10), new ArrayBuffer(n * (64 << 10))));
}
await pool.close();
await Promise.allSettled(jobs);
console.log("closed");
