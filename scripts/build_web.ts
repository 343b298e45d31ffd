/**
 * Builds the browser bundles and the decryption page.
 *
 * `deno task build:web [OUTDIR]` (default `src/web/dist/`) writes:
 *
 * - `envelope.js`: `src/browser.ts` as one minified ES module with the WASM
 *   core embedded (what a web app imports);
 * - `app.js`: the page's script (`src/web/app.ts`) with the library inlined;
 * - `chunk_worker.js`: the worker that seals and opens chunks on other cores
 *   (`src/crypto/chunk_worker.ts`), which the library starts by its URL beside
 *   the bundle that loaded it (without it, the library stays on one thread);
 * - `index.html` and `style.css`, copied from `src/web/`.
 *
 * Bundling is `deno bundle` (esbuild inside Deno; COMPAT.md §6), so no extra
 * npm tool is needed. It then prints each bundle's size minified and gzipped
 * (`node:zlib` at level 9), the numbers quoted in docs/browser.md.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { copyFile, mkdir, readdir, readFile, rename } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { basename, dirname, join } from "node:path";

/** The page's source folder. */
export const WEB_SRC = fileURLToPath(new URL("../src/web/", import.meta.url));
/** The default output folder (git-ignored). */
export const WEB_DIST = join(WEB_SRC, "dist");
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** One built file and its sizes in bytes. */
export interface BuiltFile {
  readonly name: string;
  readonly path: string;
  readonly minified: number;
  readonly gzipped: number;
}

/**
 * Bundles one entry point to `out` as a minified browser ES module. With
 * `split`, dynamic imports become files of their own beside `out` (the age
 * module, and a chunk it shares with the entry), loaded only when called.
 */
async function bundle(entry: string, out: string, split = false): Promise<void> {
  const where = split ? ["--code-splitting", "--outdir", dirname(out)] : ["-o", out];
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "--minify", ...where, entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { code, stderr, stdout } = await cmd.output();
  if (code !== 0) {
    const dec = new TextDecoder();
    throw new Error(
      `Bundling ${entry} failed (deno bundle exited ${code}): ${dec.decode(stderr)}${dec.decode(stdout)}`,
    );
  }
  // The entry is named after its source; nothing imports it, so it can be renamed.
  if (split) await rename(join(dirname(out), basename(entry).replace(/\.ts$/, ".js")), out);
}

async function measure(name: string, path: string): Promise<BuiltFile> {
  const bytes = await readFile(path);
  return { name, path, minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
}

/**
 * Builds the bundles and the page into `outDir`; returns each file's sizes.
 *
 * @example
 * ```ts ignore
 * const files = await buildWeb("/tmp/web");
 * console.log(files.find((f) => f.name === "envelope.js")!.gzipped);
 * ```
 */
export async function buildWeb(outDir: string = WEB_DIST): Promise<BuiltFile[]> {
  await mkdir(outDir, { recursive: true });
  await Promise.all([
    bundle(join(ROOT, "src/browser.ts"), join(outDir, "envelope.js"), true),
    bundle(join(WEB_SRC, "app.ts"), join(outDir, "app.js")),
    bundle(join(ROOT, "src/crypto/chunk_worker.ts"), join(outDir, "chunk_worker.js")),
    copyFile(join(WEB_SRC, "index.html"), join(outDir, "index.html")),
    copyFile(join(WEB_SRC, "style.css"), join(outDir, "style.css")),
  ]);
  const chunks = (await readdir(outDir)).filter((n) => /^[a-z]+-[A-Z0-9]{8}\.js$/.test(n)).sort();
  return await Promise.all(
    ["envelope.js", ...chunks, "app.js", "chunk_worker.js", "index.html", "style.css"].map((n) =>
      measure(n, join(outDir, n))
    ),
  );
}

/** The embedded WASM core's own size (decoded), for the report. */
async function wasmSize(): Promise<{ raw: number; gzipped: number }> {
  const { WASM_BASE64 } = await import("../src/crypto/_wasm/core.generated.ts");
  const raw = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
  return { raw: raw.length, gzipped: gzipSync(raw, { level: 9 }).length };
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? WEB_DIST;
  const files = await buildWeb(outDir);
  const wasm = await wasmSize();
  console.log(`built ${outDir}`);
  console.log("file          minified      gzip -9");
  for (const f of files) {
    console.log(`${f.name.padEnd(13)} ${kb(f.minified).padStart(11)} ${kb(f.gzipped).padStart(12)}`);
  }
  console.log(`(the WASM core inside each bundle, as base64: ${kb(wasm.raw)} raw, ${kb(wasm.gzipped)} gzipped alone)`);
  const lib = files.find((f) => f.name === "envelope.js")!;
  const shared = files.filter((f) => f.name.startsWith("chunk-"));
  const lazy = files.filter((f) => /^[a-z]+-[A-Z0-9]{8}\.js$/.test(f.name) && !f.name.startsWith("chunk-"));
  const sum = (fs: BuiltFile[], k: "minified" | "gzipped") => fs.reduce((n, f) => n + f[k], 0);
  const eager = [lib, ...shared];
  console.log(
    `envelope.js with what it loads at once (the embedded .wasm included): ${sum(eager, "minified")} bytes minified, ${
      sum(eager, "gzipped")
    } bytes gzipped`,
  );
  for (const f of lazy) {
    console.log(`loaded on first use: ${f.name}, ${f.minified} bytes minified, ${f.gzipped} bytes gzipped`);
  }
}
