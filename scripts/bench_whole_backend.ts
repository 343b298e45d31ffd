/**
 * `deno task bench:whole-backend`: where a whole message (`encrypt` and
 * `decrypt` of bytes that fit one chunk) is faster with the WASM core than
 * with WebCrypto, in Deno (the sources) and in Node (the npm package, built
 * by scripts/build_npm.ts into a temporary folder). Each cell is the median
 * of the rounds (default 5, `--rounds N`) of `--count` messages (default
 * 2,000), one after another, under a local key and a fresh data key each;
 * the two backends take turns within each round. The thresholds this feeds
 * are `WHOLE_MESSAGE_THRESHOLDS` in src/crypto/backend.ts.
 *
 *   deno run -A scripts/bench_whole_backend.ts [--rounds N] [--count N]
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LocalKey } from "../src/keys/local.ts";
import { WHOLE_MESSAGE_THRESHOLDS } from "../src/crypto/backend.ts";
import { loadAverage } from "./bench/measure.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const RUNNER = join(ROOT, "scripts", "bench", "whole_backend.mjs");

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 100_000) {
    console.error(`error: Reading the arguments failed: --${name} takes a whole number from 1`);
    Deno.exit(2);
  }
  return v;
}
const rounds = flag("rounds", 5);
const count = flag("count", 2000);

type Cells = Record<string, { encrypt: number[]; decrypt: number[] }>;

async function runner(cmd: string, args: string[]): Promise<Cells> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!o.success) throw new Error(`${cmd} ${args[0]} failed (exit ${o.code})`);
  return JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

const tmp = await Deno.makeTempDir({ prefix: "envelope-bench-whole-" });
// Ctrl-C, SIGTERM, SIGHUP: the children get the signal too; the temporary folder (its key file included) goes.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const onSignal = () => {
  console.error("interrupted: removing " + tmp);
  Deno.removeSync(tmp, { recursive: true });
  Deno.exit(130);
};
for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
try {
  const keyFile = join(tmp, "bench.key");
  await Deno.writeTextFile(keyFile, (await LocalKey.generate()).toText(), { mode: 0o600 });
  const before = await loadAverage();
  console.error("Deno: the sources ...");
  /** The runner's arguments for a library whose entry is `mod` and whose backend module is `backend`. */
  const runnerArgs = (mod: string, backend: string) => [
    RUNNER,
    pathToFileURL(mod).href,
    pathToFileURL(backend).href,
    keyFile,
    String(rounds),
    String(count),
  ];
  const deno = await runner(Deno.execPath(), [
    "run",
    "-A",
    "--quiet",
    "--config",
    join(ROOT, "deno.json"),
    ...runnerArgs(join(ROOT, "mod.ts"), join(ROOT, "src", "crypto", "backend.ts")),
  ]);
  console.error("Node: building the npm package (scripts/build_npm.ts) ...");
  const pkg = join(tmp, "pkg");
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", "build_npm.ts"), "--out", pkg],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!built.success) throw new Error("building the npm package failed");
  const nodeVersion = new TextDecoder().decode(
    (await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output()).stdout,
  ).trim();
  console.error(`Node ${nodeVersion}: the package ...`);
  const node = await runner("node", runnerArgs(join(pkg, "mod.js"), join(pkg, "src", "crypto", "backend.js")));
  const after = await loadAverage();
  const sizes = [...new Set(Object.keys(deno).map((k) => Number(k.split(" ")[0])))];
  const lines = [
    "### Whole messages: the WASM core against WebCrypto (messages/s, encrypt / decrypt, medians)",
    "",
    `${count.toLocaleString("en-US")} messages a cell, median of ${rounds} rounds; one message after another; ` +
    `Deno ${Deno.version.deno}, Node ${nodeVersion}; load average ${before} before, ${after} after; ` +
    `${new Date().toISOString()}`,
    "",
    "| size | Deno, WebCrypto | Deno, core | core / WebCrypto | Node, WebCrypto | Node, core | core / WebCrypto |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const size of sizes) {
    const cell = (c: Cells, b: string) => c[`${size} ${b}`];
    const pair = (c: Cells, b: string) => `${fmt(median(cell(c, b).encrypt))} / ${fmt(median(cell(c, b).decrypt))}`;
    const ratio = (c: Cells) =>
      `${(median(cell(c, "wasm").encrypt) / median(cell(c, "webcrypto").encrypt)).toFixed(2)}x / ${
        (median(cell(c, "wasm").decrypt) / median(cell(c, "webcrypto").decrypt)).toFixed(2)
      }x`;
    lines.push(
      `| ${size / 1024} KiB | ${pair(deno, "webcrypto")} | ${pair(deno, "wasm")} | ${ratio(deno)} | ${
        pair(node, "webcrypto")
      } | ${pair(node, "wasm")} | ${ratio(node)} |`,
    );
  }
  const t = WHOLE_MESSAGE_THRESHOLDS;
  lines.push(
    "",
    `Thresholds in this tree (the core below, WebCrypto from): Deno ${t.deno.seal / 1024} KiB, Node ${
      t.node.seal / 1024
    } KiB, browsers ${t.browser.seal / 1024} KiB.`,
  );
  console.log(lines.join("\n"));
} finally {
  for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
