/**
 * The body of a zip worker (see zip_workers.ts): a Web Worker in Deno, a
 * `worker_threads` worker in Node. It deflates pieces of data with native
 * zlib (`node:zlib`), the same calls and so the same bytes as
 * `deflateHere` on the main thread, and reads small files whole with
 * blocking calls, which cost this thread less than the main thread's
 * asynchronous ones cost it.
 *
 * Protocol (main to worker): `{ type: "deflate", id, data, length, level,
 * final }` where `data` is a transferred ArrayBuffer whose first `length`
 * bytes are the piece; `{ type: "file", id, path,
 * level }` to read a small file and deflate it (`readWholeSync`); `{ type:
 * "end" }`. Replies: `{ type: "ready" }` once loaded; for a deflate, `{ type:
 * "done", id, out, data }` (the deflated bytes and the input buffer, both
 * transferred back); for a file, `{ type: "done", id, read, out, length }`
 * (what `readWholeSync` returned, its bytes as the first `length` of the
 * transferred `out`); `{ type: "error", id, message }` when a job throws.
 *
 * @module
 */
import { parentPort } from "../host/worker.ts";
import { deflateSync, type Level, readWholeSync, WHOLE } from "./zip_entry_data.ts";

const port = parentPort("zip_worker.ts");

/** `bytes` in an ArrayBuffer of their own, to transfer whole (zlib's result may be a view into a larger one). */
function own(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer
    : new Uint8Array(bytes).buffer;
}

/** The read buffer of every file: a file's bytes are deflated or copied out before the next is read. */
const scratch = new Uint8Array(WHOLE + 1);

port.listen((m) => {
  const id = m.id as number;
  try {
    if (m.type === "deflate") {
      const data = m.data as ArrayBuffer;
      // The first `length` bytes: the buffer may be a reused one, larger than this piece.
      const bytes = new Uint8Array(data, 0, (m.length as number | undefined) ?? data.byteLength);
      const out = own(deflateSync(bytes, m.level as Level, m.final as boolean));
      port.post({ type: "done", id, out, data }, [out, data]);
    } else if (m.type === "file") {
      const r = readWholeSync(m.path as string, m.level as Level, scratch);
      if (r.kind !== "whole") return port.post({ type: "done", id, read: r });
      const out = own(r.out);
      port.post({ type: "done", id, read: { ...r, out: undefined }, out, length: r.out.length }, [out]);
    } else if (m.type === "end") {
      port.close();
    }
  } catch (e) {
    port.post({ type: "error", id, message: e instanceof Error ? e.message : String(e) });
  }
});

port.post({ type: "ready" });
