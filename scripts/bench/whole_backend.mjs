/**
 * One runtime's side of scripts/bench_whole_backend.ts: whole messages of
 * several sizes encrypted and decrypted through the library with each
 * AES-GCM backend forced in turn, one message after another (each call
 * awaited before the next). Plain JavaScript, so that Deno runs it on the
 * sources and Node on the built npm package.
 *
 *   deno run -A whole_backend.mjs MOD_URL BACKEND_URL KEYFILE ROUNDS COUNT
 *   node whole_backend.mjs MOD_URL BACKEND_URL KEYFILE ROUNDS COUNT
 *
 * Prints one JSON line: for each size and backend, the messages per second of
 * each round (encrypt, decrypt).
 *
 * @module
 */
const [modUrl, backendUrl, keyFile, roundsText, countText] = globalThis.Deno?.args ?? process.argv.slice(2);
const { decrypt, encrypt, LocalKey } = await import(modUrl);
const { setBackendOverride } = await import(backendUrl);
const text = globalThis.Deno
  ? await Deno.readTextFile(keyFile)
  : (await import("node:fs")).readFileSync(keyFile, "utf8");
const key = await LocalKey.fromText(text);
const rounds = Number(roundsText);
const count = Number(countText);
const SIZES = [4096, 8192, 16384, 32768, 65536];
const BACKENDS = ["webcrypto", "wasm"];
const out = {};
for (const size of SIZES) for (const b of BACKENDS) out[`${size} ${b}`] = { encrypt: [], decrypt: [] };
const plain = Object.fromEntries(SIZES.map((n) => [n, crypto.getRandomValues(new Uint8Array(n))]));
// A warm-up of every cell, so the first round does not time the compilers.
for (const size of SIZES) {
  for (const b of BACKENDS) {
    setBackendOverride(b);
    for (let i = 0; i < 300; i++) await decrypt(await encrypt(plain[size], { keys: key }), { keys: key });
  }
}
for (let r = 0; r < rounds; r++) {
  for (const size of SIZES) {
    // Each round starts with the other backend, so a change of load falls on both.
    for (const b of r % 2 === 0 ? BACKENDS : [...BACKENDS].reverse()) {
      setBackendOverride(b);
      const sealed = new Array(count);
      let t0 = performance.now();
      for (let i = 0; i < count; i++) sealed[i] = await encrypt(plain[size], { keys: key });
      out[`${size} ${b}`].encrypt.push(count / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      for (const m of sealed) {
        if ((await decrypt(m, { keys: key })).length !== size) throw new Error("decrypt gave a different length");
      }
      out[`${size} ${b}`].decrypt.push(count / ((performance.now() - t0) / 1000));
    }
  }
}
setBackendOverride("auto");
console.log(JSON.stringify(out));
