/// <reference lib="dom" />
/**
 * Where the page puts verified plaintext. With the File System Access API
 * (Chromium), a file the user picks, written chunk by chunk as it verifies:
 * the browser commits that file only on `close()`, so a failure or a cancel
 * aborts the writable and nothing of ours is left (an empty file the picker
 * created is removed too). Elsewhere, the page's memory, offered as a `blob:`
 * link once everything verified.
 *
 * @module
 */

/** A destination for verified chunks. */
export interface Sink {
  /** Takes the next verified chunk. */
  write(chunk: Uint8Array): Promise<void>;
  /** Everything verified: commit, and return what to show (a link, or a sentence). */
  commit(): Promise<Node | string>;
  /** A failure or a cancel: leave nothing behind. */
  discard(): Promise<void>;
  /** True when the plaintext goes straight to disk. */
  readonly streaming: boolean;
}

/** The parts of the File System Access API the page uses (not yet in TypeScript's DOM types). */
interface SaveFileHandle {
  readonly name: string;
  getFile(): Promise<File>;
  createWritable(): Promise<WritableStream<Uint8Array> & { abort(reason?: unknown): Promise<void> }>;
  remove?(): Promise<void>;
}

type SavePicker = (options: { suggestedName?: string }) => Promise<SaveFileHandle>;

function picker(): SavePicker | undefined {
  const f = (globalThis as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  return typeof f === "function" ? f.bind(globalThis) : undefined;
}

/** True when this browser can stream a decrypted file to disk. */
export function canStreamToDisk(): boolean {
  return picker() !== undefined;
}

/** Asks where to save (must run in a click handler); null when the user closes the picker. */
export async function pickFileSink(suggestedName: string): Promise<Sink | null> {
  let handle: SaveFileHandle;
  try {
    handle = await picker()!({ suggestedName });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") return null;
    throw e;
  }
  // An empty file may be one the picker just made for us; an existing file keeps its contents on failure.
  const wasEmpty = (await handle.getFile()).size === 0;
  const writable = await handle.createWritable();
  const writer = writable.getWriter();
  let bytes = 0;
  return {
    streaming: true,
    async write(chunk) {
      await writer.write(chunk);
      bytes += chunk.length;
    },
    async commit() {
      await writer.close();
      return `Saved to ${handle.name} (${formatBytes(bytes)}), every chunk verified.`;
    },
    async discard() {
      await writer.abort("decryption did not finish").catch(() => {});
      if (wasEmpty) await handle.remove?.().catch(() => {});
    },
  };
}

/** Holds the plaintext in memory and offers it as a download once all of it verified. */
export function memorySink(name: string, onUrl: (url: string) => void): Sink {
  let parts: Uint8Array[] = [];
  return {
    streaming: false,
    write(chunk) {
      parts.push(chunk);
      return Promise.resolve();
    },
    commit() {
      const blob = new Blob(parts as BlobPart[], { type: "application/octet-stream" });
      parts = [];
      const url = URL.createObjectURL(blob);
      onUrl(url);
      const a = document.createElement("a");
      a.id = "download";
      a.href = url;
      a.download = name;
      a.textContent = `Save ${name} (${formatBytes(blob.size)})`;
      return Promise.resolve(a);
    },
    discard() {
      for (const p of parts) p.fill(0);
      parts = [];
      return Promise.resolve();
    },
  };
}

/** `1.50 MiB`, `300 bytes`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
