/**
 * A reproducible application-like folder for the directory benchmark
 * (`scripts/bench_dirs.ts`) and the many-file memory test: from a seed, a
 * tree of nested folders holding many small files and a few large ones,
 * mixed text (source-like words, which deflate well) and binary (random
 * bytes, which do not), a few executables and empty folders.
 *
 * Sizes follow a long tail like an installed application's: most files are
 * under 8 KiB, a few are several MiB. The byte total is `totalBytes` exactly;
 * the same seed and arguments give the same tree, byte for byte.
 *
 * @module
 */
import { join } from "node:path";

/** What {@linkcode makeTree} wrote. */
export interface TreeStats {
  readonly files: number;
  readonly folders: number;
  readonly bytes: number;
  readonly textBytes: number;
}

/** Options of {@linkcode makeTree}. */
export interface TreeOptions {
  /** Number of files (default 10,000). */
  readonly files?: number;
  /** Bytes in all files (default 200 MiB). */
  readonly totalBytes?: number;
  /** The seed (default 1). */
  readonly seed?: number;
  /** Share of files holding text (default 0.6). */
  readonly textShare?: number;
}

/** splitmix32: a small, seeded, good-enough generator of 32-bit values. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const WORDS = (
  "import export function const let return if else for while class interface type async await new this " +
  "value result error options stream buffer length index count name path file folder archive entry key " +
  "data chunk header token cipher plain read write open close start end true false null undefined"
).split(" ");

function textBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  let col = 0;
  while (o < n) {
    const w = WORDS[next() % WORDS.length];
    for (let i = 0; i < w.length && o < n; i++) out[o++] = w.charCodeAt(i);
    col += w.length + 1;
    if (o < n) out[o++] = col > 72 ? 10 : (next() & 7) === 0 ? 0x28 : 0x20;
    if (col > 72) col = 0;
  }
  return out;
}

function binaryBytes(next: () => number, n: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer, 0, n);
}

/** Writes the tree under `root` (created; must not exist) and returns what it holds. */
export async function makeTree(root: string, options: TreeOptions = {}): Promise<TreeStats> {
  const count = options.files ?? 10_000;
  const total = options.totalBytes ?? 200 * 1024 * 1024;
  const textShare = options.textShare ?? 0.6;
  const next = rng(options.seed ?? 1);
  const unit = () => next() / 2 ** 32;

  // Folders: a few top folders, each with subfolders two or three deep, about 40 files per folder.
  const folders: string[] = [""];
  const wanted = Math.max(1, Math.ceil(count / 40));
  while (folders.length < wanted) {
    const parent = folders[next() % folders.length];
    if (parent.split("/").length > 4) continue;
    folders.push(parent === "" ? `pkg${folders.length}` : `${parent}/sub${folders.length}`);
  }
  for (const f of folders) await Deno.mkdir(join(root, f), { recursive: true });
  for (let i = 0; i < 3; i++) await Deno.mkdir(join(root, `empty${i}`, "inner"), { recursive: true });

  // Sizes: log-uniform from 64 B to 4 MiB, scaled to the total.
  const raw: number[] = [];
  for (let i = 0; i < count; i++) raw.push(Math.exp(Math.log(64) + unit() ** 1.6 * (Math.log(4 << 20) - Math.log(64))));
  const scale = total / raw.reduce((a, b) => a + b, 0);
  const sizes = raw.map((s) => Math.max(0, Math.floor(s * scale)));
  sizes[0] += total - sizes.reduce((a, b) => a + b, 0);

  let text = 0;
  for (let i = 0; i < count; i++) {
    const isText = unit() < textShare;
    const folder = folders[next() % folders.length];
    const name = `${isText ? "mod" : "blob"}${i}.${isText ? "ts" : "bin"}`;
    const data = isText ? textBytes(next, sizes[i]) : binaryBytes(next, sizes[i]);
    if (isText) text += data.length;
    await Deno.writeFile(join(root, folder, name), data, { mode: i % 97 === 0 ? 0o755 : 0o644 });
  }
  return { files: count, folders: folders.length + 6, bytes: total, textBytes: text };
}
