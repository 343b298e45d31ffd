// Issue 11 and 14 on Node, through the installed npm package: age recipients and
// identities (X25519 and the mlkem768x25519 hybrid, typage loaded on first use),
// and keyRelease served by node:http through the adapter docs/browser.md shows.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import {
  decrypt,
  encrypt,
  keyRelease,
  loadAgeIdentities,
  loadAgeRecipients,
  LocalKey,
  RawDataKey,
  unwrapDataKey,
} from "@envelope/envelope";
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { utf8 } from "./support/helpers.mjs";

test("age: a message for an X25519 and a hybrid recipient opens with either identity on Node", async () => {
  const x = await generateX25519Identity();
  const pq = await generateHybridIdentity();
  const recipients = await loadAgeRecipients(
    `# two recipients\n${await identityToRecipient(x)}\n\n${await identityToRecipient(pq)}\n`,
  );
  const sealed = await encrypt(utf8("for two age keys"), { keys: recipients, context: { t: "age" } });
  for (const id of [x, pq]) {
    const keys = await loadAgeIdentities(`${id}\n`);
    assert.equal(new TextDecoder().decode(await decrypt(sealed, { keys })), "for two age keys");
  }
  const other = await loadAgeIdentities(`${await generateX25519Identity()}\n`);
  await assert.rejects(decrypt(sealed, { keys: other }), (e) => e.code === "NO_KEY_MATCHED");
});

test("keyRelease under node:http: the header in, the data key out; a refused caller gets no key", async () => {
  const key = await LocalKey.generate();
  const sealed = await encrypt(utf8("released on Node"), { keys: key, sign: true });
  const handler = keyRelease({
    keys: key,
    requireSigned: true,
    authorize: (req) => req.headers.get("authorization") === "Bearer good" && "tester",
  });
  // The adapter of docs/browser.md, as it stands there.
  const server = createServer(async (req, res) => {
    if (req.method !== "POST" && req.method !== "OPTIONS") return res.writeHead(405, { connection: "close" }).end();
    try {
      const body = req.method === "POST" ? Readable.toWeb(req) : undefined;
      const r = await handler(
        new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers, body, duplex: "half" }),
      );
      const headers = Object.fromEntries(r.headers);
      if (!req.complete) headers.connection = "close"; // refused before the whole body came: stop reading it
      res.writeHead(r.status, headers).end(new Uint8Array(await r.arrayBuffer()), () => req.complete || req.destroy());
    } catch {
      res.writeHead(500, { connection: "close" }).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    const header = sealed.subarray(0, 4096);
    let r = await fetch(url, { method: "POST", body: header, headers: { authorization: "Bearer bad" } });
    assert.equal(r.status, 403);
    const refused = await r.json();
    assert.ok(refused.error.code, "a typed refusal");
    assert.ok(!JSON.stringify(refused).includes("dataKey"));
    r = await fetch(url, { method: "POST", body: header, headers: { authorization: "Bearer good" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("cache-control"), "no-store");
    const answer = await r.json();
    const expected = await unwrapDataKey(sealed, { keys: key });
    assert.equal(answer.dataKey, Buffer.from(expected.dataKey).toString("base64"));
    const raw = await RawDataKey.create(answer.dataKey);
    assert.equal(
      new TextDecoder().decode(await decrypt(sealed, { keys: raw, requireSigned: true })),
      "released on Node",
    );
  } finally {
    server.close();
  }
});
