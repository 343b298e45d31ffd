/**
 * The layer check: `deno task check:layers` (and a step of `.ci/run`).
 *
 * Reads the module graph of every entry point with `deno info --json` and
 * fails when an import runs from a lower layer to a higher one, or when
 * modules form a cycle. Every kind of import counts: static, dynamic
 * (`await import(...)`) and type-only (`import type`, which `deno info`
 * reports under `type`), so a cycle cannot hide behind any of them.
 *
 * {@linkcode LAYERS} is the one place the order is written; docs/ARCHITECTURE.md
 * draws it. A module may import a module of its own unit (folder or
 * top-level file) or of any unit in a lower layer, never a peer in its own
 * layer nor anything above.
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/**
 * The layers of `src/`, top first. A unit is a folder of `src/` (`cli`) or a
 * top-level file (`errors.ts`); `mod.ts` is the repository root's.
 */
export const LAYERS: readonly (readonly string[])[] = [
  // the package entry (runs the CLI when executed, by a dynamic import)
  ["mod.ts"],
  // the applications: the command line and the web page
  ["cli", "web"],
  // the entries beside mod.ts: `./browser` (all of lib.ts) and `./fs`
  ["browser.ts", "fs.ts"],
  // the platform-neutral library index that mod.ts and browser.ts re-export
  ["lib.ts"],
  // object storage: streams and sources over S3/OSS, and rewrapping a stored message (uses envelope's rewrap)
  ["s3"],
  // the message layer, and the foreign formats beside it (compat is formats only: never cli, never envelope)
  ["envelope", "compat"],
  // cloud key providers
  ["kms"],
  // local key providers (raw, local, age)
  ["keys"],
  // generic stream and source helpers (peeking at a header, a seekable source's contract, byte streams)
  ["io"],
  // the format (bytes on the wire and the shared vocabulary), the primitives, zip
  ["format", "crypto", "archive"],
  // the host: files, paths and the process, through Deno's own calls under Deno (no Node layer), Node's on Node
  ["host"],
  // encodings
  ["encoding"],
  // the import that Deno's start-up graph does not follow (src/import_later.ts)
  ["import_later.ts"],
  // typed errors
  ["errors.ts"],
];

/** The entry points whose graphs together reach every module of `src/`. */
export const ENTRIES = [
  "mod.ts",
  "src/cli/bin.ts",
  "src/browser.ts",
  "src/fs.ts",
  "src/kms/aws.ts",
  "src/kms/aliyun.ts",
  "src/s3/mod.ts",
  "src/web/app.ts",
  "src/archive/mod.ts",
  "src/crypto/mod.ts",
  // workers' modules, loaded by URL (crypto/worker_pool.ts, archive/zip_workers.ts), not imported
  "src/crypto/chunk_worker.ts",
  "src/archive/zip_worker.ts",
];

/** One import between two files of the repository. */
export interface Edge {
  from: string;
  to: string;
  kind: "code" | "type";
  dynamic: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    isDynamic?: boolean;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

const ROOT = fromFileUrl(new URL("../", import.meta.url));

/** The unit of a repository path: `src/cli/main.ts` -> `cli`, `src/errors.ts` -> `errors.ts`. */
export function unitOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "src") return parts.join("/");
  return parts[1];
}

function layerOf(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

/** The import edges between repository files reachable from `entries`. */
export async function readGraph(entries: readonly string[] = ENTRIES): Promise<Edge[]> {
  const seen = new Set<string>();
  const edges: Edge[] = [];
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    for (const mod of info.modules) {
      const from = local(mod.specifier);
      if (from === undefined) continue;
      for (const dep of mod.dependencies ?? []) {
        for (const kind of ["code", "type"] as const) {
          const to = local(dep[kind]?.specifier);
          if (to === undefined) continue;
          const key = `${from} ${to} ${kind}`;
          if (seen.has(key)) continue;
          seen.add(key);
          edges.push({ from, to, kind, dynamic: dep.isDynamic === true });
        }
      }
    }
  }
  return edges;
}

function local(specifier: string | undefined): string | undefined {
  if (specifier === undefined || !specifier.startsWith("file://")) return undefined;
  const path = relative(ROOT, fromFileUrl(specifier));
  return path.startsWith("..") ? undefined : path;
}

/** The imports that run upward or sideways between layers, as readable lines. */
export function layerViolations(edges: readonly Edge[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    const a = unitOf(e.from), b = unitOf(e.to);
    if (a === b) continue;
    const la = layerOf(a), lb = layerOf(b);
    const how = `${e.kind === "type" ? "type-only " : ""}${e.dynamic ? "dynamic " : ""}import`;
    if (la < 0) problems.push(`${e.from}: ${a} has no layer in scripts/check_layers.ts`);
    else if (lb < 0) problems.push(`${e.from}: imports ${e.to}, whose unit ${b} has no layer`);
    else if (la === lb) problems.push(`${e.from} -> ${e.to}: ${how} between peers ${a} and ${b} (same layer)`);
    else if (la > lb) problems.push(`${e.from} -> ${e.to}: ${how} runs upward (${a} is below ${b})`);
  }
  return [...new Set(problems)].sort();
}

/** Every cycle of modules (strongly connected components of more than one file, or a file importing itself). */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    if (!next.has(e.to)) next.set(e.to, []);
    next.get(e.from)!.push(e.to);
  }
  // Tarjan's algorithm, iterative.
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>();
  const stack: string[] = [], found: string[][] = [];
  for (const start of [...next.keys()].sort()) {
    if (idx.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length) {
      const top = work[work.length - 1];
      const [v, i] = top;
      if (i === 0) {
        idx.set(v, index), low.set(v, index++), stack.push(v), onStack.add(v);
      }
      const succ = next.get(v)!;
      if (i < succ.length) {
        top[1]++;
        const w = succ[i];
        if (!idx.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || succ.includes(v)) found.push(scc.sort());
      }
    }
  }
  return found;
}

/** The modules of `src/` (and `mod.ts`) that no entry point reaches, so the check would not see them. */
export async function unreached(edges: readonly Edge[]): Promise<string[]> {
  const seen = new Set(edges.flatMap((e) => [e.from, e.to]));
  const missing: string[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (/\.(ts|tsx|js|mjs)$/.test(entry.name) && !seen.has(path)) missing.push(path);
    }
  }
  await walk("src");
  return missing.sort();
}

if (import.meta.main) {
  const edges = await readGraph();
  const files = new Set(edges.flatMap((e) => [e.from, e.to]));
  const bad = layerViolations(edges);
  for (const path of await unreached(edges)) bad.push(`${path}: no entry point in scripts/check_layers.ts reaches it`);
  const loops = cycles(edges);
  for (const line of bad) console.log(`layer: ${line}`);
  for (const loop of loops) console.log(`cycle: ${loop.join(" <-> ")}`);
  console.log(
    `check_layers: ${files.size} modules, ${edges.length} imports (${
      edges.filter((e) => e.kind === "type").length
    } type-only, ${edges.filter((e) => e.dynamic).length} dynamic): ` +
      `${bad.length} upward or sideways, ${loops.length} cycles`,
  );
  if (bad.length || loops.length) Deno.exit(1);
}
