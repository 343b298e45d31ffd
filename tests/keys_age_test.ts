/**
 * src/keys/age.ts: age recipients and identities as key providers.
 *
 * X25519 is checked in both directions against Debian's `age` binary (1.1.x),
 * an independent implementation in Go. The mlkem768x25519 hybrid is checked
 * against typage itself (its Encrypter and Decrypter used directly, not
 * through our provider): no independent implementation of the hybrid is
 * installable here (Debian's age is 1.1; age 1.3 and rage are not packaged).
 * The C2SP CCTV age vectors (testkit files: an identity and an age file
 * each) can be added as a loop over their files calling
 * `AgeIdentity.parse(identity).unwrap({ provider: "age", keyId: "", wrapped: file }, {})`,
 * as the "age file written by age opens" test does below for one file.
 */
import assert from "node:assert/strict";
import { Decrypter, Encrypter } from "age-encryption";
import {
  decrypt,
  encrypt,
  isEnvelopeError,
  loadAgeIdentities,
  loadAgeRecipients,
  LocalKey,
  RawDataKey,
  rewrapHeader,
} from "../mod.ts";
import { encodeHeader, parseHeader } from "../src/format/header.ts";
import { AgeIdentity, AgeRecipient, parseAgeIdentities, parseAgeRecipients } from "../src/keys/age.ts";
import type { WrappedKey } from "../src/keys/provider.ts";
import { ageKeygen, runAge } from "./support/age.ts";

const entry = (wrapped: Uint8Array, keyId = ""): WrappedKey => ({ provider: "age", keyId, wrapped });
const dataKey = () => crypto.getRandomValues(new Uint8Array(32));

/** Asserts `p` rejects with `code` and that no secret in `secrets` appears in the message or the hint. */
async function rejects(p: Promise<unknown> | (() => unknown), code: string, secrets: string[] = []): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(isEnvelopeError(err, code as never), `expected ${code}, got ${err}`);
  for (const s of secrets) {
    // The secret, and any 20-character piece of its key part, must not leak.
    const body = s.replace(/^AGE-SECRET-KEY-(PQ-)?1/, "");
    for (let i = 0; i + 20 <= body.length; i += 10) {
      assert.ok(!`${err.message} ${err.hint}`.toUpperCase().includes(body.slice(i, i + 20)), err.message);
    }
  }
}

