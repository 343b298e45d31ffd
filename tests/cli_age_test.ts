/**
 * age recipients through the CLI: one message for an AWS KMS key (moto), an
 * X25519 recipient (made by Debian's age-keygen) and a post-quantum
 * mlkem768x25519 recipient (made by `envelope keygen --age --pq`) opens with
 * each alone; an extracted entry opens with `age -d`; the migration recipe
 * (add the post-quantum recipient, drop the classical one) leaves the payload
 * byte for byte; bad keys and identity files fail typed without echoing a
 * secret.
 */
import assert from "node:assert/strict";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { ageKeygen, runAge } from "./support/age.ts";
import { type CliResult, type InspectJson, randomBytes, show, type Workspace, workspace } from "./support/cli.ts";
import { startMoto } from "./support/moto.ts";

function assertFailed(r: CliResult, code: string, exit = 1): void {
  assert.equal(r.code, exit, show(r));
  assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), show(r));
  assert.match(r.stderr, /^hint: \S/m, show(r));
}

async function info(ws: Workspace, file: string): Promise<InspectJson> {
  const r = await ws.run(["inspect", "--json", file]);
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout);
}

/** The bytes of `file` after its header. */
async function payload(ws: Workspace, file: string): Promise<Uint8Array> {
  return (await Deno.readFile(ws.path(file))).subarray((await info(ws, file)).headerLength);
}

