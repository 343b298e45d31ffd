/**
 * File paths for the CLI and the key files, without Deno's Node layer.
 *
 * In Deno, importing any `node:` module (even `node:path`) starts the Node
 * compatibility layer, which costs about as much as an empty `deno run`
 * (`scripts/bench_startup.ts`); a CLI called once per file pays that on
 * every call. So on POSIX systems under Deno these functions are our own,
 * with the results of Node's `path.posix` (tests/host_path_test.ts compares
 * them on thousands of paths). On Node, and on Windows, they are Node's own
 * `node:path`, imported only then.
 *
 * @module
 */
import type NodePath from "node:path";

interface DenoLike {
  readonly build: { readonly os: string };
  cwd(): string;
}

const deno = (globalThis as { Deno?: DenoLike }).Deno;

/** Node's `path` where it is the right one: always on Node, on Windows under Deno. */
const nodePath: typeof NodePath | undefined = !deno || deno.build.os === "windows"
  ? (await import("node:path")).default
  : undefined;

/** The path segments of `path` with `.` and `..` applied; a `..` above the root of an absolute path is dropped. */
function segments(path: string, absolute: boolean): string[] {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else {
      out.push(seg);
    }
  }
  return out;
}

function posixNormalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  let body = segments(path, absolute).join("/");
  if (body === "" && !absolute) body = ".";
  if (body !== "" && path.endsWith("/")) body += "/";
  return absolute ? `/${body}` : body;
}

function posixResolve(...paths: string[]): string {
  let joined = "";
  for (let i = paths.length - 1; i >= -1; i--) {
    const p = i >= 0 ? paths[i] : deno!.cwd();
    if (p === "") continue;
    joined = joined === "" ? p : `${p}/${joined}`;
    if (p.startsWith("/")) break;
  }
  return `/${segments(joined, true).join("/")}`;
}

function posixJoin(...paths: string[]): string {
  const joined = paths.filter((p) => p !== "").join("/");
  return joined === "" ? "." : posixNormalize(joined);
}

/** `path` without its trailing slashes (the root stays `/`). */
function trimEnd(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(0, end);
}

function posixDirname(path: string): string {
  if (path === "") return ".";
  // As Node's: the part before the slash that precedes the last name, kept as written ("a//b" gives "a/", "//a" "//").
  let end = -1;
  let inName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path.charCodeAt(i) !== 47) inName = true;
    else if (inName) {
      end = i;
      break;
    }
  }
  const rooted = path.startsWith("/");
  if (end === -1) return rooted ? "/" : ".";
  return rooted && end === 1 ? "//" : path.slice(0, end);
}

function posixBasename(path: string): string {
  const trimmed = trimEnd(path);
  return trimmed === "/" ? "" : trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function posixRelative(from: string, to: string): string {
  const a = segments(posixResolve(from), true);
  const b = segments(posixResolve(to), true);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return [...Array(a.length - common).fill(".."), ...b.slice(common)].join("/");
}

/** The separator between a path's segments: `/`, or `\` on Windows. */
export const sep: string = nodePath?.sep ?? "/";

/** The absolute path of `paths` joined right to left, against the working folder. */
export const resolve: (...paths: string[]) => string = nodePath?.resolve ?? posixResolve;

/** `paths` joined with the separator, `.` and `..` applied. */
export const join: (...paths: string[]) => string = nodePath?.join ?? posixJoin;

/** The folder part of `path` (`.` for a bare name). */
export const dirname: (path: string) => string = nodePath?.dirname ?? posixDirname;

/** The last segment of `path`. */
export const basename: (path: string) => string = nodePath ? (p) => nodePath.basename(p) : posixBasename;

/** The path from `from` to `to` (both resolved first); `""` when they are the same. */
export const relative: (from: string, to: string) => string = nodePath?.relative ?? posixRelative;

/** True for an absolute path. */
export const isAbsolute: (path: string) => boolean = nodePath?.isAbsolute ?? ((p) => p.startsWith("/"));

/** The POSIX functions themselves, for the tests that compare them with Node's. */
export const posixForTests = {
  resolve: posixResolve,
  join: posixJoin,
  dirname: posixDirname,
  basename: posixBasename,
  relative: posixRelative,
  normalize: posixNormalize,
};
