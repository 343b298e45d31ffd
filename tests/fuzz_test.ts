/**
 * A bounded pass of the fuzzer (scripts/fuzz.ts, the same module) over every
 * parser: 1000 mutated inputs each, from a fixed seed so CI replays the same
 * inputs (set FUZZ_SEED to try others). Any finding fails the test, and the
 * table with each finding's input is printed.
 */
import assert from "node:assert/strict";
import { fuzz, report } from "../scripts/fuzz/run.ts";
import { makeTargets, type Target } from "../scripts/fuzz/targets.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261207);
const PER_PARSER = 1000;

Deno.test(`fuzz: ${PER_PARSER} mutated inputs per parser (seed ${SEED}) end in the right result or a coded EnvelopeError`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-fuzz-test-" });
  try {
    const targets = await makeTargets(dir);
    const names = targets.map((t) => t.name);
    for (
      const want of ["envelope decrypt", "envelope decryptStream", "envelope openRandomAccess", "nitro", "aliyun text"]
    ) assert.ok(names.includes(want), `no ${want} target`);
    for (const want of ["fernet token", "zip extract", "local key file", "cli key spec"]) {
      assert.ok(names.includes(want), `no ${want} target`);
    }
    const stats = await fuzz(targets, { seed: SEED, inputsPerTarget: PER_PARSER });
    for (const t of targets) await t.close?.();
    const table = report(stats, SEED);
    console.log(table);
    for (const s of stats) {
      assert.equal(s.inputs, PER_PARSER, `${s.name}: every input ran`);
      // The pass is not vacuous: mutations reach both outcomes.
      assert.ok(s.rejected > PER_PARSER / 10, `${s.name}: only ${s.rejected} inputs were rejected`);
      assert.ok(s.acceptedSame > 0, `${s.name}: no input was accepted`);
    }
    assert.deepEqual(stats.flatMap((s) => s.findings.map((f) => `${f.target}: ${f.why}`)), [], table);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz oracle: another exception, a hang, and a changed input accepted with other plaintext are findings", async () => {
  const { EnvelopeError } = await import("../src/errors.ts");
  const seed = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const target = (name: string, run: (input: Uint8Array) => Promise<{ digest: string }>): Target => ({
    name,
    seeds: [seed],
    strict: true,
    fields: () => [],
    run,
  });
  const same = (i: Uint8Array) => i.length === seed.length && i.every((b, k) => b === seed[k]);
  const stats = await fuzz([
    target("throws TypeError", (i) => same(i) ? Promise.resolve({ digest: "s" }) : Promise.reject(new TypeError("x"))),
    target("hangs", (i) => same(i) ? Promise.resolve({ digest: "s" }) : new Promise(() => {})),
    target("accepts anything", (i) => Promise.resolve({ digest: same(i) ? "s" : "other" })),
    target(
      "coded",
      (i) => same(i) ? Promise.resolve({ digest: "s" }) : Promise.reject(new EnvelopeError("TRUNCATED", "x")),
    ),
  ], { seed: 1, inputsPerTarget: 6, timeoutMs: 20 });
  const findings = Object.fromEntries(stats.map((s) => [s.name, s.findings.map((f) => f.why)]));
  assert.match(findings["throws TypeError"][0], /not an EnvelopeError: TypeError/);
  assert.match(findings["hangs"][0], /no answer within 20 ms/);
  assert.match(findings["accepts anything"][0], /accepted with a different result/);
  assert.deepEqual(findings["coded"], []);
  assert.ok(stats[3].codes.get("TRUNCATED")! > 0);
});
