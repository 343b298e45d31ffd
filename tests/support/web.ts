/**
 * Fixtures of the tests that serve the page and the bundles (browser_test.ts,
 * browser_entry_test.ts, serve_test.ts): the build, once per test file's run,
 * the server over it, and deterministic bytes.
 *
 * @module
 */
import { buildWeb } from "../../scripts/build_web.ts";
import { type ServedFile, startServer, type WebServer } from "../../scripts/serve.ts";

let webDir: Promise<string> | undefined;

/** Builds the page and bundles once per test file's run (removed when the run ends). */
export function builtWeb(): Promise<string> {
  webDir ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "envelope-web-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    });
    await buildWeb(dir);
    return dir;
  })();
  return webDir;
}

/** A server over the built page and bundles, with `files` served under /files/. */
export async function serve(files: Record<string, ServedFile> = {}): Promise<WebServer> {
  return await startServer({ webDir: await builtWeb(), files });
}

/** Deterministic bytes (xorshift32), so both sides can make or check them. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}
