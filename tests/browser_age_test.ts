/**
 * The browser entry with age (issue 11), in Chromium: a page decrypts a
 * message for a post-quantum and an X25519 recipient with an identity file's
 * text (`loadAgeIdentities`), and the age code arrives as its own file, on
 * first use only. The bundle is built fresh by scripts/build_web.ts.
 */
import assert from "node:assert/strict";
import { buildWeb } from "../scripts/build_web.ts";
import { bytesFile, startServer } from "../scripts/serve.ts";
import { encrypt } from "../mod.ts";
import { AgeIdentity, AgeRecipient } from "../src/keys/age.ts";
import { withBrowser } from "./support/browser.ts";

interface Env {
  loadAgeIdentities(text: string): Promise<unknown[]>;
  decrypt(sealed: Uint8Array, options: { keys: unknown[] }): Promise<Uint8Array>;
}

Deno.test("browser: a page decrypts with an age identity file; the age module loads on first use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-web-age-" });
  try {
    const files = await buildWeb(dir);
    const age = files.find((f) => f.name.startsWith("age-"));
    assert.ok(age, `no lazily loaded age file among ${files.map((f) => f.name).join(", ")}`);
    const pq = await AgeIdentity.generate({ pq: true });
    const x = await AgeIdentity.generate();
    const plaintext = new TextEncoder().encode("opened in the page with a post-quantum identity");
    const sealed = await encrypt(plaintext, { keys: [AgeRecipient.parse(x.keyId), AgeRecipient.parse(pq.keyId)] });
    const server = await startServer({ webDir: dir, files: { "m.envl": bytesFile(sealed) } });
    try {
      await withBrowser(async ({ page }) => {
        await page.goto(`${server.origin}/`);
        const before = server.log.filter((l) => l.path === `/${age.name}`).length;
        const got = await page.evaluate(async ([pqText, xText]) => {
          const env = await import(/* the bundle */ "/envelope.js" as string) as Env;
          const sealed = new Uint8Array(await (await fetch("/files/m.envl")).arrayBuffer());
          const out: string[] = [];
          for (const text of [pqText, xText]) {
            const keys = await env.loadAgeIdentities(text);
            out.push(new TextDecoder().decode(await env.decrypt(sealed, { keys })));
          }
          const wrong = await env.loadAgeIdentities(xText.replace(/^AGE.*$/m, "")).catch((e) => e.code);
          return { out, wrong };
        }, [`# public key: ${pq.keyId}\n${pq.toText()}\n`, `# comment\n${x.toText()}\n`]);
        assert.deepEqual(got.out, [new TextDecoder().decode(plaintext), new TextDecoder().decode(plaintext)]);
        assert.equal(got.wrong, "INVALID_KEY");
        assert.equal(before, 0, "the age module was fetched before it was used");
        assert.ok(server.log.some((l) => l.path === `/${age.name}` && l.status === 200), "the age module was fetched");
      });
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
