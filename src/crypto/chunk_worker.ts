/**
 * The body of a chunk worker (see worker_pool.ts): a Web Worker in Deno and
 * browsers, a `worker_threads` worker in Node. It receives the payload key
 * once by `postMessage` (a structured clone, never a file), seals or opens
 * batches of AES-GCM messages with {@linkcode AesGcm} (the backend the
 * runtime measured faster at that size: WebCrypto for whole chunks), and
 * wipes the key when told to end.
 *
 * Protocol (main to worker): `{ type: "key", key }`, then any number of
 * `{ type: "job", id, op, nonces, sizes, data }` where `data` is a
 * transferred ArrayBuffer holding the inputs back to back, `sizes` their
 * lengths and `nonces` 12 bytes per input; then `{ type: "end" }`. Replies:
 * `{ type: "ready" }`, `{ type: "done", id, outs, data }` (one ArrayBuffer per
 * output, and the input buffer, all transferred), `{ type: "failed", id, item,
 * outs, data }` (an open whose input `item` did not verify: `outs` holds only
 * the outputs before it), `{ type: "error", message }`, and `{ type: "ended" }`.
 *
 * @module
 */
import { parentPort } from "../host/worker.ts";
import { AesGcm } from "./aes_gcm.ts";

const port = parentPort("chunk_worker.ts");
let gcm: AesGcm | undefined;
// Messages are handled one after another, so "end" waits for every job before it.
let queue: Promise<void> = Promise.resolve();

port.listen((m) => {
  queue = queue.then(() => handle(m)).catch((e) => {
    port.post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  });
});

async function handle(m: Record<string, unknown>): Promise<void> {
  if (m.type === "key") {
    const key = m.key as Uint8Array;
    try {
      gcm = await AesGcm.create(key);
    } finally {
      key.fill(0);
    }
    port.post({ type: "ready" });
  } else if (m.type === "job") {
    await job(
      m.id as number,
      m.op as "seal" | "open",
      m.nonces as Uint8Array,
      m.sizes as number[],
      m.data as ArrayBuffer,
    );
  } else if (m.type === "end") {
    gcm?.dispose();
    gcm = undefined;
    port.post({ type: "ended" });
    port.close();
  }
}

async function job(id: number, op: "seal" | "open", nonces: Uint8Array, sizes: number[], buffer: ArrayBuffer) {
  if (!gcm) throw new Error("a job arrived before the key");
  const data = new Uint8Array(buffer);
  const g = gcm;
  const work: Promise<Uint8Array | null>[] = [];
  let off = 0;
  for (let i = 0; i < sizes.length; i++) {
    const input = data.subarray(off, off + sizes[i]);
    const nonce = nonces.subarray(i * 12, i * 12 + 12);
    off += sizes[i];
    if (op === "seal") {
      work.push(g.sealAsync(nonce, input));
    } else {
      work.push(g.openAsync(nonce, input).catch(() => null));
    }
  }
  const results = await Promise.all(work);
  const failed = results.indexOf(null);
  // Plaintext of the inputs after a failed one is not sent (only what verified before it), and is wiped here.
  const outs = (failed < 0 ? results : results.slice(0, failed)) as Uint8Array<ArrayBuffer>[];
  if (failed >= 0) { for (const r of results.slice(failed)) r?.fill(0); }
  // Each output moves to the caller as it is (transferred, not copied): nothing is left here to collect.
  const buffers = outs.map((o) =>
    o.byteOffset === 0 && o.byteLength === o.buffer.byteLength ? o.buffer : o.slice().buffer
  );
  const transfer = [...buffers, buffer];
  if (failed >= 0) port.post({ type: "failed", id, item: failed, outs: buffers, data: buffer }, transfer);
  else port.post({ type: "done", id, outs: buffers, data: buffer }, transfer);
}
