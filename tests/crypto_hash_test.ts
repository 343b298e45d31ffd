/**
 * SHA-256, HMAC-SHA256, HKDF-SHA256 and constant-time comparison over the
 * core, against WebCrypto for random lengths (including inputs larger than
 * the core's scratch area); the embedded module's hash; and the loader.
 */
import assert from "node:assert/strict";
import {
  constantTimeEqual,
  HKDF_SHA256_MAX,
  hkdfSha256,
  hkdfSha256Each,
  hmacSha256,
  ready,
  sha256,
} from "../src/crypto/hash.ts";
import { coreLoaded, coreSync, loadCore, WINDOW } from "../src/crypto/wasm.ts";
import { WASM_BASE64, WASM_SHA256 } from "../src/crypto/_wasm/core.generated.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeBase64, encodeHex } from "../src/encoding/base64.ts";

const LENGTHS = [
  0,
  1,
  31,
  32,
  55,
  56,
  63,
  64,
  65,
  119,
  120,
  127,
  128,
  129,
  1000,
  65535,
  65536,
  65537,
  WINDOW + 70_000,
  2 * WINDOW + 3,
];

const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

Deno.test("the loader shares one core and the embedded module matches WASM_SHA256", async () => {
  const [a, b] = await Promise.all([loadCore(), loadCore()]);
  assert.equal(a, b);
  assert.ok(coreLoaded());
  assert.equal(coreSync(), a);
  const module = decodeBase64(WASM_BASE64);
  assert.equal(encodeHex(sha256(module)), WASM_SHA256.toLowerCase());
  assert.equal(
    encodeHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf(module)))),
    WASM_SHA256.toLowerCase(),
  );
});

Deno.test("sha256 and hmacSha256 equal WebCrypto for lengths across block and scratch boundaries", async () => {
  await ready();
  for (const n of LENGTHS) {
    const data = randomBytes(n);
    assert.equal(
      encodeHex(sha256(data)),
      encodeHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf(data)))),
      `sha256 ${n}`,
    );
    for (const kn of [0, 1, 32, 63, 64, 65, 200]) {
      if (n > 70_000 && kn !== 32) continue;
      const key = randomBytes(kn);
      // WebCrypto refuses empty HMAC keys; HMAC with an empty key equals HMAC with 64 zero bytes.
      const k = await crypto.subtle.importKey(
        "raw",
        buf(kn === 0 ? new Uint8Array(64) : key),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const want = new Uint8Array(await crypto.subtle.sign("HMAC", k, buf(data)));
      assert.equal(encodeHex(hmacSha256(key, data)), encodeHex(want), `hmac key ${kn}, msg ${n}`);
    }
  }
});

Deno.test("hkdfSha256 equals WebCrypto's HKDF, and its length limits hold", async () => {
  await ready();
  for (const len of [0, 1, 16, 32, 33, 64, 100, 1000, HKDF_SHA256_MAX]) {
    for (const [il, sl, nl] of [[32, 16, 7], [1, 0, 0], [80, 80, 80], [16, 32, 300]]) {
      const ikm = randomBytes(il);
      const salt = randomBytes(sl);
      const info = randomBytes(nl);
      const ours = hkdfSha256(ikm, salt, info, len);
      assert.equal(ours.length, len);
      if (len === 0) continue;
      const k = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
      const want = new Uint8Array(
        await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) }, k, len * 8),
      );
      assert.equal(encodeHex(ours), encodeHex(want), `len ${len}, ikm ${il}, salt ${sl}, info ${nl}`);
    }
  }
  for (const bad of [-1, HKDF_SHA256_MAX + 1, 1.5, NaN]) {
    assert.throws(
      () => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), bad),
      (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
    );
  }
});

