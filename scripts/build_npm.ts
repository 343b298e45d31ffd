/**
 * Builds the npm package `@envelope/envelope` into `npm/` (what dnt would do,
 * without dnt): `deno run -A scripts/build_npm.ts [--out DIR]` (also
 * `deno task build:npm`).
 *
 * 1. Reads `deno.json` (name, version, license, the npm versions in "imports").
 * 2. Stages `mod.ts` and `src/**\/*.ts` (no tests, no `src/web/`, not
 *    `src/cli/bin.ts`), dropping `mod.ts`'s `import.meta.main` block (Deno's
 *    CLI entries); Node gets
 *    `bin/envelope.js` instead (from `scripts/npm/envelope.js`). Every import
 *    specifier is checked: relative `.ts` paths, `node:` builtins, and bare
 *    names that deno.json maps to `npm:` (these become dependencies, pinned
 *    exactly). Anything else, or an unguarded `Deno.` use, stops the build.
 * 3. Installs, once each, into `node_modules/.cache/envelope-npm-build/`: the
 *    toolchain ({@linkcode TOOLCHAIN}: TypeScript and Node's types, pinned
 *    here rather than in the root package.json, whose dependencies deno.lock
 *    records) and the package's dependencies (their types are needed for the
 *    declarations).
 * 4. Compiles with `tsc` (`rewriteRelativeImportExtensions`): ES2022 ESM
 *    `.js` plus `.d.ts`, no source maps, so the output is deterministic.
 * 5. Writes `core.wasm` (the WASM core decoded from its generated module and
 *    checked against its recorded SHA-256), README.md, LICENSE and
 *    package.json, then prints the files `npm pack` would include.
 *
 * @module
 */
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createHash } from "node:crypto";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Packages the library imports are resolved through deno.json "imports" to these exact versions. */
interface DenoJson {
  name: string;
  version: string;
  license?: string;
  imports?: Record<string, string>;
  exports: Record<string, string>;
  compilerOptions?: Record<string, unknown>;
}

/** What the build stops on: a message for the developer, no stack. */
class BuildError extends Error {}

function parseArgs(args: string[]): { out: string } {
  let out = join(ROOT, "npm");
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out" && args[i + 1]) out = resolve(args[++i]);
    else if (args[i].startsWith("--out=")) out = resolve(args[i].slice(6));
    else throw new BuildError(`Reading the arguments failed: unknown argument "${args[i]}"; use --out DIR`);
  }
  return { out };
}

async function run(cmd: string, args: string[], cwd: string, what: string): Promise<string> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new BuildError(`${what} failed: cannot run ${cmd} (${(e as Error).message}); install Node 20+ and npm`);
  }
  const out = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    const err = new TextDecoder().decode(result.stderr);
    throw new BuildError(`${what} failed (${cmd} ${args.join(" ")} exited ${result.code}):\n${out}${err}`);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The command's entry under Deno (`if (import.meta.main)`), which the package leaves out. */
const DENO_ONLY_ENTRY = "src/cli/bin.ts";

/** Source files to compile, relative to ROOT with "/" separators, sorted. */
async function sourceFiles(): Promise<string[]> {
  const files = ["mod.ts"];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (rel === "src/web") continue;
        await walk(rel);
      } else if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        if (/(_test|\.test)\.ts$/.test(e.name)) continue;
        // Deno's command entry (the ./cli export); Node's is bin/envelope.js, from scripts/npm/envelope.js.
        if (rel === DENO_ONLY_ENTRY) continue;
        files.push(rel);
      }
    }
  };
  await walk("src");
  return files.sort();
}

/** Removes `if (import.meta.main) { ... }` (Deno's CLI entry) from mod.ts. */
function stripMainBlock(text: string): string {
  const start = text.indexOf("if (import.meta.main) {");
  if (start < 0) return text;
  let depth = 0;
  for (let i = text.indexOf("{", start); i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) {
      return text.slice(0, start).trimEnd() + "\n" + text.slice(i + 1).replace(/^\s*\n/, "");
    }
  }
  throw new BuildError("Staging mod.ts failed: its import.meta.main block has no closing brace");
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bexport\s*\*\s*from\s*)["']([^"']+)["']/g;

