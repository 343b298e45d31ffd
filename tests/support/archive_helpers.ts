/**
 * Shared helpers for the archive tests (tests/archive_*_test.ts): temporary folders that must end with no open
 * file, streams over bytes, a tree with awkward names, snapshots to compare trees, Python's zipfile as a peer.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type EnvelopeError, isEnvelopeError } from "../../src/errors.ts";

export async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "envelope-archive-" });
  try {
    await fn(dir);
    // Every file the archive code opened under the folder has been closed.
    assert.deepEqual((await openFiles()).filter((f) => f.startsWith(dir)), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function bytesStream(bytes: Uint8Array, piece = 1000): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + piece));
      off += piece;
    },
  });
}

/** What this process's file descriptors point at (Linux). */
export async function openFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir("/proc/self/fd")) {
    try {
      out.push(await readlink(join("/proc/self/fd", fd)));
    } catch {
      // closed while listing
    }
  }
  return out;
}

export async function python(code: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("python3", { args: ["-c", code, ...args], stdout: "piped", stderr: "piped" })
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `python failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Deterministic pseudo-random bytes (xorshift), compressible only a little. */
export function noise(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0x3f; // six bits: deflate does some work but not much
  }
  return out;
}

export const UNICODE_DIR = "données";
export const ASTRAL = "𝄞clef.txt"; // U+1D11E sorts after U+FFxx in UTF-8 but before it in UTF-16
export const HIGH_BMP = "ｚwide.txt"; // U+FF5A

/** A tree with nested and empty folders, a 0-byte file, a 3 MiB file and non-ASCII names. */
export async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, "a", "b", "c"), { recursive: true });
  await mkdir(join(root, "empty"), { recursive: true });
  await mkdir(join(root, "a", "empty-inner"), { recursive: true });
  await mkdir(join(root, UNICODE_DIR, "sous-dossier"), { recursive: true });
  await writeFile(join(root, "a.txt"), "top file\n");
  await writeFile(join(root, "zero.bin"), new Uint8Array(0));
  await writeFile(join(root, "a", "b", "c", "deep.txt"), "deep\n");
  await writeFile(join(root, "a", "b", "big.bin"), noise(3 * 1024 * 1024, 7));
  await writeFile(join(root, "a", "b.txt"), "b sibling\n");
  await writeFile(join(root, UNICODE_DIR, "résumé.txt"), "é\n");
  await writeFile(join(root, UNICODE_DIR, "sous-dossier", "日本語.txt"), "日本語\n");
  await writeFile(join(root, ASTRAL), "astral\n");
  await writeFile(join(root, HIGH_BMP), "wide\n");
  await writeFile(join(root, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
}

/** Every path under root (folders end in "/") with each file's bytes. */
export async function snapshot(root: string): Promise<Map<string, Uint8Array | "dir">> {
  const out = new Map<string, Uint8Array | "dir">();
  const walk = async (dir: string, rel: string) => {
    for (const name of await readdir(dir)) {
      const st = await lstat(join(dir, name));
      if (st.isDirectory()) {
        out.set(rel + name + "/", "dir");
        await walk(join(dir, name), rel + name + "/");
      } else {
        out.set(rel + name, new Uint8Array(await readFile(join(dir, name))));
      }
    }
  };
  await walk(root, "");
  return out;
}

export async function assertSameTree(a: string, b: string): Promise<void> {
  const sa = await snapshot(a);
  const sb = await snapshot(b);
  assert.deepEqual([...sb.keys()].sort(), [...sa.keys()].sort());
  for (const [k, v] of sa) assert.deepEqual(sb.get(k), v, `contents of ${k}`);
}

export const PY_INFO = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    print(json.dumps({"bad": bad, "entries": [
        {"name": i.filename, "method": i.compress_type, "size": i.file_size, "csize": i.compress_size,
         "mode": i.external_attr >> 16, "time": list(i.date_time)} for i in z.infolist()]}))
`;

export interface PyEntry {
  name: string;
  method: number;
  size: number;
  csize: number;
  mode: number;
  time: number[];
}

export async function pyInfo(zipPath: string): Promise<PyEntry[]> {
  const info = JSON.parse(await python(PY_INFO, zipPath));
  assert.equal(info.bad, null, "Python's testzip found a bad entry");
  return info.entries;
}

/** Python's make_archive; `sorted` makes os.walk list each folder in sorted order. */
export async function pyMakeArchive(root: string, base: string, sorted: boolean): Promise<string> {
  const patch = sorted
    ? `
_walk = os.walk
def walk(top, *a, **k):
    for dp, dn, fn in _walk(top, *a, **k):
        dn.sort(); fn.sort()
        yield dp, dn, fn
os.walk = walk
`
    : "";
  await python(`import os, shutil, sys\n${patch}\nshutil.make_archive(sys.argv[1], "zip", sys.argv[2])`, base, root);
  return base + ".zip";
}

export async function assertRejects(p: Promise<unknown>, code: string): Promise<EnvelopeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isEnvelopeError(err), `expected EnvelopeError ${code}, got ${err}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

export const utf8 = new TextEncoder();
export function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
