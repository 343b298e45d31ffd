/**
 * age identities and recipients from text, loading the age module (and
 * typage with its post-quantum code) only when called, so bundles that never
 * use age do not carry it (docs/browser.md).
 *
 * @module
 */
import type { KeyProvider } from "./provider.ts";
import { importLater } from "../import_later.ts";

/**
 * The identities of an age identity file's text (`AGE-SECRET-KEY-1...`,
 * `AGE-SECRET-KEY-PQ-1...`, `#` comments), as key providers for `decrypt`.
 *
 * @example Decrypting with an identity file's text
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, loadAgeIdentities, loadAgeRecipients } from "../lib.ts";
 * import { AgeIdentity } from "./age.ts";
 * const made = await AgeIdentity.generate({ pq: true });
 * const sealed = await encrypt(new Uint8Array([4]), { keys: await loadAgeRecipients(made.keyId) });
 * const keys = await loadAgeIdentities(`# public key: ${made.keyId}\n${made.toText()}\n`);
 * assert.ok((await decrypt(sealed, { keys }))[0] === 4);
 * ```
 */
export async function loadAgeIdentities(text: string): Promise<KeyProvider[]> {
  const { parseAgeIdentities } = await importLater<typeof import("./age.ts")>(import.meta.url, "./age.ts");
  return await parseAgeIdentities(text);
}

/** The recipients of an age recipients file's text (`age1...`, `age1pq1...`, `#` comments), for `encrypt`. */
export async function loadAgeRecipients(text: string): Promise<KeyProvider[]> {
  const { parseAgeRecipients } = await importLater<typeof import("./age.ts")>(import.meta.url, "./age.ts");
  return parseAgeRecipients(text);
}
