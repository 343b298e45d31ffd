/**
 * The CLI's own POSIX path functions (src/host/path.ts, used under Deno so
 * that the Node layer stays unloaded) give what Node's `path.posix` gives,
 * on fixed hard cases and on thousands of generated paths.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import * as host from "../src/host/path.ts";

const ours = host.posixForTests;

const HARD = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///a",
  "a",
  "a/",
  "a//",
  "/a",
  "/a/",
  "a/b",
  "a/b/",
  "a/./b",
  "a/../b",
  "../a",
  "../../a/..",
  "/..",
  "/../a",
  "./",
  "./a",
  "a/..",
  "a/../",
  ".a",
  "a.b/.c/..",
  "//a//b//",
  "/a/b/c/../../..",
  "ü/ß/../名",
];

/** Random paths built from the pieces that make the cases differ. */
function randomPaths(n: number, seed: number): string[] {
  const pieces = ["", ".", "..", "a", "b", "ab", ".x", "x.y", "..z"];
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.floor(next() * 6);
    const parts: string[] = [];
    for (let j = 0; j < len; j++) parts.push(pieces[Math.floor(next() * pieces.length)]);
    let p = parts.join("/");
    if (next() < 0.3) p = `/${p}`;
    if (next() < 0.2) p = `${p}/`;
    out.push(p);
  }
  return out;
}

const ALL = [...HARD, ...randomPaths(3000, 7)];

Deno.test("host path: normalize, dirname and basename agree with node:path.posix", () => {
  for (const p of ALL) {
    assert.equal(ours.normalize(p), posix.normalize(p), `normalize(${JSON.stringify(p)})`);
    assert.equal(ours.dirname(p), posix.dirname(p), `dirname(${JSON.stringify(p)})`);
    assert.equal(ours.basename(p), posix.basename(p), `basename(${JSON.stringify(p)})`);
  }
});

Deno.test("host path: join, resolve and relative agree with node:path.posix", () => {
  const cwd = Deno.cwd();
  for (let i = 0; i + 2 < ALL.length; i += 3) {
    const [a, b, c] = [ALL[i], ALL[i + 1], ALL[i + 2]];
    assert.equal(ours.join(a, b, c), posix.join(a, b, c), `join(${a}, ${b}, ${c})`);
    assert.equal(ours.join(a), posix.join(a), `join(${a})`);
    assert.equal(ours.resolve(a, b), posix.resolve(a, b), `resolve(${a}, ${b})`);
    assert.equal(ours.resolve(c), posix.resolve(c), `resolve(${c})`);
    assert.equal(ours.relative(a, b), posix.relative(a, b), `relative(${a}, ${b})`);
    assert.equal(ours.relative(cwd, c), posix.relative(cwd, c), `relative(cwd, ${c})`);
  }
  assert.equal(ours.join(), posix.join());
  assert.equal(ours.resolve(), posix.resolve());
});

Deno.test("host path: under Deno on POSIX the exported functions are the CLI's own", () => {
  if (Deno.build.os === "windows") return;
  assert.equal(host.join, ours.join);
  assert.equal(host.sep, "/");
  assert.equal(host.isAbsolute("/x"), true);
  assert.equal(host.isAbsolute("x"), false);
});
