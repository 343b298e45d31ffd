/**
 * The inputs of `scripts/bench_compare.ts`, made on the spot: a random file
 * (from /dev/urandom), a folder of small random files, and an application
 * folder of mixed text and binary files made reproducibly from a fixed seed
 * (the same size always gives the same tree, byte for byte; its SHA-256
 * fingerprint is printed with the table so two runs can be checked).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";

const MiB = 1024 * 1024;

/** Writes `bytes` bytes from /dev/urandom to `path` in 16 MiB pieces. */
export async function randomFile(path: string, bytes: number): Promise<void> {
  const piece = new Uint8Array(16 * MiB);
  using src = await Deno.open("/dev/urandom", { read: true });
  using dst = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let left = bytes; left > 0;) {
    const want = Math.min(left, piece.length);
    let got = 0;
    while (got < want) {
      const n = await src.read(piece.subarray(got, want));
      if (n === null) throw new Error("/dev/urandom ended");
      got += n;
    }
    for (let put = 0; put < want;) put += await dst.write(piece.subarray(put, want));
    left -= want;
  }
}

/** `count` files of `size` random bytes, named f00000.bin ..., in `dir` (created). */
export async function smallFiles(dir: string, count: number, size: number): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const all = new Uint8Array(count * size);
  for (let o = 0; o < all.length; o += 65536) crypto.getRandomValues(all.subarray(o, Math.min(all.length, o + 65536)));
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `f${String(i).padStart(5, "0")}.bin`;
    await Deno.writeFile(join(dir, name), all.subarray(i * size, (i + 1) * size));
    names.push(name);
  }
  return names;
}

/** xorshift128: a small seeded generator (not for keys; only for reproducible test data). */
class Rng {
  #s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 spreads the seed over the state.
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.#s[i] = (t ^ (t >>> 16)) >>> 0 || 1;
    }
  }
  next(): number {
    const s = this.#s;
    let t = s[3];
    const x = s[0];
    s[3] = s[2];
    s[2] = s[1];
    s[1] = x;
    t ^= t << 11;
    t ^= t >>> 8;
    s[0] = (t ^ x ^ (x >>> 19)) >>> 0;
    return s[0];
  }
  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
  fill(b: Uint8Array): void {
    const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = this.next();
    for (let i = words.length * 4; i < b.length; i++) b[i] = this.next() & 0xff;
  }
}

const TEXT_EXT = [".py", ".js", ".json", ".md", ".txt", ".html", ".css", ".yaml", ".sh", ".ts"];
const BINARY_EXT = [".png", ".jpg", ".so", ".bin", ".pyc", ".whl", ".gz", ".onnx"];

/** 1 MiB of source-like text (indented lines of words and punctuation) from `rng`. */
function corpus(rng: Rng): Uint8Array {
  const letters = "abcdefghijklmnopqrstuvwxyz_";
  const words: string[] = [];
  for (let i = 0; i < 400; i++) {
    let w = "";
    const n = 2 + rng.below(9);
    for (let j = 0; j < n; j++) w += letters[rng.below(letters.length)];
    words.push(w);
  }
  const punct = [" = ", "(", ")", ", ", ": ", ".", " + ", "[", "]", " # ", '"', " "];
  let text = "";
  while (text.length < MiB) {
    let line = "    ".repeat(rng.below(4));
    const n = 3 + rng.below(10);
    for (let j = 0; j < n; j++) line += words[rng.below(words.length)] + punct[rng.below(punct.length)];
    text += line.trimEnd() + "\n";
  }
  return new TextEncoder().encode(text.slice(0, MiB));
}

/** What {@linkcode appFolder} made. */
export interface AppFolder {
  readonly files: number;
  readonly textFiles: number;
  readonly bytes: number;
  readonly textBytes: number;
  /** SHA-256 over every file's path and bytes, in creation order (hex, first 16 digits). */
  readonly fingerprint: string;
}

/**
 * An application folder of `bytes` bytes in about `bytes / 20 KiB` files
 * (200 MiB gives 10,000), made from seed `seed`: 55% of the files are text
 * (slices of a generated source-like corpus, so they compress as code does),
 * the rest incompressible binary; sizes are log-uniform (binaries weighted
 * 4x), scaled so they add up to exactly `bytes`; spread over nested folders.
 */
export async function appFolder(root: string, bytes: number, seed = 16): Promise<AppFolder> {
  const rng = new Rng(seed);
  const count = Math.max(10, Math.round(bytes / (200 * MiB / 10_000)));
  const text = corpus(rng);
  const folders: string[] = [""];
  const nFolders = Math.max(4, Math.round(count / 25));
  for (let i = 1; i < nFolders; i++) {
    const parent = folders[rng.below(folders.length)];
    const depth = parent === "" ? 0 : parent.split("/").length;
    folders.push(depth >= 4 ? folders[rng.below(Math.min(folders.length, 8))] + `/m${i}` : join(parent, `m${i}`));
  }
  const kinds: boolean[] = []; // true = text
  const weights: number[] = [];
  for (let i = 0; i < count; i++) {
    const isText = rng.float() < 0.55;
    kinds.push(isText);
    weights.push(Math.exp(rng.float() * Math.log(2000)) * (isText ? 1 : 4));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((w / total) * bytes));
  sizes[count - 1] += bytes - sizes.reduce((a, b) => a + b, 0);
  const hash = createHash("sha256");
  let textFiles = 0;
  let textBytes = 0;
  await Deno.mkdir(root, { recursive: true });
  for (let i = 0; i < count; i++) {
    const ext = kinds[i] ? TEXT_EXT[rng.below(TEXT_EXT.length)] : BINARY_EXT[rng.below(BINARY_EXT.length)];
    const rel = join(folders[rng.below(folders.length)], `file${i}${ext}`);
    const data = new Uint8Array(sizes[i]);
    if (kinds[i]) {
      for (let o = 0; o < data.length;) {
        const at = rng.below(text.length - 4096);
        const n = Math.min(4096, data.length - o);
        data.set(text.subarray(at, at + n), o);
        o += n;
      }
      textFiles++;
      textBytes += data.length;
    } else {
      rng.fill(data);
    }
    const path = join(root, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, data);
    hash.update(rel + "\0" + data.length + "\0");
    hash.update(data);
  }
  return { files: count, textFiles, bytes, textBytes, fingerprint: hash.digest("hex").slice(0, 16) };
}
