/**
 * The browser entry: the library without the CLI, the file system or any
 * cloud SDK. Decrypt (and encrypt) with a plaintext data key fetched
 * beforehand from a backend or an enclave ({@linkcode RawDataKey}), whole
 * files, `fetch()` streams in constant memory, or byte ranges over HTTP.
 * Works where `crypto.subtle` is missing (the WASM core alone).
 *
 * @example Decrypting a fetched file with a data key from the backend
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptStream, encrypt, RawDataKey } from "./browser.ts";
 * const dataKey = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await encrypt(new TextEncoder().encode("from the server"), { keys: await RawDataKey.create(dataKey) });
 * const response = new Response(sealed); // e.g. await fetch("/files/report.envl")
 * const text = await new Response(response.body!.pipeThrough(decryptStream({ keys: await RawDataKey.create(dataKey) }))).text();
 * assert.ok(text === "from the server");
 * ```
 *
 * @module
 */
// The library index is platform-neutral: the browser entry is all of it.
export * from "./lib.ts";
// The age loaders with literal imports, which a bundler turns into a chunk of their own
// (lib.ts's age_lazy.ts hides them from Deno's start-up graph, and so from bundlers too).
export { loadAgeIdentities, loadAgeRecipients } from "./keys/age_bundled.ts";