Deno.test("hkdfSha256Each gives for each info what hkdfSha256 gives, one extract shared", async () => {
  await ready();
  for (const len of [0, 1, 31, 32, 33, 64, 100, 1000, HKDF_SHA256_MAX]) {
    for (const [il, sl] of [[32, 32], [1, 0], [80, 80], [WINDOW + 70_000, 16]]) {
      if (il > WINDOW && len > 100) continue; // the large input is about the copy path, not the length
      const ikm = randomBytes(il);
      const salt = randomBytes(sl);
      const infos = [randomBytes(22), randomBytes(0), randomBytes(300), randomBytes(18)];
      const each = hkdfSha256Each(ikm, salt, infos, len);
      assert.equal(each.length, infos.length);
      for (const [j, info] of infos.entries()) {
        assert.equal(
          encodeHex(each[j]),
          encodeHex(hkdfSha256(ikm, salt, info, len)),
          `len ${len}, ikm ${il}, salt ${sl}, info ${j} of ${info.length} bytes`,
        );
      }
    }
  }
  assert.deepEqual(hkdfSha256Each(new Uint8Array(32), new Uint8Array(32), [], 32), []);
  for (const bad of [-1, HKDF_SHA256_MAX + 1, 1.5, NaN]) {
    assert.throws(
      () => hkdfSha256Each(new Uint8Array(1), new Uint8Array(0), [new Uint8Array(0)], bad),
      (e: unknown) => isEnvelopeError(e, "INVALID_ARGUMENT"),
    );
  }
  assert.throws(
    () => hkdfSha256Each(new Uint8Array(1), new Uint8Array(0), ["x" as unknown as Uint8Array], 32),
    TypeError,
  );
});

Deno.test("hkdfSha256Each equals WebCrypto's HKDF for each info (the core's hkdf_sha256_each), also past 255 infos", async () => {
  await ready();
  const deriveBits = async (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, len: number) => {
    const k = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
    return new Uint8Array(
      await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) }, k, len * 8),
    );
  };
  for (const len of [1, 15, 16, 17, 31, 32, 33, 64, 65, HKDF_SHA256_MAX]) {
    for (const [il, sl] of [[32, 32], [1, 0], [16, 64], [80, 80]]) {
      const ikm = randomBytes(il), salt = randomBytes(sl);
      const infos = [0, 1, 15, 16, 17, 22, 54, 55, 56, 64, 200].map((n) => randomBytes(n));
      const each = hkdfSha256Each(ikm, salt, infos, len);
      for (const [j, info] of infos.entries()) {
        assert.equal(
          encodeHex(each[j]),
          encodeHex(await deriveBits(ikm, salt, info, len)),
          `len ${len}, ikm ${il}, salt ${sl}, info of ${info.length} bytes`,
        );
      }
    }
  }
  // The core takes 255 infos per call; more are split over calls with the same result.
  const ikm = randomBytes(32), salt = randomBytes(32);
  const many = Array.from({ length: 300 }, (_, i) => new Uint8Array([i & 0xff, i >> 8]));
  const each = hkdfSha256Each(ikm, salt, many, 32);
  assert.equal(each.length, 300);
  for (const j of [0, 254, 255, 256, 299]) {
    assert.equal(encodeHex(each[j]), encodeHex(await deriveBits(ikm, salt, many[j], 32)), `info ${j} of 300`);
  }
});

Deno.test("constantTimeEqual compares bytes, lengths, and large inputs", async () => {
  await ready();
  for (const n of [0, 1, 16, 33, 1000, WINDOW + 1]) {
    const a = randomBytes(n);
    assert.ok(constantTimeEqual(a, a.slice()), `equal ${n}`);
    for (const i of n === 0 ? [] : [0, n >> 1, n - 1]) {
      const b = a.slice();
      b[i] ^= 0x40;
      assert.ok(!constantTimeEqual(a, b), `differs at ${i} of ${n}`);
    }
    assert.ok(!constantTimeEqual(a, new Uint8Array([...a, 0])), `length ${n} vs ${n + 1}`);
  }
  assert.throws(() => constantTimeEqual("a" as unknown as Uint8Array, new Uint8Array(1)), TypeError);
  assert.throws(() => sha256([1] as unknown as Uint8Array), TypeError);
});
