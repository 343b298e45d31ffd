/**
 * Chunks on Web Workers in Chromium, through the built bundle
 * (scripts/build_web.ts writes chunk_worker.js beside envelope.js): an
 * 8 MiB stream sealed and opened at parallelism 2 round-trips with a worker
 * started, and where the page cannot make workers the same call stays on
 * the page's thread and still round-trips.
 *
 * @module
 */
import assert from "node:assert/strict";
import { serve } from "./support/web.ts";
import { type Page, withBrowser, within } from "./support/browser.ts";

/** Runs the round trip in the page; returns whether the bytes came back and how many Workers were made. */
function roundTrip(page: Page) {
  return page.evaluate(async () => {
    type Env = {
      RawDataKey: { create(k: Uint8Array): Promise<unknown> };
      encryptStream(o: unknown): TransformStream<Uint8Array, Uint8Array>;
      decryptStream(o: unknown): TransformStream<Uint8Array, Uint8Array>;
    };
    const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
    const keys = await env.RawDataKey.create(crypto.getRandomValues(new Uint8Array(32)));
    const data = new Uint8Array(8 * 1024 * 1024 + 333);
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    const sealed = await new Response(
      new Blob([data]).stream().pipeThrough(env.encryptStream({ keys, parallelism: 2 })),
    ).bytes();
    const back = await new Response(
      new Blob([sealed]).stream().pipeThrough(env.decryptStream({ keys, parallelism: 2 })),
    ).bytes();
    const same = back.length === data.length && back.every((x, i) => x === data[i]);
    return { same, workers: (globalThis as { __workers?: number }).__workers ?? 0 };
  });
}

/** Serves the page, runs the round trip in it with `initScript` run first, and gives the result and the page's problems. */
async function roundTripOnPage(initScript: () => void) {
  const server = await serve();
  try {
    let result: { same: boolean; workers: number; problems: string[] } | undefined;
    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${server.origin}/`);
      const r = await within(120_000, "the round trip", roundTrip(page));
      result = { ...r, problems: [...problems] };
    }, { initScript });
    return result!;
  } finally {
    await server.close();
  }
}

Deno.test("page: an 8 MiB stream sealed and opened at parallelism 2 runs on a Web Worker and round-trips", async () => {
  const r = await roundTripOnPage(() => {
    const Real = globalThis.Worker;
    const g = globalThis as { __workers?: number };
    globalThis.Worker = class extends Real {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        this.addEventListener("message", (e) => {
          if ((e as MessageEvent).data?.type === "ready") g.__workers = (g.__workers ?? 0) + 1;
        });
      }
    };
  });
  assert.equal(r.same, true);
  assert.ok(r.workers >= 2, `${r.workers} Workers were made (one to seal, one to open)`);
  assert.deepEqual(r.problems, []);
});

Deno.test("page: where Workers cannot be made, the same stream stays on the page's thread and round-trips", async () => {
  const r = await roundTripOnPage(() => {
    globalThis.Worker = class {
      constructor() {
        throw new DOMException("workers are not allowed here", "SecurityError");
      }
    } as unknown as typeof Worker;
  });
  assert.equal(r.same, true);
  assert.equal(r.workers, 0);
  assert.deepEqual(r.problems, []);
});