Deno.test("cli age: AWS KMS, X25519 and mlkem768x25519 in one message; each opens it alone; migrate to PQ only", async () => {
  await using ws = await workspace();
  const moto = await startMoto();
  try {
    const env = moto.env();
    const arn = await moto.createKey("age mix");
    const classic = await ageKeygen();
    await Deno.writeTextFile(ws.path("x.txt"), classic.text, { mode: 0o600 });
    let r = await ws.run(["keygen", "--age", "--pq", "-o", "pq.txt"]);
    assert.equal(r.code, 0, show(r));
    const pq = r.stdout.trim();
    assert.match(pq, /^age1pq1[02-9ac-hj-np-z]+$/);
    assert.equal((await Deno.stat(ws.path("pq.txt"))).mode! & 0o777, 0o600);
    await Deno.writeTextFile(ws.path("team.txt"), `# post-quantum\n${pq}\n`);

    const data = randomBytes(200_000);
    await Deno.writeFile(ws.path("f"), data);
    r = await ws.run(["encrypt", "f", "-k", arn, "-k", classic.recipient, "-R", "team.txt", "--chunk-size", "4096"], {
      env,
    });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual((await info(ws, "f.envl")).keys.map((k) => `${k.provider}:${k.keyId}`), [
      `aws-kms:${arn}`,
      `age:${classic.recipient}`,
      `age:${pq}`,
    ]);
    const before = await payload(ws, "f.envl");

    const opens = async (args: string[], out: string) => {
      const d = await ws.run(["decrypt", "f.envl", "-o", out, ...args], { env });
      assert.equal(d.code, 0, show(d));
      assert.deepEqual(await Deno.readFile(ws.path(out)), data);
    };
    await opens(["-k", arn], "by-aws");
    await opens(["-i", "x.txt"], "by-x25519");
    await opens(["-i", "pq.txt"], "by-pq");

    // The X25519 entry, extracted, is an age file that Debian's age opens to the data key.
    r = await ws.run(["extract-key", "f.envl", "--key-id", classic.recipient, "-o", "dk.age"]);
    assert.equal(r.code, 0, show(r));
    const dk = await runAge(["-d", "-i", ws.path("x.txt"), ws.path("dk.age")]);
    assert.equal(dk.length, 32);
    await opens(["--data-key", encodeBase64(dk)], "by-data-key");

    // Migration: drop the classical recipient, unwrapping with the PQ identity; the payload is unchanged.
    r = await ws.run(["rewrap", "f.envl", "-i", "pq.txt", "--remove", classic.recipient]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual((await info(ws, "f.envl")).keys.map((k) => k.provider), ["aws-kms", "age"]);
    assert.deepEqual(await payload(ws, "f.envl"), before);
    assertFailed(await ws.run(["decrypt", "f.envl", "-o", "no", "-i", "x.txt"], { env }), "NO_KEY_MATCHED");
    await opens(["-k", arn], "by-aws-2");
    await opens(["-i", "pq.txt"], "by-pq-2");
  } finally {
    await moto.close();
  }
});

Deno.test("cli age: rewrap adds a recipient made by age-keygen; age itself decrypts an envelope-made identity's file", async () => {
  await using ws = await workspace();
  let r = await ws.run(["keygen", "--age", "-o", "id.txt"]);
  assert.equal(r.code, 0, show(r));
  const mine = r.stdout.trim();
  assert.match(mine, /^age1[02-9ac-hj-np-z]{58}$/);
  // age reads the identity file envelope wrote.
  const msg = new TextEncoder().encode("age reads our identity file");
  assert.deepEqual(await runAge(["-d", "-i", ws.path("id.txt")], await runAge(["-r", mine], msg)), msg);

  await Deno.writeFile(ws.path("f"), randomBytes(1000));
  r = await ws.run(["encrypt", "f", "-k", mine]);
  assert.equal(r.code, 0, show(r));
  const before = await payload(ws, "f.envl");
  const other = await ageKeygen();
  await Deno.writeTextFile(ws.path("other.txt"), other.text, { mode: 0o600 });
  r = await ws.run(["rewrap", "f.envl", "-i", "id.txt", "-k", other.recipient]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /not opened again/);
  r = await ws.run(["rewrap", "f.envl", "-i", "id.txt", "-i", "other.txt", "-k", other.recipient]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /\(wrapped here\)$/m);
  assert.deepEqual(await payload(ws, "f.envl"), before);
  r = await ws.run(["decrypt", "f.envl", "-i", "other.txt", "-o", "out"]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["extract-key", "f.envl", "--provider", "age", "-o", "x"]);
  assertFailed(r, "USAGE", 2);
});

Deno.test("cli age: bad recipients and identity files fail typed, and no secret is printed", async () => {
  await using ws = await workspace();
  const { text, recipient } = await ageKeygen();
  const secret = text.trim().split("\n").at(-1)!;
  await Deno.writeFile(ws.path("f"), randomBytes(10));
  const noSecret = (r: CliResult) => {
    const body = secret.slice("AGE-SECRET-KEY-1".length);
    for (let i = 0; i + 16 <= body.length; i += 8) {
      assert.ok(!(r.stdout + r.stderr).toUpperCase().includes(body.slice(i, i + 16)), show(r));
    }
  };
  let r = await ws.run(["encrypt", "f", "-k", secret]);
  assertFailed(r, "USAGE", 2);
  noSecret(r);
  await Deno.writeTextFile(ws.path("r.txt"), `${recipient}\n${secret}\n`);
  r = await ws.run(["encrypt", "f", "-R", "r.txt"]);
  assertFailed(r, "INVALID_KEY");
  assert.match(r.stderr, /line 2 of r\.txt/);
  noSecret(r);
  r = await ws.run(["encrypt", "f", "-k", recipient.slice(0, -1) + (recipient.endsWith("q") ? "p" : "q")]);
  assertFailed(r, "INVALID_KEY");

  r = await ws.run(["encrypt", "f", "-k", recipient]);
  assert.equal(r.code, 0, show(r));
  const damaged = secret.slice(0, 40) + (secret[40] === "Q" ? "P" : "Q") + secret.slice(41);
  await Deno.writeTextFile(ws.path("bad.txt"), `# mine\n${damaged}\n`, { mode: 0o600 });
  r = await ws.run(["decrypt", "f.envl", "-i", "bad.txt", "-o", "out"]);
  assertFailed(r, "INVALID_KEY");
  assert.match(r.stderr, /line 2 of bad\.txt/);
  noSecret(r);
  await Deno.writeTextFile(ws.path("wrong.txt"), (await ageKeygen()).text, { mode: 0o600 });
  r = await ws.run(["decrypt", "f.envl", "-i", "wrong.txt", "-o", "out"]);
  assertFailed(r, "NO_KEY_MATCHED");
  r = await ws.run(["keygen", "--age"]);
  assertFailed(r, "USAGE", 2);
});
