/**
 * The fuzz loop: mutate a seed, run the target with a per-input timeout,
 * classify the outcome, watch memory, and tabulate.
 *
 * Oracle. Every input must either be accepted with the result of the seed
 * it came from ("accepted-same"; also what unchanged bytes must give), be
 * accepted with another result where the format has no integrity to break
 * ("accepted-other": a zip entry renamed, a different key text; a finding
 * for the authenticated formats), or fail with an `EnvelopeError` that has
 * a stable code ("rejected"). Anything else is a finding: another exception,
 * no answer within the timeout, resident memory growing past the bound, or a
 * target's own invariant broken.
 *
 * @module
 */
import { EnvelopeError, ErrorCode } from "../../src/errors.ts";
import { mutate, type Mutation, MUTATIONS, Prng } from "./mutate.ts";
import type { Target } from "./targets.ts";

/** One finding, with what is needed to replay it. */
export interface Finding {
  readonly target: string;
  /** The mutations applied, in order (`bit-flip+splice`), or `seed` for an unchanged seed. */
  readonly mutation: string;
  readonly seedIndex: number;
  readonly why: string;
  /** The input, base64. */
  readonly input: string;
}

/** Per-target counts. */
export interface TargetStats {
  readonly name: string;
  inputs: number;
  unchanged: number;
  acceptedSame: number;
  acceptedOther: number;
  rejected: number;
  codes: Map<string, number>;
  findings: Finding[];
}

/** How long and how hard to fuzz. */
export interface FuzzOptions {
  readonly seed: number;
  /** Inputs per target (the bounded pass). */
  readonly inputsPerTarget?: number;
  /** Instead of a count: run for this many milliseconds in total, shared round-robin among the targets. */
  readonly durationMs?: number;
  /** Per-input timeout (default 5 s). */
  readonly timeoutMs?: number;
  /** The largest resident-set growth over the start allowed (default 512 MiB). */
  readonly rssLimitBytes?: number;
  /** Called after each target's batch, for progress. */
  readonly onProgress?: (s: TargetStats) => void;
}

const CODES = new Set<string>(Object.values(ErrorCode));

function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

class Timeout {
  constructor(readonly ms: number) {}
}

