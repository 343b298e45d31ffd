/**
 * The page gets its key (src/web/key_source.ts): from a `serve-keys` process whose KMS is moto (an AWS-wrapped
 * file, made by the CLI, decrypts end to end and is saved through the File System Access path), and from a local
 * key file that unwraps in the page. Refusals (a wrong token, a forged commitment) show typed errors and leave no
 * file; a counting proxy in front of moto shows which reached the KMS.
 *
 * @module
 */
import assert from "node:assert/strict";
import { bytesFile, startServer } from "../scripts/serve.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { parseHeader } from "../src/format/header.ts";
import { withBrowser } from "./support/browser.ts";
import { randomBytes, show, workspace } from "./support/cli.ts";
import { startCountingProxy } from "./support/counting_proxy.ts";
import { startMoto } from "./support/moto.ts";
import { startKeyServer } from "./support/serve_keys.ts";
import { builtWeb, fnv1a, savedFiles, savedHash } from "./support/web_fixtures.ts";

const TOKEN = "page-test-token-0123456789abcdef";

Deno.test("page + serve-keys (moto): an AWS-KMS-wrapped, signed file decrypts end to end and streams to the chosen file; refusals leave no file", async () => {
  await using ws = await workspace();
  const moto = await startMoto();
  const proxy = await startCountingProxy(moto.endpoint);
  try {
    const arn = await moto.createKey("page test");
    const plaintext = randomBytes(300_000);
    await Deno.writeFile(ws.path("report.bin"), plaintext);
    const r = await ws.run(["encrypt", "report.bin", "-k", arn, "--sign", "-c", "team=finance"], { env: moto.env() });
    assert.equal(r.code, 0, show(r));
    const sealed = await Deno.readFile(ws.path("report.bin.envl"));
    const forged = sealed.slice();
    forged[parseHeader(sealed).core.length - 1] ^= 0x01; // the last byte of the key commitment
    await Deno.writeTextFile(ws.path("token"), TOKEN, { mode: 0o600 });

    const connect: string[] = [];
    const web = await startServer({
      webDir: await builtWeb(),
      files: { "report.bin.envl": bytesFile(sealed), "forged.bin.envl": bytesFile(forged) },
      connectSrc: connect,
    });
    const keys = await startKeyServer(["-k", arn, "--token-file", ws.path("token"), "--origin", web.origin], {
      home: ws.home,
      env: { ...moto.env(), AWS_ENDPOINT_URL_KMS: proxy.endpoint },
    });
    connect.push(keys.url);
    try {
      await withBrowser(async ({ page, problems }) => {
        const ask = async (file: string, token: string) => {
          await page.goto(`${web.origin}/?src=/files/${file}`);
          await page.waitForSelector("body[data-state=ready]");
          await page.check("#mode-server");
          await page.fill("#key-server", keys.url);
          await page.fill("#key-token", token);
          await page.click("#decrypt");
          await page.waitForSelector("body[data-state=done], body[data-state=error]");
        };
        proxy.reset();
        await ask("report.bin.envl", "wrong-token-wrong-token");
        assert.equal(await page.textContent("#error .code"), "RELEASE_REFUSED");
        assert.match(await page.textContent("#error .hint") ?? "", /token/);
        assert.equal(proxy.count("Decrypt"), 0, "a request without the token reached the KMS");
        assert.deepEqual(await savedFiles(page), {}, "a refused key left a file");

        // A forged commitment: the key server asks the KMS once, sees the mismatch, and answers no key.
        await ask("forged.bin.envl", TOKEN);
        assert.equal(await page.textContent("#error .code"), "KEY_COMMITMENT_MISMATCH");
        assert.equal(proxy.count("Decrypt"), 1);
        assert.deepEqual(await savedFiles(page), {});

        // The real file: one Decrypt, the key and the verification key from the server, saved through the picker.
        proxy.reset();
        await ask("report.bin.envl", TOKEN);
        assert.equal(await page.getAttribute("body", "data-state"), "done", await page.textContent("#error") ?? "");
        assert.equal(proxy.count("Decrypt"), 1);
        assert.match(
          await page.textContent("#result") ?? "",
          /Saved to report\.bin \(293\.0 KiB\), every chunk verified/,
        );
        // The picker was asked once on this page load, for the name without `.envl`.
        const picked = await page.evaluate(() => (globalThis as unknown as { pickedNames: string[] }).pickedNames);
        assert.deepEqual(picked, ["report.bin"]);
        assert.deepEqual(await savedHash(page, "report.bin"), { size: plaintext.length, hash: fnv1a(plaintext) });
        assert.equal(await page.getAttribute("#progress", "value"), String(sealed.length));
        // The address is remembered for the next visit; the token lives in the tab's session only.
        await page.goto(`${web.origin}/`);
        assert.equal(await page.inputValue("#key-server"), keys.url);
        assert.deepEqual(problems.filter((p) => !/Failed to load resource/.test(p)), []);
      }, { saveTo: "opfs" });
      assert.match(keys.stderr(), /released a data key \(aws-kms /);
    } finally {
      await keys.close();
      await web.close();
    }
  } finally {
    await proxy.close();
    await moto.close();
  }
});

Deno.test("page: a local key file from `envelope keygen` unwraps in the page; the key field is masked; hints speak to a browser user", async () => {
  await using ws = await workspace();
  let r = await ws.run(["keygen", "-o", "local.key"]);
  assert.equal(r.code, 0, show(r));
  const plaintext = randomBytes(200_000);
  await Deno.writeFile(ws.path("notes.bin"), plaintext);
  r = await ws.run(["encrypt", "notes.bin", "-k", "local:local.key"]);
  assert.equal(r.code, 0, show(r));
  const web = await startServer({ webDir: await builtWeb() });
  try {
    await withBrowser(async ({ page, problems }) => {
      await page.goto(`${web.origin}/`);
      await page.setInputFiles("#file", ws.path("notes.bin.envl"));
      await page.waitForSelector("body[data-state=ready]");

      // The pasted key is masked until shown; a wrong key gets a hint without command-line flags.
      assert.equal(await page.getAttribute("#key", "type"), "password");
      await page.fill("#key", encodeBase64(randomBytes(32)));
      await page.click("#show-key");
      assert.equal(await page.getAttribute("#key", "type"), "text");
      assert.equal(await page.getAttribute("#show-key", "aria-pressed"), "true");
      await page.click("#show-key");
      assert.equal(await page.getAttribute("#key", "type"), "password");
      await page.click("#decrypt");
      await page.waitForSelector("#error .code:text-is('NO_KEY_MATCHED')");
      const hint = await page.textContent("#error .hint") ?? "";
      assert.match(hint, /^Next step: /);
      assert.doesNotMatch(hint, /--|envelope /, hint);

      await page.check("#mode-file");
      assert.equal(await page.isDisabled("#decrypt"), true, "Decrypt is enabled before a key file is loaded");
      await page.setInputFiles("#key-file", ws.path("local.key"));
      await page.waitForSelector("#key-file-status:has-text('local key file')");
      await page.click("#decrypt");
      await page.waitForSelector("body[data-state=done]");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      assert.equal(download.suggestedFilename(), "notes.bin");
      const saved = await Deno.readFile(await download.path());
      assert.equal(fnv1a(saved), fnv1a(plaintext));
      assert.equal(saved.length, plaintext.length);
      assert.deepEqual(problems, []);
    });
  } finally {
    await web.close();
  }
});
