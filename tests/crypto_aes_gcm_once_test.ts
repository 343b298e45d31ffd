/**
 * The one-shot AES-GCM calls with a raw key (`gcmSealOnce`, `gcmOpenOnce`;
 * the core's `gcm_seal_once`/`gcm_open_once`) against WebCrypto as the
 * independent reference, at the boundary sizes of the core's short path (96
 * bytes) and of its 128-byte chunks; against the shared vectors (every IV
 * length they hold); a tamper sweep; and the argument checks.
 */
import assert from "node:assert/strict";
import { AesGcm, gcmOpenOnce, gcmSealOnce } from "../src/crypto/aes_gcm.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeHex, encodeHex } from "../src/encoding/base64.ts";
import { type GcmVector, loadCoreVectors } from "./support/core_vectors.ts";

/** The core's short-path limit (wasm/src/gcm.rs `SHORT`) and the sizes around it and the chunks. */
const SHORT = 96;
const SIZES = [
  0,
  1,
  15,
  16,
  17,
  31,
  32,
  33,
  SHORT - 1,
  SHORT,
  SHORT + 1,
  127,
  128,
  129,
  255,
  256,
  257,
  4096,
  8191,
  8192,
  8193,
];
const AADS = [0, 1, 15, 16, 17, 27, 64];

const ab = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

function sealOnce(key: Uint8Array, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(pt.length + 16);
  gcmSealOnce(key, iv, pt, aad, out, 0);
  return out;
}

function authFailed(e: unknown): boolean {
  return isEnvelopeError(e, "PAYLOAD_AUTH_FAILED");
}

Deno.test("gcmSealOnce and gcmOpenOnce equal WebCrypto for every key size, 12- and 16-byte IVs, at the short path's and the chunks' boundaries", async () => {
  for (const keyLen of [16, 24, 32]) {
    const key = randomBytes(keyLen);
    const k = await crypto.subtle.importKey("raw", ab(key), "AES-GCM", false, ["encrypt", "decrypt"]);
    for (const ivLen of [12, 16]) {
      for (const aadLen of AADS) {
        for (const n of SIZES) {
          const what = `key ${keyLen}, IV ${ivLen}, AAD ${aadLen}, plaintext ${n}`;
          const iv = randomBytes(ivLen), aad = randomBytes(aadLen), pt = randomBytes(n);
          const params = { name: "AES-GCM", iv: ab(iv), additionalData: ab(aad) };
          const web = new Uint8Array(await crypto.subtle.encrypt(params, k, ab(pt)));
          assert.equal(encodeHex(sealOnce(key, iv, pt, aad)), encodeHex(web), `seal: ${what}`);
          assert.deepEqual(gcmOpenOnce(key, iv, web, aad), pt, `open: ${what}`);
        }
      }
    }
  }
});

Deno.test("gcmSealOnce writes at the offset and leaves the rest alone; gcmOpenOnce returns a fresh array", () => {
  const key = randomBytes(32), iv = randomBytes(12), pt = randomBytes(50), aad = randomBytes(9);
  const out = new Uint8Array(7 + 50 + 16 + 5).fill(0xee);
  gcmSealOnce(key, iv, pt, aad, out, 7);
  const gcm = AesGcm.createSync(key);
  assert.deepEqual(out.subarray(7, 7 + 66), gcm.seal(iv, pt, aad));
  gcm.dispose();
  assert.ok(out.subarray(0, 7).every((x) => x === 0xee) && out.subarray(73).every((x) => x === 0xee));
  const a = gcmOpenOnce(key, iv, out.subarray(7, 73), aad);
  const b = gcmOpenOnce(key, iv, out.subarray(7, 73), aad);
  a.fill(0);
  assert.deepEqual(b, pt);
});