Deno.test("age X25519: a wrap envelope made opens with `age -d`, and what `age -r` made opens here", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { text, recipient } = await ageKeygen();
    await Deno.writeTextFile(`${dir}/key.txt`, text, { mode: 0o600 });
    const [identity] = await parseAgeIdentities(text);
    assert.equal(identity.keyId, recipient);

    const dk = dataKey();
    const w = await AgeRecipient.parse(recipient).wrap(dk, { any: "context" });
    assert.deepEqual({ provider: w.provider, keyId: w.keyId }, { provider: "age", keyId: recipient });
    await Deno.writeFile(`${dir}/wrapped.age`, w.wrapped);
    assert.deepEqual(await runAge(["-d", "-i", `${dir}/key.txt`, `${dir}/wrapped.age`]), dk);

    const byAge = await runAge(["-r", recipient], dk);
    assert.deepEqual(await identity.unwrap(entry(byAge, recipient), {}), dk);
    // Two recipients in one age file: either identity opens it, whatever key id the entry names.
    const other = await ageKeygen();
    const both = await runAge(["-r", other.recipient, "-r", recipient], dk);
    assert.deepEqual(await identity.unwrap(entry(both, other.recipient), {}), dk);
    assert.deepEqual(
      await (await AgeIdentity.parse(other.text.trim().split("\n").at(-1)!)).unwrap(entry(both), {}),
      dk,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("age X25519: a message whose age entry `age` wrote decrypts with the identity alone", async () => {
  const { text, recipient } = await ageKeygen();
  const dk = dataKey();
  const local = await LocalKey.generate();
  const sealed = await encrypt(new TextEncoder().encode("for the auditor"), {
    keys: [await RawDataKey.create(dk), local],
  });
  const h = parseHeader(sealed);
  const withAge = encodeHeader(h.core, h.headerTag, [...h.keys, entry(await runAge(["-r", recipient], dk), recipient)]);
  const message = new Uint8Array([...withAge, ...sealed.subarray(h.length)]);
  const opened = await decrypt(message, { keys: await parseAgeIdentities(text) });
  assert.equal(new TextDecoder().decode(opened), "for the auditor");
});

Deno.test("age mlkem768x25519: both directions with typage's own Encrypter and Decrypter", async () => {
  const identity = await AgeIdentity.generate({ pq: true });
  assert.match(identity.keyId, /^age1pq1[02-9ac-hj-np-z]{1952}$/);
  assert.match(identity.toText(), /^AGE-SECRET-KEY-PQ-1[02-9AC-HJ-NP-Z]+$/);
  const dk = dataKey();
  const w = await AgeRecipient.parse(identity.keyId).wrap(dk, {});
  const d = new Decrypter();
  d.addIdentity(identity.toText());
  assert.deepEqual(await d.decrypt(w.wrapped), dk);
  assert.ok(w.wrapped.length < 8192 && w.wrapped.length > 1600, `${w.wrapped.length} bytes`);

  const e = new Encrypter();
  e.addRecipient(identity.keyId);
  assert.deepEqual(await identity.unwrap(entry(await e.encrypt(dk)), {}), dk);
});

Deno.test("age: an identity for no stanza of an entry answers null (not mine), across kinds", async () => {
  const dk = dataKey();
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  const forX = await AgeRecipient.parse(x.keyId).wrap(dk, {});
  const forPq = await AgeRecipient.parse(pq.keyId).wrap(dk, {});
  assert.equal(await (await AgeIdentity.generate()).unwrap(forX, {}), null);
  assert.equal(await (await AgeIdentity.generate({ pq: true })).unwrap(forPq, {}), null);
  assert.equal(await x.unwrap(forPq, {}), null);
  assert.equal(await pq.unwrap(forX, {}), null);
  assert.equal(await x.unwrap({ ...forX, provider: "local" }, {}), null);
  assert.equal(await AgeRecipient.parse(x.keyId).unwrap(forX, {}), null);
});

Deno.test("age: a damaged entry for this identity fails typed; junk is HEADER_INVALID", async () => {
  const x = await AgeIdentity.generate();
  const dk = dataKey();
  const w = await x.wrap(dk, {});
  for (const at of [w.wrapped.length - 1, w.wrapped.length - 40]) {
    const bad = w.wrapped.slice();
    bad[at] ^= 1;
    await rejects(x.unwrap(entry(bad, x.keyId), {}), "HEADER_AUTH_FAILED");
  }
  await rejects(x.unwrap(entry(new Uint8Array(40), x.keyId), {}), "HEADER_INVALID");
  // An age file for this identity that holds 31 bytes is not a data key.
  await rejects(x.unwrap(entry(await runAge(["-r", x.keyId], dk.subarray(1))), {}), "HEADER_AUTH_FAILED");
});

Deno.test("age: bad recipients are INVALID_KEY, and an identity given as one is never echoed", async () => {
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  await rejects(() => AgeRecipient.parse(x.toText()), "INVALID_KEY", [x.toText()]);
  await rejects(() => AgeRecipient.parse(pq.toText()), "INVALID_KEY", [pq.toText()]);
  const flipped = x.keyId.slice(0, 10) + (x.keyId[10] === "q" ? "p" : "q") + x.keyId.slice(11);
  await rejects(() => AgeRecipient.parse(flipped), "INVALID_KEY");
  await rejects(() => AgeRecipient.parse(pq.keyId.slice(0, -8)), "INVALID_KEY");
  await rejects(() => AgeRecipient.parse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB example"), "INVALID_KEY");
  await rejects(() => AgeRecipient.parse("age1tag1qqqq"), "INVALID_KEY");
  await rejects(() => parseAgeRecipients(`# team\n${x.keyId}\n\n${x.toText()}\n`, "team.txt"), "INVALID_KEY", [
    x.toText(),
  ]);
  const err = await Promise.resolve().then(() => parseAgeRecipients(`${x.keyId}\nage1nope\n`, "team.txt")).catch((e) =>
    e
  );
  assert.match(err.message, /line 2 of team\.txt/);
  assert.equal(
    parseAgeRecipients(`# a\n\n  ${x.keyId}  \r\n${pq.keyId}\n`).map((r) => r.kind).join(),
    [
      "x25519",
      "mlkem768x25519",
    ].join(),
  );
});

Deno.test("age: bad identity files are INVALID_KEY naming the line, never the key", async () => {
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  const secret = x.toText();
  const damaged = secret.slice(0, 30) + (secret[30] === "Q" ? "P" : "Q") + secret.slice(31);
  const e1 = await parseAgeIdentities(`# comment\n${damaged}\n`, "key.txt").catch((e) => e);
  await rejects(Promise.reject(e1), "INVALID_KEY", [damaged]);
  assert.match(e1.message, /line 2 of key\.txt/);
  await rejects(parseAgeIdentities(`${pq.toText().slice(0, -3)}\n`), "INVALID_KEY", [pq.toText()]);
  await rejects(parseAgeIdentities(`${x.keyId}\n`), "INVALID_KEY");
  await rejects(parseAgeIdentities("# only comments\n\n"), "INVALID_KEY");
  await rejects(parseAgeIdentities(`AGE-PLUGIN-YUBIKEY-1QQQQ\n`), "INVALID_KEY");
  const two = await parseAgeIdentities(`${secret}\n# and\n${pq.toText()}\n`);
  assert.deepEqual(two.map((i) => i.keyId), [x.keyId, pq.keyId]);
});

Deno.test("age: a message for X25519, the hybrid and a local key opens with each alone; a wrong identity fails typed", async () => {
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  const local = await LocalKey.generate();
  const keys = [AgeRecipient.parse(x.keyId), AgeRecipient.parse(pq.keyId), local];
  const sealed = await encrypt(new Uint8Array([1, 2, 3]), { keys });
  assert.deepEqual(parseHeader(sealed).keys.map((k) => k.provider), ["age", "age", "local"]);
  for (const k of [x, pq, local]) assert.deepEqual(await decrypt(sealed, { keys: k }), new Uint8Array([1, 2, 3]));
  const wrong = await AgeIdentity.generate({ pq: true });
  await rejects(decrypt(sealed, { keys: wrong }), "NO_KEY_MATCHED", [wrong.toText()]);
});

Deno.test("age rewrap: a recipient added without its identity is self-checked; with it, opened again", async () => {
  const local = await LocalKey.generate();
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  const sealed = await encrypt(new Uint8Array([5]), { keys: [AgeRecipient.parse(x.keyId), local] });
  const r = await rewrapHeader(sealed, { keys: [local], add: [AgeRecipient.parse(pq.keyId)] });
  assert.deepEqual(r.added.map((a) => a.via), ["recipient"]);
  const r2 = await rewrapHeader(sealed, { keys: [local, pq], add: [AgeRecipient.parse(pq.keyId)] });
  assert.deepEqual(r2.added.map((a) => a.via), ["wrap"]);
  // Migration: drop the classical recipient; the payload is byte for byte the same.
  const r3 = await rewrapHeader(new Uint8Array([...r.header, ...sealed.subarray(r.payloadOffset)]), {
    keys: [pq],
    remove: (k) => k.keyId === x.keyId,
  });
  const migrated = new Uint8Array([...r3.header, ...sealed.subarray(r.payloadOffset)]);
  assert.deepEqual(migrated.subarray(r3.header.length), sealed.subarray(r.payloadOffset));
  assert.deepEqual(await decrypt(migrated, { keys: pq }), new Uint8Array([5]));
  await rejects(decrypt(migrated, { keys: x }), "NO_KEY_MATCHED");
});

Deno.test("age rewrap: a planted age entry first in the list cannot make a recipient wrap another key", async () => {
  const x = await AgeIdentity.generate();
  const pq = await AgeIdentity.generate({ pq: true });
  const sealed = await encrypt(new Uint8Array([7]), { keys: [AgeRecipient.parse(x.keyId)] });
  const h = parseHeader(sealed);
  // An attacker who knows x's public recipient plants an entry for it holding another data key, first.
  const planted = await AgeRecipient.parse(x.keyId).wrap(dataKey(), {});
  const tampered = new Uint8Array([
    ...encodeHeader(h.core, h.headerTag, [planted, ...h.keys]),
    ...sealed.subarray(h.length),
  ]);
  const r = await rewrapHeader(tampered, { keys: [x], add: [AgeRecipient.parse(pq.keyId)], remove: () => true });
  const next = new Uint8Array([...r.header, ...tampered.subarray(r.payloadOffset)]);
  assert.deepEqual(parseHeader(next).keys.map((k) => k.keyId), [pq.keyId]);
  assert.deepEqual(await decrypt(next, { keys: pq }), new Uint8Array([7]));
});

Deno.test("age: a value that is not text is a TypeError that says what was expected", async () => {
  assert.throws(() => AgeRecipient.parse(123 as unknown as string), {
    name: "TypeError",
    message: "AgeRecipient.parse() takes the recipient as a string, not number",
  });
  await assert.rejects(() => AgeIdentity.parse(null as unknown as string), {
    name: "TypeError",
    message: /as a string, not null$/,
  });
  await assert.rejects(() => loadAgeRecipients(undefined as unknown as string), {
    name: "TypeError",
    message: /as a string, not undefined$/,
  });
  await assert.rejects(() => loadAgeIdentities(new Uint8Array(3) as unknown as string), {
    name: "TypeError",
    message: /as a string, not a Uint8Array$/,
  });
});
