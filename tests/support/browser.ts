/**
 * Launching Debian's Chromium for the browser tests, driven by
 * `playwright-core` straight from Deno (its pipe transport to the browser
 * works under Deno's `node:child_process`).
 *
 * A missing Chromium fails the test with the install command; it never
 * skips (CI installs it with apt-get). Every browser is closed by
 * {@linkcode withBrowser}, so Deno's sanitizers see nothing left open.
 *
 * @module
 */
import assert from "node:assert/strict";
// A test/bench-only package: inline, so it stays out of the runtime import map and deno.lock (deno.dev.lock has it).
// deno-lint-ignore no-import-prefix
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from "npm:playwright-core@1.65.1";

/** The browser binary: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
/** Playwright's page type, for tests that hold pages, so the package is named in one place. */
export type { Page };

export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Flags for a quiet, headless, offline-friendly Chromium in a container. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches Chromium; throws (never skips) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  try {
    const info = await Deno.stat(CHROMIUM_PATH);
    if (!info.isFile) throw new Error("not a file");
  } catch {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: install it with \`apt-get install chromium\` ` +
        "(or set CHROMIUM_PATH); the browser tests need it and never skip",
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
    timeout: 60_000,
  });
}

/** What {@linkcode withBrowser} hands the test. */
export interface BrowserSession {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors seen so far (for failure messages). */
  readonly problems: string[];
}

/** Options for {@linkcode withBrowser}. */
export interface SessionOptions {
  /** A function run in the page before any of its scripts (e.g. to remove `crypto.subtle`). */
  readonly initScript?: () => void;
  /**
   * Where the page's "Save" goes. `memory` (the default) removes
   * `showSaveFilePicker`, so the page takes the in-memory path of browsers
   * without the File System Access API. `opfs` makes the picker return a
   * handle in the origin private file system (`navigator.storage.getDirectory()`)
   * named as suggested, created empty as the real picker does; its writable
   * also commits only on `close()` (tests/support/web_fixtures.ts reads it back).
   */
  readonly saveTo?: "memory" | "opfs";
}

/** In the page: removes the save picker (the memory path). */
function noSavePicker(): void {
  delete (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker;
  Object.defineProperty(globalThis, "showSaveFilePicker", { value: undefined, configurable: true });
}

/**
 * In the page: a save picker that answers with an OPFS file named as
 * suggested, emptied as Chromium's own picker empties a chosen file before
 * it returns it, and records the names asked for.
 */
function opfsSavePicker(): void {
  const g = globalThis as unknown as { showSaveFilePicker: unknown; pickedNames: string[] };
  g.pickedNames = [];
  g.showSaveFilePicker = async (options: { suggestedName?: string }) => {
    const name = options.suggestedName ?? "saved";
    g.pickedNames.push(name);
    const storage = (navigator as unknown as {
      storage: {
        getDirectory(): Promise<
          { getFileHandle(n: string, o?: { create?: boolean }): Promise<{ getFile(): Promise<File> }> }
        >;
      };
    })
      .storage;
    const handle = await (await storage.getDirectory()).getFileHandle(name, { create: true });
    const w = await (handle as unknown as { createWritable(): Promise<WritableStream> }).createWritable();
    await w.close(); // a writable that is closed with nothing written leaves the file empty
    return handle;
  };
}

/**
 * Runs `fn` with a fresh Chromium, context and page, and closes them all
 * afterwards whatever happens. Waits in the page time out after 60 s.
 */
export async function withBrowser<T>(
  fn: (session: BrowserSession) => Promise<T>,
  options: SessionOptions = {},
): Promise<T> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    context.setDefaultTimeout(60_000);
    await context.addInitScript(options.saveTo === "opfs" ? opfsSavePicker : noSavePicker);
    if (options.initScript !== undefined) await context.addInitScript(options.initScript);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    return await fn({ browser, context, page, problems });
  } finally {
    await browser.close();
  }
}

/**
 * Resolves with `promise`, or rejects after `ms` naming `what`; the timer is
 * always cleared (a bound on page-side work, which Playwright's evaluate
 * does not have).
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A page's memory as the memory-bound tests read it over CDP. */
export interface MemoryMeter {
  /** The JS heap plus ArrayBuffer backing stores (where plaintext would pile up), garbage included. */
  usage(): Promise<number>;
  /** The same right after a full GC, so garbage not yet collected does not count. */
  live(): Promise<number>;
}

/**
 * A meter over `cdp`, first checked to see live array buffers: it holds 96
 * MiB in the page and fails the test unless `live()` counts them.
 */
export async function memoryMeter(cdp: CDPSession, page: Page): Promise<MemoryMeter> {
  const usage = async () => {
    const u = await cdp.send("Runtime.getHeapUsage") as { usedSize: number; backingStorageSize?: number };
    return u.usedSize + (u.backingStorageSize ?? 0);
  };
  const live = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return await usage();
  };
  await page.evaluate(() => {
    (globalThis as { held?: Uint8Array }).held = new Uint8Array(96 << 20).fill(1);
  });
  assert.ok((await live()) >= 96 * 1024 * 1024, "the heap meter does not count ArrayBuffer memory");
  await page.evaluate(() => delete (globalThis as { held?: Uint8Array }).held);
  return { usage, live };
}
