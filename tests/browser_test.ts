/**
 * The decryption page (src/web/) in Chromium (headless, driven by
 * playwright-core from Deno), against pages served on 127.0.0.1 by
 * `scripts/serve.ts`. The bundles are built once per run into a temporary
 * folder with `scripts/build_web.ts`, so these tests check what ships. The
 * browser entry's own tests are browser_entry_test.ts; the server's,
 * serve_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bytesFile, streamedFile } from "../scripts/serve.ts";
import { encrypt, encryptStream, LocalKey, RawDataKey, unwrapDataKey } from "../mod.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { patternBytes, serve } from "./support/web.ts";
import { memoryMeter, withBrowser, within } from "./support/browser.ts";

// ---------------------------------------------------------------------------
// Shared fixtures

/**
 * A stream of `total` pattern bytes in 1 MiB pieces, generated as the reader
 * pulls, so a 200 MiB plaintext is never in memory at once.
 */
function patternStream(total: number, seed: number): ReadableStream<Uint8Array> {
  const piece = 1 << 20;
  let sent = 0;
  let n = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const len = Math.min(piece, total - sent);
      controller.enqueue(patternBytes(len, seed + n++));
      sent += len;
    },
  }, { highWaterMark: 0 });
}

/** FNV-1a over bytes, continuing from `h`; the page computes the same. */
function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const MiB = 1 << 20;

/** The browser bundle's API, as the page sees it after `import("/envelope.js")`. */
type Env = typeof import("../src/browser.ts");

