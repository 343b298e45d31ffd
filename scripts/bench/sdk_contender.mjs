// The AWS Encryption SDK for JavaScript (@aws-crypto/client-node) as a
// contender of scripts/bench_compare.ts, run by Node with NODE_PATH pointing
// at the SDK installed in a cache folder (never in deno.json). Raw AES
// keyring, stream API.
//
//   node sdk_contender.mjs enc|dec default|fastest KEYFILE IN OUT
//   node sdk_contender.mjs msgs default|fastest KEYFILE SIZE COUNT
//
// default: the SDK's defaults (committing suite with ECDSA P-384
// signatures, 4 KiB frames). fastest: the unsigned committing suite
// (ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY) with 1 MiB frames,
// decrypted with decryptUnsignedMessageStream. `msgs` encrypts then decrypts
// COUNT messages of SIZE random bytes one after another in this process and
// prints one JSON line {encryptPerSecond, decryptPerSecond}. KEYFILE holds
// the 32 raw key bytes; nothing of it is printed.
import { createRequire } from "node:module";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";

const require = createRequire(process.env.SDK_DIR + "/");
const sdk = require("@aws-crypto/client-node");
const { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } =
  sdk;

const [op, mode, keyFile, a, b] = process.argv.slice(2);
if (!["enc", "dec", "msgs"].includes(op) || !["default", "fastest"].includes(mode) || !b) {
  console.error("usage: sdk_contender.mjs enc|dec|msgs default|fastest KEYFILE IN|SIZE OUT|COUNT");
  process.exit(2);
}
const key = new Uint8Array(readFileSync(keyFile));
const keyring = new RawAesKeyringNode({
  keyName: "bench",
  keyNamespace: "envelope-bench",
  unencryptedMasterKey: key,
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
});
const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const encOptions = mode === "fastest"
  ? { suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY, frameLength: 1024 * 1024 }
  : {};
const context = { purpose: "bench" };

if (op === "enc") {
  await pipeline(
    createReadStream(a, { highWaterMark: 1024 * 1024 }),
    client.encryptStream(keyring, { ...encOptions, encryptionContext: context }),
    createWriteStream(b),
  );
} else if (op === "dec") {
  const decrypting = mode === "fastest" ? client.decryptUnsignedMessageStream(keyring) : client.decryptStream(keyring);
  await pipeline(createReadStream(a, { highWaterMark: 1024 * 1024 }), decrypting, createWriteStream(b));
} else {
  const size = Number(a);
  const count = Number(b);
  const plain = randomBytes(size);
  const sealed = [];
  // One warm-up message each way, as the envelope side has.
  await client.decrypt(
    keyring,
    (await client.encrypt(keyring, plain, { ...encOptions, encryptionContext: context })).result,
  );
  let t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const { result } = await client.encrypt(keyring, plain, { ...encOptions, encryptionContext: context });
    sealed.push(result);
  }
  const encSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (const m of sealed) {
    const { plaintext } = await client.decrypt(keyring, m);
    if (plaintext.length !== size) throw new Error("decrypt gave a different length");
  }
  const decSeconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ encryptPerSecond: count / encSeconds, decryptPerSecond: count / decSeconds }));
}
