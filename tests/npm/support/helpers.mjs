// Shared by the tests in tests/npm/, which run under `node --test` inside a
// folder where the packed @envelope/envelope tarball was installed
// (tests/npm_package_test.ts sets that up). ENVELOPE_REPO names the repo, for
// its vector files.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/** The repo checkout the package was built from. */
export function repoPath() {
  const repo = process.env.ENVELOPE_REPO;
  if (!repo) {
    throw new Error("ENVELOPE_REPO is not set: point it at the repo checkout (tests/npm_package_test.ts does)");
  }
  return repo;
}

/** Every `tests/vectors/<dir>/*.json` file as { name, data }, sorted by name. */
export function loadVectorDir(dir) {
  const path = join(repoPath(), "tests", "vectors", dir);
  return readdirSync(path)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: f.slice(0, -5), data: JSON.parse(readFileSync(join(path, f), "utf8")) }));
}

export const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
export const hex = (b) => Buffer.from(b).toString("hex");
export const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
export const utf8 = (s) => new TextEncoder().encode(s);

/** A readable byte stream of `bytes` in pieces of `size`. */
export function streamOf(bytes, size) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/** Reads a byte stream to the end into one array. */
export async function collect(stream) {
  const parts = [];
  for await (const p of stream) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

/** Deterministic bytes: byte i is (i * 31 + seed) & 255. */
export function pattern(n, seed = 7) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

/** The error code of what `f` threw, or "success". Non-EnvelopeErrors are spelled out so assertions show them. */
export async function outcomeCode(f) {
  try {
    await f();
    return "success";
  } catch (e) {
    return typeof e?.code === "string" && e?.name === "EnvelopeError"
      ? e.code
      : `not an EnvelopeError: ${e?.name}: ${e?.message}`;
  }
}
