/**
 * The age loaders of `keys/age_lazy.ts` for the browser entry: the same
 * functions with literal `import("./age.ts")`s, which a bundler sees and puts
 * in a chunk of their own (the page fetches it on first use). Deno's module
 * graph would follow them too, installing npm packages at start-up, so
 * `mod.ts` (through `lib.ts`) uses `age_lazy.ts` instead.
 *
 * @module
 */
import type { KeyProvider } from "./provider.ts";

/**
 * The identities of an age identity file's text, as key providers for `decrypt`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadAgeIdentities, loadAgeRecipients } from "./age_bundled.ts";
 * import { AgeIdentity } from "./age.ts";
 * const made = await AgeIdentity.generate();
 * assert.equal((await loadAgeRecipients(made.keyId)).length, 1);
 * assert.equal((await loadAgeIdentities(made.toText())).length, 1);
 * ```
 */
export async function loadAgeIdentities(text: string): Promise<KeyProvider[]> {
  const { parseAgeIdentities } = await import("./age.ts");
  return await parseAgeIdentities(text);
}

/** The recipients of an age recipients file's text (`age1...`, `age1pq1...`, `#` comments), for `encrypt`. */
export async function loadAgeRecipients(text: string): Promise<KeyProvider[]> {
  const { parseAgeRecipients } = await import("./age.ts");
  return parseAgeRecipients(text);
}
