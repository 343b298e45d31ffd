/**
 * Keeping the CLI's memory flat on long files. Every chunk allocates fresh
 * buffers (read, chunk, sealed), and V8 lets tens of MiB of dead
 * ArrayBuffers pile up before it collects them; on a 1 GiB file that alone
 * puts peak RSS over the 128 MiB we promise (measured: about 140 MB for a
 * 1 GiB file). The CLI (never the library) asks V8 for a full collection
 * every 32 MiB of data (about 20 ms each here, so under a second per GiB),
 * which measured about 109 MB. `node:v8`'s setFlagsFromString
 * works on Node and on Deno; where it does not, nothing changes but memory.
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

type Gc = (options?: { type?: "minor" | "major" }) => void;

let collect: Gc | null | undefined;

/** V8's `gc()`, or `null` where the runtime does not expose it. */
export function collector(): Gc | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    collect = typeof gc === "function" ? (gc as Gc) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Bytes of data between collections. */
export const COLLECT_EVERY = 32 * 1024 * 1024;
