/**
 * cli/batch_tally.ts and runAll: a batch without `--json` keeps no item and
 * no outcome once it ended, whatever the number of files; with `--json` it
 * keeps one entry per file, for the document. Checked with weak references
 * in a child `deno run --v8-flags=--expose-gc`, which can force a collection.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tally } from "../src/cli/batch_tally.ts";

const ITEMS = 5000;
/** Items in flight at the end are at most the slots; nothing else may stay. */
const SLOTS = 16;

/** Runs runAll over ITEMS generated items in a child with gc exposed; what was still alive after a collection. */
async function retained(json: boolean): Promise<{ live: number; done: number; failed: number; bytesIn: number }> {
  const dir = await Deno.makeTempDir({ prefix: "envelope-tally-" });
  try {
    const batch = new URL("../src/cli/batch.ts", import.meta.url).href;
    const output = new URL("../src/cli/output.ts", import.meta.url).href;
    const script = join(dir, "run.ts");
    await Deno.writeTextFile(
      script,
      `
import { runAll } from ${JSON.stringify(batch)};
import { setVerbosity } from ${JSON.stringify(output)};
setVerbosity({ quiet: true, verbose: false, json: ${json} });
const refs: WeakRef<object>[] = [];
async function* items() {
  for (let i = 0; i < ${ITEMS}; i++) {
    const item = { name: "f" + i, i, pad: new Uint8Array(256) };
    refs.push(new WeakRef(item));
    yield item;
  }
}
const tally = await runAll(items(), {
  total: ${ITEMS},
  jobs: ${SLOTS},
  name: (t) => t.name,
  work: async (t) => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (t.i % 100 === 7) throw new Error("failed " + t.name);
    const o = { input: t.name, output: t.name + ".envl", format: "envelope", bytesIn: 3, bytesOut: 5, keys: [] };
    refs.push(new WeakRef(o));
    return o;
  },
  verb: "encrypted",
});
// A weak reference's target is kept until the task that made or read it ends: collect in a later one.
await new Promise((resolve) => setTimeout(resolve, 10));
(globalThis as unknown as { gc(): void }).gc();
const live = refs.filter((r) => r.deref() !== undefined).length;
console.log(JSON.stringify({ live, done: tally.done, failed: tally.failed, bytesIn: tally.bytesIn }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-lock", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runAll without --json: no item or outcome outlives its turn (weak references after gc), only the counts", async () => {
  const r = await retained(false);
  const failed = ITEMS / 100;
  assert.deepEqual([r.done, r.failed, r.bytesIn], [ITEMS - failed, failed, 3 * (ITEMS - failed)]);
  assert.ok(r.live <= SLOTS, `${r.live} of ${2 * ITEMS - failed} items and outcomes still alive`);
});

Deno.test("runAll with --json: the outcomes the document lists are kept (the control of the test above)", async () => {
  const r = await retained(true);
  const failed = ITEMS / 100;
  assert.ok(r.live >= ITEMS - failed, `${r.live} still alive, want every outcome (${ITEMS - failed})`);
});

Deno.test("Tally: counts always, entries in input order only when listing; the document keeps its keys and their order", () => {
  const o = (n: string, at: number) => ({
    input: n,
    output: `${n}.envl`,
    format: "envelope",
    bytesIn: at,
    bytesOut: 2 * at,
    keys: [],
  });
  const fill = (t: Tally) => {
    t.addDone(o("c", 3), 3);
    t.addFailed({ input: "b", code: "IO_FAILED", message: "gone" }, 2);
    t.addDone(o("a", 1), 1);
    t.addSkipped({ input: "s", output: "s.envl" });
    t.addFailed({ input: "a0", code: "TRUNCATED", message: "cut" }, 0);
  };
  const listed = new Tally(true);
  fill(listed);
  const doc = listed.document("encrypt");
  assert.deepEqual(Object.keys(doc), ["command", "ok", "files", "failed", "skipped", "bytesIn", "bytesOut"]);
  assert.deepEqual(doc, {
    command: "encrypt",
    ok: false,
    files: [o("a", 1), o("c", 3)],
    failed: [{ input: "a0", code: "TRUNCATED", message: "cut" }, { input: "b", code: "IO_FAILED", message: "gone" }],
    skipped: [{ input: "s", output: "s.envl" }],
    bytesIn: 4,
    bytesOut: 8,
  });
  const counted = new Tally(false);
  fill(counted);
  assert.equal(counted.listing, false);
  assert.deepEqual(
    [counted.done, counted.failed, counted.skipped, counted.bytesIn, counted.bytesOut],
    [2, 2, 1, 4, 8],
  );
  assert.deepEqual(counted.document("encrypt"), { ...doc, files: [], failed: [], skipped: [] });
});
