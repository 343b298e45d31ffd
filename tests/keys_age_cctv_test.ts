/**
 * The C2SP CCTV age vectors for the two recipient types envelope wraps data
 * keys for (X25519 and the mlkem768x25519 hybrid), run through the age
 * implementation envelope ships (typage, `age-encryption`). They are the
 * independent check of the post-quantum hybrid: no second implementation of
 * it is installable here (Debian's age is 1.1). Provenance:
 * tests/vectors/age/README.md.
 */
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { Decrypter } from "age-encryption";

const DIR = new URL("./vectors/age/", import.meta.url);

interface AgeVector {
  readonly name: string;
  readonly expect: string;
  readonly payload?: string;
  readonly identities: string[];
  readonly armored: boolean;
  readonly file: Uint8Array;
}

function parse(name: string, raw: Uint8Array): AgeVector {
  // The header is text up to the first empty line; the age file follows it.
  let i = 0;
  const fields: [string, string][] = [];
  for (;;) {
    const nl = raw.indexOf(0x0a, i);
    const line = new TextDecoder().decode(raw.subarray(i, nl));
    i = nl + 1;
    if (line === "") break;
    const colon = line.indexOf(": ");
    fields.push([line.slice(0, colon), line.slice(colon + 2)]);
  }
  const get = (k: string) => fields.find(([f]) => f === k)?.[1];
  let file = raw.subarray(i);
  if (get("compressed") === "zlib") file = new Uint8Array(inflateSync(file));
  return {
    name,
    expect: get("expect")!,
    payload: get("payload"),
    identities: fields.filter(([f]) => f === "identity").map(([, v]) => v),
    armored: get("armored") === "yes",
    file,
  };
}

async function vectors(): Promise<AgeVector[]> {
  const out: AgeVector[] = [];
  for await (const e of Deno.readDir(DIR)) {
    if (e.isFile && e.name !== "README.md") out.push(parse(e.name, await Deno.readFile(new URL(e.name, DIR))));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function sha256Hex(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("CCTV age vectors (X25519 and mlkem768x25519): every success decrypts to its payload, every failure fails", async () => {
  const all = await vectors();
  assert.ok(all.filter((v) => v.name.startsWith("hybrid")).length >= 15, "the hybrid vectors are there");
  assert.ok(all.filter((v) => v.name.startsWith("x25519")).length >= 12, "the X25519 vectors are there");
  let ran = 0;
  for (const v of all) {
    if (v.armored) continue; // envelope stores binary age files; armor is not part of its format
    ran++;
    const d = new Decrypter();
    let added = true;
    try {
      for (const id of v.identities) d.addIdentity(id);
    } catch {
      added = false; // a malformed identity (e.g. upper-case) is a header-level failure here
    }
    let out: Uint8Array | undefined;
    let failed = !added;
    if (added) {
      try {
        out = await d.decrypt(v.file);
      } catch {
        failed = true;
      }
    }
    if (v.expect === "success") {
      assert.ok(!failed && out, `${v.name}: expected success`);
      assert.equal(await sha256Hex(out!), v.payload, `${v.name}: payload`);
    } else {
      assert.ok(failed, `${v.name}: expected ${v.expect}, but it decrypted`);
    }
  }
  assert.ok(ran >= 30, `ran ${ran} vectors`);
});