/** Runs `target.run(input)` under the timeout and returns the outcome as data. */
async function runOne(
  target: Target,
  input: Uint8Array,
  rng: Prng,
  timeoutMs: number,
): Promise<{ digest: string } | { finding: string } | { code: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Timeout>((r) => {
    timer = setTimeout(() => r(new Timeout(timeoutMs)), timeoutMs);
  });
  try {
    const r = await Promise.race([target.run(input, rng), timeout]);
    if (r instanceof Timeout) return { finding: `no answer within ${r.ms} ms (a hang)` };
    return r;
  } catch (e) {
    if (e instanceof EnvelopeError) {
      if (!CODES.has(e.code)) return { finding: `an EnvelopeError with an unknown code ${e.code}` };
      if (typeof e.message !== "string" || e.message.length === 0) return { finding: `${e.code} without a message` };
      return { code: e.code };
    }
    const err = e as Error;
    return { finding: `not an EnvelopeError: ${err?.name}: ${err?.message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Fuzzes every target; returns the counts. */
export async function fuzz(targets: readonly Target[], options: FuzzOptions): Promise<TargetStats[]> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const rssLimit = options.rssLimitBytes ?? 512 * 1024 * 1024;
  const rssStart = Deno.memoryUsage().rss;
  const stats = targets.map((t): TargetStats => ({
    name: t.name,
    inputs: 0,
    unchanged: 0,
    acceptedSame: 0,
    acceptedOther: 0,
    rejected: 0,
    codes: new Map(),
    findings: [],
  }));

  // Each seed must be accepted; its digest is what unchanged or equivalent inputs must give.
  for (const [ti, t] of targets.entries()) {
    const rng = new Prng(options.seed ^ (ti * 0x9e3779b1));
    t.digests = [];
    for (const [si, seed] of t.seeds.entries()) {
      const r = await runOne(t, seed, rng, timeoutMs);
      stats[ti].inputs++;
      if ("digest" in r) {
        t.digests.push(r.digest);
        stats[ti].acceptedSame++;
      } else {
        t.digests.push("");
        stats[ti].findings.push({
          target: t.name,
          mutation: "seed",
          seedIndex: si,
          why: `a valid seed was not accepted: ${"code" in r ? r.code : r.finding}`,
          input: b64(seed),
        });
      }
    }
  }

  const rngs = targets.map((_, ti) => new Prng((options.seed + 0x632be5ab * (ti + 1)) >>> 0));
  const deadline = options.durationMs !== undefined ? performance.now() + options.durationMs : undefined;
  const perTarget = options.inputsPerTarget ?? 2000;
  const batch = 50;
  for (let round = 0;; round++) {
    let ranAny = false;
    for (const [ti, t] of targets.entries()) {
      const s = stats[ti];
      const rng = rngs[ti];
      for (let k = 0; k < batch; k++) {
        if (deadline === undefined && s.inputs >= perTarget) break;
        if (deadline !== undefined && performance.now() > deadline) break;
        ranAny = true;
        const si = rng.int(0, t.seeds.length - 1);
        const seed = t.seeds[si];
        const others = t.seeds.filter((_, j) => j !== si);
        const kinds: Mutation[] = [rng.pick(MUTATIONS)];
        // Stacked mutations now and then.
        if (rng.next() < 0.15) kinds.push(rng.pick(MUTATIONS));
        let input = seed;
        for (const kind of kinds) input = mutate(rng, input, others, t.fields(seed), kind);
        const mutation = kinds.join("+");
        s.inputs++;
        const unchanged = sameBytes(input, seed);
        // A splice can give back another seed whole, or a result of the other input it took bytes from.
        const spliced = kinds.includes("splice");
        if (unchanged) s.unchanged++;
        const r = await runOne(t, input, rng, timeoutMs);
        const finding = (why: string) =>
          s.findings.push({ target: t.name, mutation, seedIndex: si, why, input: b64(input) });
        if ("finding" in r) finding(r.finding);
        else if ("code" in r) {
          if (unchanged) finding(`the unchanged seed was rejected with ${r.code}`);
          s.rejected++;
          s.codes.set(r.code, (s.codes.get(r.code) ?? 0) + 1);
        } else if (r.digest === t.digests![si] || (spliced && t.digests!.includes(r.digest))) {
          s.acceptedSame++;
        } else if (unchanged) {
          finding("the unchanged seed gave a different result");
        } else if (t.strict) {
          finding(`a changed input was accepted with a different result (${r.digest})`);
          s.acceptedOther++;
        } else {
          s.acceptedOther++;
        }
        const grown = Deno.memoryUsage().rss - rssStart;
        if (grown > rssLimit) {
          finding(
            `resident memory grew by ${Math.round(grown / 2 ** 20)} MiB, over the ${rssLimit / 2 ** 20} MiB bound`,
          );
          return stats;
        }
      }
      options.onProgress?.(s);
    }
    if (!ranAny) break;
  }
  return stats;
}

/** The table: one row per target, then the findings with their replay data. */
export function report(stats: readonly TargetStats[], seed: number): string {
  const rows = stats.map((s) => {
    const top = [...s.codes].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([c, n]) => `${c} ${n}`).join(", ");
    return [s.name, s.inputs, s.acceptedSame, s.acceptedOther, s.rejected, top, s.findings.length];
  });
  const head = ["parser", "inputs", "accepted-same", "accepted-other", "rejected", "top codes", "findings"];
  const all = [head, ...rows].map((r) => r.map(String));
  const width = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => typeof rows[0]?.[i] === "number" ? c.padStart(width[i]) : c.padEnd(width[i])).join(" | ") +
    " |";
  const out = [`fuzz seed ${seed}`, line(all[0]), "|" + width.map((w) => "-".repeat(w + 2)).join("|") + "|"];
  for (const r of all.slice(1)) out.push(line(r));
  const total = stats.reduce((n, s) => n + s.findings.length, 0);
  out.push(`${stats.reduce((n, s) => n + s.inputs, 0)} inputs, ${total} findings`);
  for (const s of stats) {
    for (const f of s.findings.slice(0, 5)) {
      out.push(`FINDING ${f.target} (${f.mutation} of seed ${f.seedIndex}): ${f.why}`);
      out.push(
        `  input (base64, ${Math.floor(f.input.length * 3 / 4)} bytes): ${f.input.slice(0, 400)}${
          f.input.length > 400 ? "..." : ""
        }`,
      );
    }
    if (s.findings.length > 5) out.push(`  ... and ${s.findings.length - 5} more in ${s.name}`);
  }
  return out.join("\n");
}