/** Runs the CLI (`deno run -A mod.ts ...`) with a temporary HOME and the usual Deno cache. */
async function cli(home: string, denoDir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../mod.ts", import.meta.url).pathname, ...args],
    env: { HOME: home, DENO_DIR: denoDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, `envelope ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout) + dec.decode(out.stderr);
}

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped", stderr: "null" })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

// ---------------------------------------------------------------------------

Deno.test("page: decrypts a file made by the Deno CLI, picked or dropped, and saves the exact plaintext", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "envelope-browser-" });
  const server = await serve();
  try {
    const plaintext = patternBytes(300_000, 7); // 5 chunks of 64 KiB, the last one partial
    const input = join(tmp, "report.bin");
    await Deno.writeFile(input, plaintext);
    const keyFile = join(tmp, "local.key");
    const dir = await denoDir();
    await cli(tmp, dir, "keygen", "-o", keyFile);
    await cli(tmp, dir, "encrypt", input, "-o", `${input}.envl`, "-k", `local:${keyFile}`, "-c", "app=browser-test");
    const sealed = await Deno.readFile(`${input}.envl`);

    // What a backend does: unwrap the data key and hand it to the browser.
    const local = await LocalKey.fromText(await Deno.readTextFile(keyFile));
    const { dataKey } = await unwrapDataKey(sealed, { keys: local });
    const dataKeyB64 = encodeBase64(dataKey);

    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${server.origin}/`);
      await page.waitForSelector("body[data-state=idle]");
      await page.setInputFiles("#file", `${input}.envl`);
      await page.waitForSelector("body[data-state=ready]");
      const header = await page.textContent("#header");
      assert.match(header ?? "", /envelope v1/);
      assert.match(header ?? "", /65536 bytes/);
      assert.match(header ?? "", /app="browser-test"/);
      assert.match(header ?? "", new RegExp(`local:${local.keyId}`));
      assert.equal(await page.isDisabled("#decrypt"), true, "Decrypt is enabled before a key is pasted");

      await page.fill("#key", dataKeyB64);
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=done]");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      assert.equal(download.suggestedFilename(), "report.bin");
      const saved = await Deno.readFile(await download.path());
      assert.equal(saved.length, plaintext.length);
      assert.equal(await sha256Hex(saved), await sha256Hex(plaintext));

      // Dropping another file withdraws the offered download and reads the new header.
      const dropped = await page.evaluateHandle((b64) => {
        const g = globalThis as unknown as { DataTransfer: new () => { items: { add(f: File): void } } };
        const dt = new g.DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "dropped.bin.envl"));
        return dt;
      }, encodeBase64(sealed));
      await page.dispatchEvent("#drop", "drop", { dataTransfer: dropped });
      await page.waitForSelector("body[data-state=ready]");
      assert.match(await page.textContent("#source") ?? "", /dropped\.bin\.envl/);
      assert.equal(await page.locator("#download, a[href^='blob:']").count(), 0);
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=done]");
      const [again] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      assert.equal(again.suggestedFilename(), "dropped.bin");
      assert.equal(await sha256Hex(await Deno.readFile(await again.path())), await sha256Hex(plaintext));
      assert.deepEqual(problems, []);
    });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("page: a tampered file shows PAYLOAD_AUTH_FAILED with its hint and offers no download", async () => {
  const dataKey = patternBytes(32, 11);
  const key = await RawDataKey.create(dataKey);
  const plaintext = patternBytes(5 * 65536 + 123, 12);
  const sealed = await encrypt(plaintext, { keys: key, chunkSize: 65536 });
  key.dispose();
  const header = parseHeader(sealed);
  const tampered = sealed.slice();
  tampered[header.length + 2 * (65536 + 16) + 1000] ^= 0x01; // chunk 2: chunks 0 and 1 still verify
  const tmp = await Deno.makeTempDir({ prefix: "envelope-browser-" });
  const server = await serve();
  try {
    const path = join(tmp, "tampered.bin.envl");
    await Deno.writeFile(path, tampered);
    await withBrowser(async ({ page }) => {
      const downloads: string[] = [];
      page.on("download", (d) => downloads.push(d.suggestedFilename()));
      await page.goto(`${server.origin}/`);
      await page.setInputFiles("#file", path);
      await page.waitForSelector("body[data-state=ready]");
      await page.fill("#key", encodeBase64(dataKey));
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=error]");
      assert.equal(await page.textContent("#error .code"), "PAYLOAD_AUTH_FAILED");
      assert.match(await page.textContent("#error .message") ?? "", /chunk/i);
      assert.match(await page.textContent("#error .hint") ?? "", /Next step: /);
      const offered = await page.locator("a[download], a[href^='blob:'], #download").count();
      assert.equal(offered, 0, "a download was offered after a failed decryption");
      assert.equal(await page.isHidden("#result"), true);

      // The wrong key: refused before any chunk, by the header's commitment.
      await page.fill("#key", encodeBase64(patternBytes(32, 99)));
      await page.click("#decrypt");
      await page.waitForSelector("#error .code:text-is('NO_KEY_MATCHED')");

      // Not base64 at all.
      await page.fill("#key", "not a key!");
      await page.click("#decrypt");
      await page.waitForSelector("#error .code:text-is('INVALID_KEY')");
      assert.equal(await page.locator("a[download], a[href^='blob:'], #download").count(), 0);
      assert.deepEqual(downloads, []);
    });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("page: choosing another file while one decrypts stops it and offers nothing for it", async () => {
  const dataKey = patternBytes(32, 61);
  const key = await RawDataKey.create(dataKey);
  const slow = await encrypt(patternBytes(4 * MiB, 62), { keys: key });
  const other = await encrypt(new TextEncoder().encode("the second file"), { keys: key });
  key.dispose();
  // The slow file sends its first MiB, then waits until released (or cancelled).
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let cancelled = 0;
  const server = await serve({
    "slow.envl": streamedFile(() => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent >= MiB) await gate;
          if (sent >= slow.length) return controller.close();
          controller.enqueue(slow.slice(sent, sent + 64 * 1024));
          sent += 64 * 1024;
        },
        cancel() {
          cancelled++;
        },
      }, { highWaterMark: 0 });
    }),
  });
  const tmp = await Deno.makeTempDir({ prefix: "envelope-browser-" });
  try {
    await Deno.writeFile(join(tmp, "second.txt.envl"), other);
    await withBrowser(async ({ page }) => {
      const downloads: string[] = [];
      page.on("download", (d) => downloads.push(d.suggestedFilename()));
      await page.goto(`${server.origin}/?src=/files/slow.envl`);
      await page.waitForSelector("body[data-state=ready]");
      await page.fill("#key", encodeBase64(dataKey));
      await page.click("#decrypt");
      await page.waitForSelector("#status:has-text('verified')"); // part of the first MiB is through
      await page.setInputFiles("#file", join(tmp, "second.txt.envl"));
      await page.waitForSelector("body[data-state=ready]");
      await page.waitForSelector("#decrypt:enabled");
      assert.equal(await page.locator("#download, a[href^='blob:']").count(), 0);
      assert.equal(await page.isHidden("#error"), true);
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=done]");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      assert.equal(download.suggestedFilename(), "second.txt");
      assert.equal(await Deno.readTextFile(await download.path()), "the second file");
      assert.deepEqual(downloads, ["second.txt"]);
    });
    assert.ok(cancelled >= 1, "the first file's download was not cancelled");
  } finally {
    release();
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("page: decrypts a ?src= URL with crypto.subtle removed (the WASM core alone)", async () => {
  const dataKey = patternBytes(32, 21);
  const key = await RawDataKey.create(dataKey);
  // Chunks of 64 KiB + tag: with WebCrypto present the browser would open these with it.
  const plaintext = patternBytes(3 * 65536 + 4321, 22);
  const sealed = await encrypt(plaintext, { keys: key, context: { where: "no-subtle" } });
  key.dispose();
  const server = await serve({ "dir/data.bin.envl": bytesFile(sealed) });
  try {
    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${server.origin}/?src=/files/dir/data.bin.envl`);
      assert.equal(await page.evaluate(() => globalThis.crypto.subtle === undefined), true);
      assert.equal(await page.evaluate(() => typeof globalThis.crypto.getRandomValues), "function");
      await page.waitForSelector("body[data-state=ready]");
      assert.match(await page.textContent("#source") ?? "", /\/files\/dir\/data\.bin\.envl/);
      assert.match(await page.textContent("#header") ?? "", /where="no-subtle"/);
      await page.fill("#key", encodeBase64(dataKey));
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=done]");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      assert.equal(download.suggestedFilename(), "data.bin");
      const saved = await Deno.readFile(await download.path());
      assert.equal(await sha256Hex(saved), await sha256Hex(plaintext));

      // The browser entry still encrypts there too.
      const roundTrip = await page.evaluate(async (b64) => {
        const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
        const k = await env.RawDataKey.create(b64);
        const data = new TextEncoder().encode("sealed without WebCrypto");
        const s = await env.encrypt(data, { keys: k });
        return new TextDecoder().decode(await env.decrypt(s, { keys: k }));
      }, encodeBase64(dataKey));
      assert.equal(roundTrip, "sealed without WebCrypto");
      assert.deepEqual(problems, []);
    }, {
      initScript: () => {
        Object.defineProperty(globalThis.crypto, "subtle", { value: undefined, configurable: true });
      },
    });
  } finally {
    await server.close();
  }
});

Deno.test("page: stream-decrypts 200 MiB from fetch() with the page's memory bounded", async () => {
  const SIZE = 200 * MiB;
  const SEED = 1000;
  const dataKey = patternBytes(32, 31);
  const key = await RawDataKey.create(dataKey);
  let expected = 0x811c9dc5;
  for (let i = 0, n = 0; i < SIZE; i += MiB, n++) {
    expected = fnv1a(patternBytes(Math.min(MiB, SIZE - i), SEED + n), expected);
  }
  // The ciphertext is made as the browser reads it: plaintext generated piece by
  // piece and sealed by encryptStream, so Deno never holds the file either.
  const server = await serve({
    "big.envl": streamedFile(() => patternStream(SIZE, SEED).pipeThrough(encryptStream({ keys: key }))),
  });
  try {
    await withBrowser(async ({ page, context }) => {
      await page.goto(`${server.origin}/`);
      const cdp = await context.newCDPSession(page);
      try {
        // Live memory: the JS heap plus ArrayBuffer backing stores (where plaintext
        // would pile up), right after a full GC; the meter first checks that it sees live array buffers.
        const { usage, live } = await memoryMeter(cdp, page);
        const atRest = await live();

        let livePeak = 0;
        let rawPeak = 0;
        let samples = 0;
        let running = true;
        const sampler = (async () => {
          while (running) {
            rawPeak = Math.max(rawPeak, await usage());
            livePeak = Math.max(livePeak, await live());
            samples++;
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        let result: { bytes: number; hash: number };
        try {
          result = await within(
            240_000,
            "decrypting 200 MiB in the page",
            page.evaluate(async (b64) => {
              const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
              const keys = await env.RawDataKey.create(b64);
              const res = await fetch("/files/big.envl");
              const reader = res.body!.pipeThrough(env.decryptStream({ keys })).getReader();
              let bytes = 0;
              let h = 0x811c9dc5;
              for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value[i], 0x01000193);
                bytes += value.length;
              }
              keys.dispose();
              return { bytes, hash: h >>> 0 };
            }, encodeBase64(dataKey)),
          );
        } finally {
          running = false;
          await sampler;
        }
        assert.equal(result.bytes, SIZE);
        assert.equal(result.hash, expected, "the decrypted bytes differ from the plaintext");
        assert.ok(samples >= 3, `only ${samples} heap samples were taken`);
        const report = `live peak ${(livePeak / MiB).toFixed(1)} MiB over ${samples} samples after a full GC ` +
          `(at rest ${(atRest / MiB).toFixed(1)} MiB; with uncollected garbage ${(rawPeak / MiB).toFixed(1)} MiB)`;
        console.log(`200 MiB stream-decrypted in Chromium: ${report}`);
        assert.ok(livePeak < 64 * MiB, `the page's memory grew to ${report}, over 64 MiB`);
      } finally {
        await cdp.detach();
      }
    });
    const big = server.log.filter((e) => e.path === "/files/big.envl");
    assert.equal(big.length, 1);
  } finally {
    await server.close();
    key.dispose();
  }
});

Deno.test("page: a ?src= address with a malformed escape shows an error instead of staying on loading", async () => {
  const server = await serve();
  try {
    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${server.origin}/?src=/files/ok%25E0%25A4%25A.envl`);
      await page.waitForSelector("body[data-state=error]");
      assert.ok((await page.textContent("#error") ?? "").length > 0);
      assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
    });
  } finally {
    await server.close();
  }
});
