/**
 * Fixtures shared by the page tests that save files (tests/browser_key_release_test.ts,
 * tests/browser_save_test.ts): the page built once per run, deterministic plaintext made on
 * both sides, and reading what the page saved into the origin private file system.
 *
 * @module
 */
// A test/bench-only package: inline, so it stays out of the runtime import map and deno.lock (deno.dev.lock has it).
// deno-lint-ignore no-import-prefix
import type { Page } from "npm:playwright-core@1.65.1";
import { patternBytes } from "./web.ts";

// The build and the pattern are the ones tests/support/web.ts has; the saving tests add streams, hashes and OPFS reads.
export { builtWeb, patternBytes } from "./web.ts";

/** `total` pattern bytes in 1 MiB pieces (piece n from seed + n), made as the reader pulls. */
export function patternStream(total: number, seed: number): ReadableStream<Uint8Array> {
  const piece = 1 << 20;
  let sent = 0;
  let n = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const len = Math.min(piece, total - sent);
      controller.enqueue(patternBytes(len, seed + n++));
      sent += len;
    },
  }, { highWaterMark: 0 });
}

/** FNV-1a over bytes, continuing from `h`. */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** The FNV-1a hash of what {@linkcode patternStream} makes. */
export function patternHash(total: number, seed: number): number {
  let h = 0x811c9dc5;
  for (let i = 0, n = 0; i < total; i += 1 << 20, n++) {
    h = fnv1a(patternBytes(Math.min(1 << 20, total - i), seed + n), h);
  }
  return h;
}

/**
 * The files in the page origin's private file system: name to size, once the
 * browser has settled. Chromium writes through a `NAME.crswap` swap file and
 * removes it a moment after an aborted or closed writable resolves, so this
 * waits (up to 5 s) until no swap file is left, and lists again when a file
 * went away while it was being read, before it answers.
 */
export async function savedFiles(page: Page): Promise<Record<string, number>> {
  for (let i = 0;; i++) {
    const files = await listed(page);
    const settled = files !== null && !Object.keys(files).some((n) => n.endsWith(".crswap"));
    if (settled || i >= 50) {
      if (files === null) throw new Error("the page's files kept changing while they were listed");
      return files;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The files by size, or null when one went away between the listing and its read (the page was still removing it). */
async function listed(page: Page): Promise<Record<string, number> | null> {
  return await page.evaluate(async () => {
    const nav = navigator as unknown as { storage: { getDirectory(): Promise<unknown> } };
    const dir = await nav.storage.getDirectory() as {
      entries(): AsyncIterable<[string, { kind: string; getFile(): Promise<File> }]>;
    };
    const out: Record<string, number> = {};
    try {
      for await (const [name, h] of dir.entries()) if (h.kind === "file") out[name] = (await h.getFile()).size;
    } catch (e) {
      if ((e as Error).name === "NotFoundError") return null;
      throw e;
    }
    return out;
  });
}

/** Size and FNV-1a hash of a saved file, read back in the page as a stream. */
export async function savedHash(page: Page, name: string): Promise<{ size: number; hash: number }> {
  return await page.evaluate(async (name) => {
    const nav = navigator as unknown as {
      storage: {
        getDirectory(): Promise<
          { getFileHandle(n: string, o?: { create?: boolean }): Promise<{ getFile(): Promise<File> }> }
        >;
      };
    };
    const file = await (await (await nav.storage.getDirectory()).getFileHandle(name)).getFile();
    const reader = file.stream().getReader();
    let h = 0x811c9dc5;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value[i], 0x01000193);
    }
    return { size: file.size, hash: h >>> 0 };
  }, name);
}
