/**
 * envelope's library in one process, as a child of `scripts/bench_compare.ts`:
 * `deno run -A lib_messages.ts KEYFILE SIZE COUNT` encrypts COUNT messages of
 * SIZE random bytes one after another (`encrypt`, a fresh data key per
 * message wrapped by the local key in KEYFILE, no cache), then decrypts them
 * all, checks the lengths, and prints one JSON line
 * `{encryptPerSecond, decryptPerSecond}`. Nothing of the key is printed.
 *
 * @module
 */
import { decrypt, encrypt, LocalKey } from "../../mod.ts";

const [keyFile, sizeText, countText] = Deno.args;
const size = Number(sizeText);
const count = Number(countText);
if (!keyFile || !(size >= 0) || !(count > 0)) {
  console.error("usage: lib_messages.ts KEYFILE SIZE COUNT");
  Deno.exit(2);
}
const key = await LocalKey.fromText(await Deno.readTextFile(keyFile));
const plain = crypto.getRandomValues(new Uint8Array(size));
const sealed: Uint8Array[] = new Array(count);
// One warm-up message each way, so the WASM core's compile is not timed.
await decrypt(await encrypt(plain, { keys: key }), { keys: key });
let t0 = performance.now();
for (let i = 0; i < count; i++) sealed[i] = await encrypt(plain, { keys: key });
const encSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
for (const m of sealed) {
  const back = await decrypt(m, { keys: key });
  if (back.length !== size) throw new Error("decrypt gave a different length");
}
const decSeconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ encryptPerSecond: count / encSeconds, decryptPerSecond: count / decSeconds }));