Deno.test("gcmSealOnce and gcmOpenOnce pass the shared core vectors (gcm.json, gcm_spec.json: IVs of 1 to 64 bytes)", async () => {
  for (const file of ["gcm.json", "gcm_spec.json"]) {
    const vs = await loadCoreVectors<GcmVector>(file);
    for (const [i, v] of vs.entries()) {
      const what = `${file} #${i}`;
      const [key, iv, aad, pt] = [v.key, v.iv, v.aad, v.pt].map(decodeHex);
      assert.equal(encodeHex(sealOnce(key, iv, pt, aad)), v.ct + v.tag, what);
      const sealed = decodeHex(v.ct + v.tag);
      assert.deepEqual(gcmOpenOnce(key, iv, sealed, aad), pt, what);
      sealed[sealed.length - 1] ^= 1;
      assert.throws(() => gcmOpenOnce(key, iv, sealed, aad), authFailed, what);
    }
  }
});

Deno.test("gcmOpenOnce tamper sweep: every flipped bit position of IV, AAD, ciphertext and tag fails, short and long", () => {
  for (const n of [32, SHORT, SHORT + 1, 200]) {
    for (const ivLen of [12, 7]) {
      const key = randomBytes(32), iv = randomBytes(ivLen), aad = randomBytes(27), pt = randomBytes(n);
      const sealed = sealOnce(key, iv, pt, aad);
      for (const bit of [0x01, 0x80]) {
        for (let i = 0; i < sealed.length; i++) {
          const bad = sealed.slice();
          bad[i] ^= bit;
          assert.throws(() => gcmOpenOnce(key, iv, bad, aad), authFailed, `n ${n}, sealed byte ${i}`);
        }
        for (let i = 0; i < aad.length; i++) {
          const bad = aad.slice();
          bad[i] ^= bit;
          assert.throws(() => gcmOpenOnce(key, iv, sealed, bad), authFailed, `n ${n}, AAD byte ${i}`);
        }
        for (let i = 0; i < iv.length; i++) {
          const bad = iv.slice();
          bad[i] ^= bit;
          assert.throws(() => gcmOpenOnce(key, bad, sealed, aad), authFailed, `n ${n}, IV byte ${i}`);
        }
        for (let i = 0; i < key.length; i += 7) {
          const bad = key.slice();
          bad[i] ^= bit;
          assert.throws(() => gcmOpenOnce(bad, iv, sealed, aad), authFailed, `n ${n}, key byte ${i}`);
        }
      }
      assert.throws(() => gcmOpenOnce(key, iv, sealed.subarray(0, sealed.length - 1), aad), authFailed);
      assert.throws(() => gcmOpenOnce(key, iv, new Uint8Array([...sealed, 0]), aad), authFailed);
      assert.throws(() => gcmOpenOnce(key, iv, sealed.subarray(0, 15), aad), authFailed);
      assert.deepEqual(gcmOpenOnce(key, iv, sealed, aad), pt);
    }
  }
});

Deno.test("gcmSealOnce and gcmOpenOnce refuse bad keys, empty IVs, non-bytes and a short output", () => {
  const iv = new Uint8Array(12), pt = new Uint8Array(3), aad = new Uint8Array(0);
  for (const len of [0, 15, 17, 31, 33]) {
    assert.throws(() => sealOnce(new Uint8Array(len), iv, pt, aad), (e: unknown) => isEnvelopeError(e, "INVALID_KEY"));
    assert.throws(
      () => gcmOpenOnce(new Uint8Array(len), iv, new Uint8Array(20), aad),
      (e: unknown) => isEnvelopeError(e, "INVALID_KEY"),
    );
  }
  const key = new Uint8Array(32);
  assert.throws(
    () => sealOnce(key, new Uint8Array(0), pt, aad),
    (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(() => gcmSealOnce(key, iv, "x" as unknown as Uint8Array, aad, new Uint8Array(19), 0), TypeError);
  assert.throws(() => gcmSealOnce(key, iv, pt, aad, new Uint8Array(18), 0), RangeError);
  assert.throws(() => gcmSealOnce(key, iv, pt, aad, new Uint8Array(19), 1), RangeError);
  assert.throws(() => gcmSealOnce(key, iv, pt, aad, new Uint8Array(19), -1), RangeError);
});
