/**
 * The core's shared vectors (`tests/vectors/core/`, generated from Python's
 * `cryptography` and the specifications; see `tests/vectors/README.md`) run
 * through the TypeScript facade, so the Rust tests and these cannot drift.
 * CBC has no facade of its own (Fernet uses it inside the core), so its
 * vectors go through the raw exports.
 */
import assert from "node:assert/strict";
import { AesGcm } from "../src/crypto/aes_gcm.ts";
import { hkdfSha256, hmacSha256, ready, sha256 } from "../src/crypto/hash.ts";
import { loadCore } from "../src/crypto/wasm.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeHex, encodeHex } from "../src/encoding/base64.ts";
import { type GcmVector, loadCoreVectors as load } from "./support/core_vectors.ts";

for (const file of ["gcm.json", "gcm_spec.json"]) {
  Deno.test(`core vectors: ${file} seal, open, incremental, and a flipped tag fails`, async () => {
    for (const [i, v] of (await load<GcmVector>(file)).entries()) {
      const what = `${file} #${v.case ?? i} (key ${v.key.length / 2}, IV ${v.iv.length / 2}, AAD ${
        v.aad.length / 2
      }, pt ${v.pt.length / 2})`;
      const g = await AesGcm.create(decodeHex(v.key));
      const iv = decodeHex(v.iv);
      const aad = decodeHex(v.aad);
      const pt = decodeHex(v.pt);
      assert.equal(encodeHex(g.seal(iv, pt, aad)), v.ct + v.tag, what);
      const sealed = decodeHex(v.ct + v.tag);
      assert.deepEqual(g.open(iv, sealed, aad), pt, what);
      const s = g.beginSeal(iv, aad);
      const half = pt.length >> 1;
      const ct = [...s.update(pt.subarray(0, half)), ...s.update(pt.subarray(half))];
      assert.equal(encodeHex(new Uint8Array(ct)) + encodeHex(s.finish()), v.ct + v.tag, `${what}, incremental`);
      assert.deepEqual(await g.openAsync(iv, sealed, aad), pt, `${what}, async`);
      sealed[sealed.length - 1] ^= 1;
      assert.throws(() => g.open(iv, sealed, aad), (e: unknown) => isEnvelopeError(e, "PAYLOAD_AUTH_FAILED"), what);
      g.dispose();
    }
  });
}

Deno.test("core vectors: sha256.json, hmac_sha256.json, hkdf_sha256.json", async () => {
  await ready();
  for (const v of await load<{ msg: string; digest: string }>("sha256.json")) {
    assert.equal(encodeHex(sha256(decodeHex(v.msg))), v.digest, `sha256 of ${v.msg.length / 2} bytes`);
  }
  for (const v of await load<{ key: string; msg: string; mac: string }>("hmac_sha256.json")) {
    assert.equal(
      encodeHex(hmacSha256(decodeHex(v.key), decodeHex(v.msg))),
      v.mac,
      `hmac, key ${v.key.length / 2}, msg ${v.msg.length / 2}`,
    );
  }
  for (
    const v of await load<{ ikm: string; salt: string; info: string; okm: string; source: string }>("hkdf_sha256.json")
  ) {
    assert.equal(
      encodeHex(hkdfSha256(decodeHex(v.ikm), decodeHex(v.salt), decodeHex(v.info), v.okm.length / 2)),
      v.okm,
      v.source,
    );
  }
});

Deno.test("core vectors: cbc.json and cbc_bad_padding.json through the raw exports", async () => {
  const core = await loadCore();
  const e = core.exports;
  const run = (key: Uint8Array, iv: Uint8Array, src: Uint8Array, encrypt: boolean): { r: number; out: Uint8Array } => {
    const k = core.copyIn(key);
    const i = core.copyIn(iv);
    const s = core.copyIn(src);
    const room = src.length - (src.length % 16) + 16;
    const d = core.alloc(room);
    try {
      const r = encrypt
        ? e.cbc_encrypt(k, key.length, i, s, src.length, d)
        : e.cbc_decrypt(k, key.length, i, s, src.length, d);
      return { r, out: r >= 0 ? core.take(d, r) : new Uint8Array(0) };
    } finally {
      core.free(k, key.length);
      core.free(i, iv.length);
      core.free(s, src.length);
      core.free(d, room);
    }
  };
  for (const v of await load<{ key: string; iv: string; pt: string; ct: string }>("cbc.json")) {
    const key = decodeHex(v.key);
    const iv = decodeHex(v.iv);
    assert.equal(encodeHex(run(key, iv, decodeHex(v.pt), true).out), v.ct);
    const d = run(key, iv, decodeHex(v.ct), false);
    assert.equal(d.r, v.pt.length / 2);
    assert.equal(encodeHex(d.out), v.pt);
  }
  for (const v of await load<{ key: string; iv: string; ct: string }>("cbc_bad_padding.json")) {
    assert.equal(
      run(decodeHex(v.key), decodeHex(v.iv), decodeHex(v.ct), false).r,
      -3,
      `bad padding ${v.ct.slice(0, 8)}`,
    );
  }
  assert.equal(run(new Uint8Array(16), new Uint8Array(16), new Uint8Array(15), false).r, -1, "not a multiple of 16");
  assert.equal(run(new Uint8Array(16), new Uint8Array(16), new Uint8Array(0), false).r, -1, "empty");
  assert.equal(run(new Uint8Array(20), new Uint8Array(16), new Uint8Array(16), true).r, -1, "bad key length");
});
