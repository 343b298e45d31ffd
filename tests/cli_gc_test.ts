/**
 * The CLI's garbage-collection pacing (src/cli/gc.ts): the collector (node:v8 and node:vm, which start Deno's Node
 * layer) loads only once enough data has passed, so a small input of unknown size (stdin) never pays for it.
 */
import assert from "node:assert/strict";
import { COLLECT_EVERY, type Gc, gcPacer, LOAD_COLLECTOR_AFTER } from "../src/cli/gc.ts";

Deno.test("gcPacer: the collector loads after LOAD_COLLECTOR_AFTER bytes of unknown size, never for a small input", async () => {
  let loads = 0;
  const collections: (string | undefined)[] = [];
  const gc: Gc = (o) => void collections.push(o?.type);
  const load = () => (loads++, Promise.resolve(gc));
  const small = gcPacer(undefined, 0, load);
  for (let i = 0; i < 100; i++) small(4096);
  assert.equal(loads, 0, "a small input of unknown size loaded the collector");
  const known = gcPacer(COLLECT_EVERY - 1, 0, load);
  known(COLLECT_EVERY - 1);
  assert.equal(loads, 0, "an input known to be small loaded the collector");
  const large = gcPacer(undefined, 0, load);
  large(LOAD_COLLECTOR_AFTER - 1);
  assert.equal(loads, 0);
  large(1);
  assert.equal(loads, 1, "the collector did not load after LOAD_COLLECTOR_AFTER bytes");
  await Promise.resolve();
  large(COLLECT_EVERY);
  large(1);
  assert.equal(loads, 1, "it loads once");
  assert.deepEqual(collections, ["minor"], "one collection per COLLECT_EVERY bytes once loaded");
});

Deno.test("gcPacer: with a call count (a folder's zip), the collector loads after a quarter of the calls", async () => {
  let loads = 0;
  const collections: (string | undefined)[] = [];
  const load = () => (loads++, Promise.resolve<Gc>((o) => void collections.push(o?.type)));
  const pace = gcPacer(undefined, 100, load);
  for (let i = 0; i < 24; i++) pace(10);
  assert.equal(loads, 0);
  pace(10);
  assert.equal(loads, 1);
  await Promise.resolve();
  for (let i = 0; i < 75; i++) pace(10);
  assert.deepEqual(collections, ["major"], "a full collection at the 100th call");
});
