/**
 * host/worker.ts's count of threads (Node 20 has no `navigator`: the zip
 * workers count through `os.availableParallelism()` there), and the chunk
 * pool's default, which stays 1 on Node by measurement. The runtime's
 * globals are replaced for the test and put back.
 */
import assert from "node:assert/strict";
import { hardwareThreads } from "../src/host/worker.ts";
import { resolveParallelism } from "../src/envelope/parallel.ts";

function withGlobals(values: Record<string, unknown>, run: () => void): void {
  const g = globalThis as Record<string, unknown>;
  const saved = Object.keys(values).map((k) => [k, Object.getOwnPropertyDescriptor(g, k)] as const);
  try {
    for (const [k, v] of Object.entries(values)) Object.defineProperty(g, k, { value: v, configurable: true });
    run();
  } finally {
    for (const [k, d] of saved) {
      if (d) Object.defineProperty(g, k, d);
      else delete g[k];
    }
  }
}

Deno.test("hardwareThreads: navigator's count, else Node's os.availableParallelism() (Node 20), else 1", () => {
  const real = navigator.hardwareConcurrency;
  assert.equal(hardwareThreads(), Math.max(1, real));
  const node20 = {
    getBuiltinModule: (name: string) => name === "node:os" ? { availableParallelism: () => 7 } : undefined,
  };
  withGlobals({ navigator: undefined, process: node20 }, () => {
    assert.equal(hardwareThreads(), 7);
    assert.equal(resolveParallelism(3), 3);
  });
  withGlobals({ navigator: { hardwareConcurrency: 5 }, process: node20 }, () => assert.equal(hardwareThreads(), 5));
  withGlobals({ navigator: undefined, process: undefined }, () => assert.equal(hardwareThreads(), 1));
  assert.equal(hardwareThreads(), Math.max(1, real), "the globals are back");
});

Deno.test("resolveParallelism: the cores by default in Deno, 1 on Node (its WebCrypto already uses libuv's threads)", () => {
  assert.equal(resolveParallelism(undefined), hardwareThreads());
  const node = { versions: { node: "20.20.2" }, getBuiltinModule: () => undefined };
  withGlobals({ Deno: undefined, process: node }, () => {
    assert.equal(resolveParallelism(undefined), 1);
    assert.equal(resolveParallelism(2), 2, "an explicit count is kept");
  });
  assert.equal(resolveParallelism(undefined), hardwareThreads(), "the globals are back");
});
