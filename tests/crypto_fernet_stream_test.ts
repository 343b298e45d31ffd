/**
 * Streaming Fernet (src/crypto/fernet_stream.ts): the same tokens as the
 * whole-token Fernet and Python's `cryptography.fernet`, under every split of
 * the input; the spec's invalid vectors refused, each in the pass that must
 * refuse it; no plaintext before the HMAC verified; and a text that changed
 * between the two passes refused at the end.
 */
import assert from "node:assert/strict";
import { Fernet } from "../src/crypto/fernet.ts";
import { decryptFernetStream, encryptFernetStream, verifyFernetStream } from "../src/crypto/fernet_stream.ts";
import { withFixedRandom } from "../src/crypto/fixed_random_internal.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { isEnvelopeError } from "../src/errors.ts";
import { decodeBase64Url, encodeBase64Url } from "../src/encoding/base64.ts";
import { pythonFernet } from "./support/python.ts";
import { streamOf } from "./support/envelope_harness.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const RUN = 256 * 1024;

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function streamEncrypt(key: Uint8Array, data: Uint8Array, size: number, opts = {}): Promise<string> {
  return td.decode(await collect(streamOf(data, size).pipeThrough(await encryptFernetStream(key, opts))));
}

async function streamDecrypt(key: Uint8Array, token: string, size: number): Promise<Uint8Array> {
  const text = te.encode(token);
  const verified = await verifyFernetStream(key, streamOf(text, size));
  return await collect(streamOf(text, size).pipeThrough(await decryptFernetStream(key, verified)));
}

const isInvalid = (e: unknown) => isEnvelopeError(e, "TOKEN_INVALID");

Deno.test("fernet stream: the same tokens as Fernet.encrypt for every size and split, and back", async () => {
  const key = randomBytes(32);
  const f = await Fernet.create(key);
  for (const n of [0, 1, 15, 16, 17, 1000, RUN - 1, RUN, RUN + 1, RUN + 16, 3 * RUN + 5]) {
    const data = randomBytes(n);
    const iv = randomBytes(16);
    const opts = withFixedRandom({ now: 1_700_000_000_000 }, iv);
    const whole = f.encrypt(data, opts);
    const splits = n < 2000 ? [1, 3, 16, 1000] : [1000, 65_536 + 3, RUN, 4 * RUN];
    for (const size of splits) {
      assert.equal(await streamEncrypt(key, data, size, opts), whole, `encrypt ${n} in pieces of ${size}`);
      for (const tsize of [size, 7]) {
        if (tsize === 7 && n > 2000) continue;
        assert.deepEqual(await streamDecrypt(key, whole, tsize), data, `decrypt ${n} in text pieces of ${tsize}`);
      }
    }
    assert.deepEqual(f.decrypt(await streamEncrypt(key, data, 4096)), data, `random IV ${n}`);
  }
  f.dispose();
});

Deno.test("fernet stream: Python opens our streamed tokens and we stream-open Python's", async () => {
  const key = randomBytes(32);
  const keyText = encodeBase64Url(key, true);
  const sizes = [0, 17, RUN + 3, 2 * RUN + 100];
  const datas = sizes.map((n) => randomBytes(n));
  const ours = await Promise.all(datas.map((d) => streamEncrypt(key, d, 10_000)));
  const res = await pythonFernet([
    ...ours.map((token) => ({ op: "decrypt" as const, key: keyText, token, now: 1_600_000_000 })),
    ...datas.map((data) => ({ op: "encrypt" as const, key: keyText, data, now: 1_600_000_000 })),
  ]);
  for (const [i, d] of datas.entries()) {
    const opened = res[i];
    assert.ok("data" in opened, `Python opens ours (${d.length})`);
    assert.deepEqual(opened.data, d);
    const theirs = res[sizes.length + i];
    assert.ok("token" in theirs);
    assert.deepEqual(await streamDecrypt(key, theirs.token, 4099), d, `we open Python's (${d.length})`);
  }
});

Deno.test("fernet stream: the spec's invalid vectors and every flipped byte fail with TOKEN_INVALID", async () => {
  const vectors = JSON.parse(await Deno.readTextFile(new URL("./vectors/fernet/invalid.json", import.meta.url))) as {
    desc: string;
    token: string;
    secret: string;
  }[];
  for (const v of vectors) {
    if (/TTL|clock skew/.test(v.desc)) continue; // no TTL when streaming, as in the enclave
    const key = decodeBase64Url(v.secret);
    await assert.rejects(() => streamDecrypt(key, v.token, 5), isInvalid, v.desc);
  }
  const key = randomBytes(32);
  const raw = decodeBase64Url(await streamEncrypt(key, randomBytes(40), 8));
  for (let i = 0; i < raw.length; i++) {
    const bad = raw.slice();
    bad[i] ^= 1;
    await assert.rejects(
      () => verifyFernetStream(key, streamOf(te.encode(encodeBase64Url(bad)), 6)),
      isInvalid,
      `${i}`,
    );
  }
  const token = encodeBase64Url(raw);
  for (const text of [token.slice(0, 20) + "%" + token.slice(21), token + "\n", token.slice(0, -4), " " + token]) {
    await assert.rejects(() => verifyFernetStream(key, streamOf(te.encode(text), 4)), isInvalid, JSON.stringify(text));
  }
  await assert.rejects(
    () => verifyFernetStream(randomBytes(32), streamOf(te.encode(token), 9)),
    isInvalid,
    "wrong key",
  );
});

Deno.test("fernet stream: a text that changed after it verified fails at the end of pass two", async () => {
  const key = randomBytes(32);
  const data = randomBytes(3 * RUN);
  const a = te.encode(await streamEncrypt(key, data, RUN));
  const verified = await verifyFernetStream(key, streamOf(a, RUN));
  const pass2 = async (text: Uint8Array) =>
    await collect(streamOf(text, RUN).pipeThrough(await decryptFernetStream(key, verified)));
  const b = a.slice();
  b[RUN] = b[RUN] === 0x41 ? 0x42 : 0x41;
  await assert.rejects(() => pass2(b), isInvalid, "a changed byte");
  await assert.rejects(() => pass2(a.subarray(0, a.length - 4)), isInvalid, "shorter");
  await assert.rejects(() => pass2(te.encode(td.decode(a) + "AAAA")), isInvalid, "longer");
  assert.deepEqual(await pass2(a), data);
});
