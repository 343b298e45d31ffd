/**
 * The page's File System Access path (src/web/save.ts) in Chromium: 1 GiB streamed to the chosen file with the
 * page's memory bounded, and a cut stream or a Cancel leaving no file. The save picker is answered with a file in
 * the origin private file system, whose writable, like the real one, commits only on `close()`
 * (tests/support/browser.ts, `saveTo: "opfs"`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { encrypt, encryptStream, RawDataKey } from "../mod.ts";
import { type ServedFile, startServer } from "../scripts/serve.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { memoryMeter, withBrowser, within } from "./support/browser.ts";
import { builtWeb, patternBytes, patternHash, patternStream, savedFiles, savedHash } from "./support/web_fixtures.ts";

const MiB = 1 << 20;

/** A served file of a known size (so the response has a Content-Length) produced by `make()`; no ranges. */
function sizedStream(size: number, make: () => ReadableStream<Uint8Array>): ServedFile {
  return { size, open: (start, end) => (start === 0 && end === size ? make() : new Blob([]).stream()) };
}

Deno.test("page: 1 GiB streams to the chosen file through the File System Access path with the page's memory under 64 MiB", async () => {
  const SIZE = 1024 * MiB;
  const SEED = 7000;
  const CS = MiB; // 1 MiB chunks: fewer, larger pieces for both sides at this size
  const dataKey = patternBytes(32, 71);
  const key = await RawDataKey.create(dataKey);
  // The ciphertext's exact length, for Content-Length: header + chunks + tags (no signature).
  const headerLength = parseHeader(await encrypt(new Uint8Array(0), { keys: key, chunkSize: CS })).length;
  const cipherSize = headerLength + SIZE + (SIZE / CS) * 16;
  const expected = patternHash(SIZE, SEED);
  const web = await startServer({
    webDir: await builtWeb(),
    files: {
      "big.bin.envl": sizedStream(
        cipherSize,
        () => patternStream(SIZE, SEED).pipeThrough(encryptStream({ keys: key, chunkSize: CS })),
      ),
    },
  });
  try {
    await withBrowser(async ({ page, context, problems }) => {
      await page.goto(`${web.origin}/?src=/files/big.bin.envl`);
      await page.waitForSelector("body[data-state=ready]");
      assert.equal(await page.isHidden("#size-warning"), true, "a streaming browser was warned about memory");
      assert.equal(await page.textContent("#decrypt"), "Decrypt and save…");
      await page.fill("#key", encodeBase64(dataKey));
      const cdp = await context.newCDPSession(page);
      try {
        // Live memory: JS heap plus ArrayBuffer backing stores, after a full GC (the meter checks it sees buffers).
        const { live } = await memoryMeter(cdp, page);
        let livePeak = 0;
        let samples = 0;
        let running = true;
        const sampler = (async () => {
          while (running) {
            livePeak = Math.max(livePeak, await live());
            samples++;
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const started = Date.now();
        try {
          await page.click("#decrypt");
          await within(
            150_000,
            "decrypting 1 GiB to disk",
            page.waitForSelector("body[data-state=done], body[data-state=error]", { timeout: 150_000 }),
          );
        } finally {
          running = false;
          await sampler;
        }
        const seconds = (Date.now() - started) / 1000;
        assert.equal(await page.getAttribute("body", "data-state"), "done", await page.textContent("#error") ?? "");
        assert.equal(await page.getAttribute("#progress", "max"), String(cipherSize));
        assert.equal(await page.getAttribute("#progress", "value"), String(cipherSize));
        const report = `live peak ${(livePeak / MiB).toFixed(1)} MiB over ${samples} samples after a full GC, ${
          seconds.toFixed(1)
        } s`;
        console.log(`1 GiB stream-decrypted to a file in Chromium: ${report}`);
        assert.ok(samples >= 3, `only ${samples} heap samples were taken`);
        assert.ok(livePeak < 64 * MiB, `the page's memory grew to ${report}, over 64 MiB`);
      } finally {
        await cdp.detach();
      }
      // What the browser committed is the plaintext, every byte.
      assert.deepEqual(await savedHash(page, "big.bin"), { size: SIZE, hash: expected });
      assert.deepEqual(problems, []);
    }, { saveTo: "opfs" });
  } finally {
    await web.close();
    key.dispose();
  }
});

Deno.test("page: a cut stream or a Cancel leaves no file; without File System Access a large file gets a memory warning", async () => {
  const dataKey = patternBytes(32, 81);
  const key = await RawDataKey.create(dataKey);
  const sealed = await encrypt(patternBytes(3 * MiB, 82), { keys: key });
  key.dispose();
  const cut = parseHeader(sealed).length + 16 * (65536 + 16); // at a chunk boundary: the format sees TRUNCATED
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const web = await startServer({
    webDir: await builtWeb(),
    files: {
      // The connection ends after 16 chunks: a clean end of stream, not an error, so only the format sees the cut.
      "cut.bin.envl": sizedStream(cut, () => new Blob([sealed.subarray(0, cut)]).stream()),
      // Sends 1 MiB, then waits for the gate.
      "slow.bin.envl": sizedStream(sealed.length, () => {
        let sent = 0;
        return new ReadableStream<Uint8Array>({
          async pull(c) {
            if (sent >= MiB) await gate;
            if (sent >= sealed.length) return c.close();
            c.enqueue(sealed.slice(sent, sent + 65536));
            sent += 65536;
          },
        }, { highWaterMark: 0 });
      }),
      // Claims 300 MiB; only its header is ever read here.
      "huge.bin.envl": sizedStream(300 * MiB, () => {
        let sent = 0;
        return new ReadableStream<Uint8Array>({
          pull(c) {
            if (sent >= 300 * MiB) return c.close();
            c.enqueue(sent === 0 ? sealed.slice(0, 65536) : new Uint8Array(65536));
            sent += 65536;
          },
        }, { highWaterMark: 0 });
      }),
    },
  });
  try {
    await withBrowser(async ({ page }) => {
      await page.goto(`${web.origin}/?src=/files/cut.bin.envl`);
      await page.waitForSelector("body[data-state=ready]");
      await page.fill("#key", encodeBase64(dataKey));
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=error]");
      assert.equal(await page.textContent("#error .code"), "TRUNCATED");
      assert.deepEqual(await savedFiles(page), {}, "a cut stream left a file");

      // An existing file chosen for replacing: the picker empties it (as Chromium's does, before anything is
      // decrypted), and a failed decryption removes the empty file; the page said so under the button.
      await page.evaluate(async () => {
        const nav = navigator as unknown as { storage: { getDirectory(): Promise<FileSystemDirectoryHandleLike> } };
        type FileSystemDirectoryHandleLike = {
          getFileHandle(n: string, o: { create: boolean }): Promise<{ createWritable(): Promise<WritableStream> }>;
        };
        const h = await (await nav.storage.getDirectory()).getFileHandle("cut.bin", { create: true });
        const w = (await h.createWritable()).getWriter();
        await w.write(new TextEncoder().encode("the old contents"));
        await w.close();
      });
      // A fresh page: the page is still in the error state of the attempt above, so a wait for that state right after
      // the click could return before this attempt even began (twice a CI failure, with the old file still there or
      // vanishing while it was listed).
      await page.goto(`${web.origin}/?src=/files/cut.bin.envl`);
      await page.waitForSelector("body[data-state=ready]");
      await page.fill("#key", encodeBase64(dataKey));
      assert.match(await page.textContent("#save-note") ?? "", /Choosing an existing file replaces it/);
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=error]");
      assert.equal(await page.textContent("#error .code"), "TRUNCATED");
      assert.deepEqual(await savedFiles(page), {});

      await page.goto(`${web.origin}/?src=/files/slow.bin.envl`);
      await page.waitForSelector("body[data-state=ready]");
      await page.fill("#key", encodeBase64(dataKey));
      await page.click("#decrypt");
      await page.waitForSelector("#status:has-text('verified')");
      assert.equal(await page.isVisible("#cancel"), true);
      await page.click("#cancel");
      await page.waitForSelector("body[data-state=cancelled]");
      assert.match(await page.textContent("#status") ?? "", /nothing was saved/);
      assert.deepEqual(await savedFiles(page), {}, "a cancelled decryption left a file");
    }, { saveTo: "opfs" });

    // Without the File System Access API (other browsers), the page says it will hold a large file in memory.
    await withBrowser(async ({ page }) => {
      await page.goto(`${web.origin}/?src=/files/huge.bin.envl`);
      await page.waitForSelector("body[data-state=ready]");
      assert.equal(await page.isVisible("#size-warning"), true);
      assert.match(await page.textContent("#size-warning") ?? "", /300\.0 MiB\) in memory/);
      assert.equal(await page.textContent("#decrypt"), "Decrypt");
    });
  } finally {
    release();
    await web.close();
  }
});