/** Code lines only: drops `//` comments and JSDoc/block comment lines (examples there are not compiled). */
function codeLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let inBlock = false;
  text.split("\n").forEach((raw, i) => {
    let line = raw;
    if (inBlock) {
      const end = line.indexOf("*/");
      if (end < 0) return;
      line = line.slice(end + 2);
      inBlock = false;
    }
    line = line.replace(/\/\*.*?\*\//g, "");
    const open = line.indexOf("/*");
    if (open >= 0) {
      line = line.slice(0, open);
      inBlock = true;
    }
    line = line.replace(/(^|[^:"'`])\/\/.*$/, "$1");
    if (line.trim() !== "") out.push({ line: i + 1, text: line });
  });
  return out;
}

interface Scan {
  /** Bare package name -> exact version, from deno.json imports. */
  deps: Map<string, string>;
}

/** Checks every specifier and every `Deno` use in one staged file. */
function scanFile(rel: string, text: string, imports: Record<string, string>, scan: Scan): void {
  for (const { line, text: code } of codeLines(text)) {
    if (/(?<![.\w?])Deno\s*\./.test(code) || /import\.meta\.main/.test(code)) {
      throw new BuildError(
        `Checking ${rel}:${line} failed: it uses Deno's globals unguarded (${code.trim()}); ` +
          "guard it (globalThis.Deno?.) or keep it out of src/ so the package runs on Node",
      );
    }
    for (const m of code.matchAll(SPECIFIER)) {
      const spec = m[1];
      if (spec.startsWith("./") || spec.startsWith("../")) {
        if (!spec.endsWith(".ts")) {
          throw new BuildError(`Checking ${rel}:${line} failed: relative import "${spec}" does not end in .ts`);
        }
        continue;
      }
      if (spec.startsWith("node:")) continue;
      const mapped = imports[spec] ?? Object.entries(imports).find(([k]) => k.endsWith("/") && spec.startsWith(k))?.[1];
      const npm = mapped?.match(/^npm:(@?[^@]+)@([^/]+)$/);
      if (!npm) {
        throw new BuildError(
          `Checking ${rel}:${line} failed: "${spec}" is neither relative, node: nor an npm: entry of deno.json "imports"; ` +
            "map it there to npm:NAME@VERSION",
        );
      }
      if (npm[1] !== spec) {
        throw new BuildError(
          `Checking ${rel}:${line} failed: "${spec}" is mapped to another package (${mapped}); import it by its npm name`,
        );
      }
      scan.deps.set(npm[1], npm[2]);
    }
  }
}

/** The tsc diagnostics that may pass: a dynamic import of a relative module that does not exist (yet). */
async function isMissingDynamicImport(stage: string, diag: Diagnostic): Promise<boolean> {
  if (diag.code !== "TS2307") return false;
  const spec = diag.message.match(/'(\.{1,2}\/[^']+)'/)?.[1];
  if (!spec) return false;
  const file = join(stage, diag.file);
  const line = (await Deno.readTextFile(file)).split("\n")[diag.line - 1] ?? "";
  const before = line.slice(0, diag.col - 1);
  return /import\s*\(\s*$/.test(before) && !(await exists(resolve(dirname(file), spec)));
}

interface Diagnostic {
  file: string;
  line: number;
  col: number;
  code: string;
  message: string;
  raw: string;
}

function parseDiagnostics(output: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const raw of output.split("\n")) {
    const m = raw.match(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/);
    if (m) out.push({ file: m[1], line: Number(m[2]), col: Number(m[3]), code: m[4], message: m[5], raw });
    else if (raw.trim() !== "" && out.length > 0) out[out.length - 1].raw += "\n" + raw;
    else if (raw.trim() !== "") out.push({ file: "", line: 0, col: 0, code: "", message: raw, raw });
  }
  return out;
}

/** The export map: each entry point's compiled module and its declarations. */
function exportsMap(deno: DenoJson): Record<string, unknown> {
  const compiled = (ts: string) => {
    const base = "./" + ts.replace(/^\.\//, "").replace(/\.ts$/, "");
    return { types: `${base}.d.ts`, default: `${base}.js` };
  };
  const out: Record<string, unknown> = {};
  for (const [subpath, target] of Object.entries(deno.exports)) {
    if (subpath === ".") {
      const browser = deno.exports["./browser"];
      out["."] = {
        ...(browser ? { browser: compiled(browser) } : {}),
        node: compiled(target),
        ...compiled(target),
      };
    } else {
      out[subpath] = compiled(target);
    }
  }
  out["./core.wasm"] = "./core.wasm";
  out["./package.json"] = "./package.json";
  return out;
}

/**
 * Where the project lives, for npm's `repository`, `homepage` and `bugs` (deno.json has no such fields).
 * The address the npm scope names; confirm it before the first publish.
 */
export const REPOSITORY = "https://github.com/envelope/envelope";

/**
 * The Node versions the package declares: 22 and later (Node 20 reached its end of life in April 2026). The tests
 * run the installed package on the machine's Node, which may be older (Node 20 here): npm only warns about engines.
 */
export const NODE_ENGINES = ">=22";

function packageJson(deno: DenoJson, deps: Map<string, string>): Record<string, unknown> {
  const main = deno.exports["."].replace(/^\.\//, "").replace(/\.ts$/, "");
  return {
    name: deno.name,
    version: deno.version,
    description: "Envelope encryption for files, directories and streams: data keys from AWS KMS, Alibaba Cloud KMS " +
      "or a local key, AES-GCM/Fernet in WebAssembly. Library and CLI for Node, Deno and browsers.",
    license: deno.license ?? "MIT",
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    homepage: `${REPOSITORY}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    type: "module",
    engines: { node: NODE_ENGINES },
    sideEffects: false,
    main: `./${main}.js`,
    types: `./${main}.d.ts`,
    exports: exportsMap(deno),
    bin: { envelope: "bin/envelope.js" },
    files: [`${main}.js`, `${main}.d.ts`, "src/**/*.js", "src/**/*.d.ts", "bin/envelope.js", "core.wasm", "docs/*.md"],
    keywords: ["encryption", "envelope-encryption", "kms", "aws-kms", "aliyun", "aes-gcm", "fernet", "webassembly"],
    dependencies: Object.fromEntries([...deps].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)),
  };
}

/**
 * Where TypeScript's DOM lib lags the web APIs Deno types (and Node 20 has):
 * declarations only, never emitted.
 */
const LIB_SHIM_FILE = "_npm_lib_shim.d.ts";
const LIB_SHIM = `// Written by scripts/build_npm.ts for the compile only.
interface Transformer<I = any, O = any> {
  /** Streams spec: called when the readable side is cancelled or the writable side aborted. */
  cancel?: (reason: any) => void | PromiseLike<void>;
}
`;

function tsconfig(
  deno: DenoJson,
  stage: string,
  out: string,
  depsDir: string,
  files: string[],
): Record<string, unknown> {
  return {
    compilerOptions: {
      ...deno.compilerOptions,
      target: "ES2022",
      module: "ES2022",
      moduleResolution: "Bundler",
      // What Node 20 has: ES2023 plus String#isWellFormed and resizable ArrayBuffers (ES2024).
      lib: ["ES2023", "ES2024.String", "ES2024.ArrayBuffer", "DOM", "DOM.Iterable", "DOM.AsyncIterable"],
      types: ["node"],
      typeRoots: [join(TOOLCHAIN_DIR, "node_modules", "@types")],
      // Bare npm names resolve to the pinned copies installed for the build (installDeps).
      paths: { "*": [join(depsDir, "node_modules", "*"), join(depsDir, "node_modules", "@types", "*")] },
      rootDir: stage,
      outDir: out,
      declaration: true,
      sourceMap: false,
      rewriteRelativeImportExtensions: true,
      allowImportingTsExtensions: true,
      isolatedModules: true,
      skipLibCheck: true,
      newLine: "lf",
      noEmitOnError: false,
      pretty: false,
    },
    files: [...files.map((f) => join(stage, f)), join(stage, LIB_SHIM_FILE)],
  };
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function writeCoreWasm(out: string): Promise<number> {
  const generated = join(ROOT, "src", "crypto", "_wasm", "core.generated.ts");
  const mod = await import(pathToFileURL(generated).href) as { WASM_BASE64: string; WASM_SHA256?: string };
  const bin = atob(mod.WASM_BASE64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  if (mod.WASM_SHA256 && sha256Hex(bytes) !== mod.WASM_SHA256) {
    throw new BuildError(
      "Writing core.wasm failed: the decoded module does not match WASM_SHA256; rebuild it with `deno task build:wasm`",
    );
  }
  if (!WebAssembly.validate(bytes)) {
    throw new BuildError("Writing core.wasm failed: the embedded module is not valid WebAssembly");
  }
  await Deno.writeFile(join(out, "core.wasm"), bytes);
  return bytes.length;
}

/** The compiler and Node's types the build uses (TypeScript 5.7+ for rewriteRelativeImportExtensions). */
export const TOOLCHAIN: Readonly<Record<string, string>> = { "typescript": "5.9.3", "@types/node": "20.19.43" };

const CACHE = join(ROOT, "node_modules", ".cache", "envelope-npm-build");

/** Where {@linkcode TOOLCHAIN} is installed: `node_modules/.bin/tsc` and `node_modules/@types/node` below it. */
export const TOOLCHAIN_DIR: string = join(
  CACHE,
  "toolchain-" + Object.entries(TOOLCHAIN).map(([n, v]) => `${n.replace(/[@/]/g, "")}-${v}`).join("-"),
);

/**
 * Installs `deps` (exact versions) into `dir` once: later builds reuse it.
 * Concurrent builds each install into a private folder and the first rename
 * wins, so none sees a half-made one.
 */
async function installOnce(dir: string, deps: ReadonlyMap<string, string>, what: string): Promise<string> {
  if (await exists(join(dir, "installed"))) return dir;
  const list = [...deps].map(([n, v]) => `${n}@${v}`).join(", ");
  console.log(`Installing ${what}: ${list || "none"}`);
  await Deno.mkdir(dirname(dir), { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: dirname(dir), prefix: `${relative(dirname(dir), dir)}.tmp-` });
  try {
    const manifest = { private: true, dependencies: Object.fromEntries([...deps].sort()) };
    await Deno.writeTextFile(join(tmp, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
    await run(
      "npm",
      ["install", "--ignore-scripts", "--no-package-lock", "--no-audit", "--no-fund", "--prefer-offline"],
      tmp,
      `Installing ${what}`,
    );
    await Deno.writeTextFile(join(tmp, "installed"), list + "\n");
    try {
      await Deno.rename(tmp, dir);
    } catch (e) {
      if (!(await exists(join(dir, "installed")))) throw e;
    }
  } finally {
    if (await exists(tmp)) await Deno.remove(tmp, { recursive: true });
  }
  return dir;
}

/** The package's dependencies, for their types, in a folder named by a hash of the pinned set. */
function installDeps(deps: ReadonlyMap<string, string>): Promise<string> {
  const key = createHash("sha256").update(JSON.stringify([...deps].sort())).digest("hex").slice(0, 16);
  return installOnce(join(CACHE, `deps-${key}`), deps, "the dependencies for their types");
}

/**
 * Empties OUT for a fresh build. Refuses a folder that holds anything but a
 * previous build of this package, so a mistyped --out cannot wipe a tree.
 */
async function cleanOut(out: string, name: string): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  const entries: string[] = [];
  for await (const e of Deno.readDir(out)) entries.push(e.name);
  if (entries.length === 0) return;
  let previous: string | undefined;
  try {
    previous = JSON.parse(await Deno.readTextFile(join(out, "package.json"))).name;
  } catch {
    previous = undefined;
  }
  if (previous !== name) {
    throw new BuildError(
      `Cleaning ${out} failed: it is not empty and holds no earlier build of ${name}; pick an empty --out folder`,
    );
  }
  for (const e of entries) await Deno.remove(join(out, e), { recursive: true });
}

async function build(out: string): Promise<void> {
  const deno = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as DenoJson;
  await installOnce(TOOLCHAIN_DIR, new Map(Object.entries(TOOLCHAIN)), "the build toolchain");
  const tsc = join(TOOLCHAIN_DIR, "node_modules", ".bin", "tsc");

  await cleanOut(out, deno.name);
  const stage = join(out, ".stage");
  const files = await sourceFiles();
  const scan: Scan = { deps: new Map() };
  for (const rel of files) {
    let text = await Deno.readTextFile(join(ROOT, rel));
    if (rel === "mod.ts") text = stripMainBlock(text);
    scanFile(rel, text, deno.imports ?? {}, scan);
    await Deno.mkdir(dirname(join(stage, rel)), { recursive: true });
    await Deno.writeTextFile(join(stage, rel), text);
  }

  const pkg = packageJson(deno, scan.deps);
  await Deno.writeTextFile(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  const depsDir = await installDeps(scan.deps);

  await Deno.writeTextFile(join(stage, LIB_SHIM_FILE), LIB_SHIM);
  const config = join(stage, "tsconfig.json");
  await Deno.writeTextFile(config, JSON.stringify(tsconfig(deno, stage, out, depsDir, files), null, 2) + "\n");
  console.log(`Compiling ${files.length} modules with TypeScript`);
  const result = await new Deno.Command(tsc, { args: ["-p", config], cwd: stage, stdout: "piped", stderr: "piped" })
    .output();
  const diags = parseDiagnostics(new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr));
  const warnings: Diagnostic[] = [];
  const errors: Diagnostic[] = [];
  for (const d of diags) ((await isMissingDynamicImport(stage, d)) ? warnings : errors).push(d);
  for (const w of warnings) {
    console.warn(
      `warning: ${w.file}(${w.line},${w.col}): ${w.message} (a dynamic import; it fails only when that path runs)`,
    );
  }
  if (errors.length > 0 || (!result.success && diags.length === 0)) {
    throw new BuildError(`Compiling with TypeScript failed:\n${errors.map((e) => e.raw).join("\n")}`);
  }
  await Deno.remove(stage, { recursive: true });

  // Declarations keep ".ts" in import("./x.ts") type references on some paths; make them ".js" like the code.
  for (const rel of files) {
    const dts = join(out, rel.replace(/\.ts$/, ".d.ts"));
    const text = await Deno.readTextFile(dts);
    const fixed = text.replace(/((?:from\s*|import\s*\(\s*)["']\.{1,2}\/[^"']+)\.ts(["'])/g, "$1.js$2");
    if (fixed !== text) await Deno.writeTextFile(dts, fixed);
  }

  await Deno.mkdir(join(out, "bin"), { recursive: true });
  await Deno.copyFile(join(ROOT, "scripts", "npm", "envelope.js"), join(out, "bin", "envelope.js"));
  await Deno.chmod(join(out, "bin", "envelope.js"), 0o755);
  await writeCoreWasm(out);
  // The package's own README (npm and Node first: scripts/npm/README.md), and the license.
  await Deno.copyFile(join(ROOT, "scripts", "npm", "README.md"), join(out, "README.md"));
  if (await exists(join(ROOT, "LICENSE"))) await Deno.copyFile(join(ROOT, "LICENSE"), join(out, "LICENSE"));
  else console.warn("warning: LICENSE is missing at the repo root; the package ships without it");
  // The docs the README and the CLI's usage point to (docs/FORMAT.md, ...), as the JSR publish includes them.
  await Deno.mkdir(join(out, "docs"), { recursive: true });
  const docs: string[] = [];
  for await (const e of Deno.readDir(join(ROOT, "docs"))) if (e.isFile && e.name.endsWith(".md")) docs.push(e.name);
  for (const d of docs.sort()) await Deno.copyFile(join(ROOT, "docs", d), join(out, "docs", d));

  // What `npm pack` will include, from npm itself.
  const listing = JSON.parse(
    await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], out, "Listing the package"),
  ) as {
    files: { path: string; size: number }[];
    size: number;
    unpackedSize: number;
    filename: string;
  }[];
  const { files: packed, size, unpackedSize, filename } = listing[0];
  const width = Math.max(...packed.map((f) => String(f.size).length));
  console.log(`\n${pkg.name}@${pkg.version} in ${relative(Deno.cwd(), out) || "."}${sep}`);
  for (const f of [...packed].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    console.log(`  ${String(f.size).padStart(width)}  ${f.path}`);
  }
  console.log(`${packed.length} files, ${unpackedSize} bytes unpacked, ${size} bytes as ${filename}`);
}

if (import.meta.main) {
  try {
    await build(parseArgs(Deno.args).out);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    console.error(`error: ${e.message}`);
    Deno.exit(1);
  }
}
