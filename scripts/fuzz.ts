/**
 * Mutation fuzzing of every parser envelope has: the envelope message
 * (buffered, streamed in small pieces, random access), the Nitro file, the
 * Alibaba sample's text, Fernet tokens, zip extraction, local key files and
 * the CLI's `-k` key specs. See scripts/fuzz/run.ts for the oracle.
 *
 *     deno task fuzz                      # a bounded pass: 2000 inputs per parser
 *     deno task fuzz --minutes 30         # longer, shared round-robin
 *     deno task fuzz --seed 1234 --inputs 500 --only zip
 *
 * Prints the seed (replay with `--seed`), a table per parser and every
 * finding with its input in base64; exits 1 when there are findings.
 *
 * @module
 */
import { fuzz, report } from "./fuzz/run.ts";
import { makeTargets } from "./fuzz/targets.ts";

function usage(msg: string): never {
  console.error(`error: ${msg}`);
  console.error("usage: deno task fuzz [--seed N] [--minutes N | --inputs N] [--only NAME] [--timeout-ms N]");
  Deno.exit(2);
}

const args = [...Deno.args];
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) usage(`${name} needs a value`);
  args.splice(i, 2);
  return v;
};
const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) usage(`${name} takes a non-negative number, not ${v}`);
  return n;
};

const seed = num("--seed", opt("--seed")) ?? (crypto.getRandomValues(new Uint32Array(1))[0]);
const minutes = num("--minutes", opt("--minutes"));
const inputs = num("--inputs", opt("--inputs"));
const only = opt("--only");
const timeoutMs = num("--timeout-ms", opt("--timeout-ms"));
if (args.length > 0) usage(`unknown argument ${args[0]}`);

console.log(`fuzz seed ${seed} (replay with --seed ${seed})`);
const dir = await Deno.makeTempDir({ prefix: "envelope-fuzz-" });
try {
  let targets = await makeTargets(dir);
  if (only) {
    targets = targets.filter((t) => t.name.includes(only));
    if (targets.length === 0) usage(`no parser matches ${only}`);
  }
  const started = performance.now();
  const stats = await fuzz(targets, {
    seed: seed >>> 0,
    inputsPerTarget: inputs ?? 2000,
    durationMs: minutes !== undefined ? minutes * 60_000 : undefined,
    timeoutMs,
    onProgress: minutes !== undefined
      ? (s) => Deno.stderr.writeSync(new TextEncoder().encode(`\r${s.name}: ${s.inputs} inputs          `))
      : undefined,
  });
  if (minutes !== undefined) console.error();
  for (const t of targets) await t.close?.();
  console.log(report(stats, seed >>> 0));
  console.log(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (stats.some((s) => s.findings.length > 0)) Deno.exitCode = 1;
} finally {
  await Deno.remove(dir, { recursive: true });
}
