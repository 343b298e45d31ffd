/**
 * A dynamic import that Deno does not follow ahead of time.
 *
 * `deno run` builds the module graph of the entry before running it, and that
 * graph includes every `import("./literal.ts")`, taken or not: one such import
 * that leads to an npm package makes Deno install every npm package of the
 * lockfile, and every module behind it is resolved at each start. The CLI's
 * commands, cloud providers, zip code and age code sit behind such imports, so
 * a local-key encrypt paid for all of them (issue 13; `scripts/bench_startup.ts`
 * and `scripts/first_run_download.ts` measure it). {@linkcode importLater}
 * takes the specifier as a value, which the graph cannot see, so the module
 * and what it needs load only when the call runs.
 *
 * The type argument names the module (`typeof import("./x.ts")`): a type-only
 * reference that keeps the call type-checked and lets `scripts/check_layers.ts`
 * see the edge. Bundlers cannot see the import either, so code meant for
 * browser bundles keeps literal `import()`s (`keys/age_bundled.ts`).
 *
 * On Node the package runs compiled `.js` files (`scripts/build_npm.ts`), so a
 * `.ts` specifier gets the importing module's own extension.
 *
 * @example Loading a module only when it is needed
 * ```ts
 * import assert from "node:assert/strict";
 * import { importLater } from "./import_later.ts";
 * const { EnvelopeError } = await importLater<typeof import("./errors.ts")>(import.meta.url, "./errors.ts");
 * assert.equal(new EnvelopeError("USAGE", "x").code, "USAGE");
 * ```
 *
 * @module
 */
import { EnvelopeError } from "./errors.ts";

/** How Deno and Node say that a package could not be fetched or found. */
const MISSING_PACKAGE = /Failed caching npm package|npm package|ERR_MODULE_NOT_FOUND|Cannot find (module|package)/;

/**
 * Imports `specifier` relative to `base` (the caller's `import.meta.url`)
 * when called, out of sight of Deno's ahead-of-time module graph. When what
 * it needs cannot be fetched or found (the npm registry out of reach on the
 * first use of the AWS SDK, say), it throws `IO_FAILED` naming the module and
 * the way out; any other failure is thrown as it is.
 */
export async function importLater<T>(base: string, specifier: string): Promise<T> {
  const own = new URL(base).pathname;
  const spec = own.endsWith(".js") && specifier.endsWith(".ts") ? `${specifier.slice(0, -3)}.js` : specifier;
  try {
    return await import(new URL(spec, base).href) as T;
  } catch (cause) {
    const text = String((cause as Error)?.message ?? cause);
    if (!MISSING_PACKAGE.test(text)) throw cause;
    const name = spec.replace(/^(\.\.?\/)+/, "");
    throw new EnvelopeError("IO_FAILED", `Loading ${name} failed: ${text.split(/\\n|\n/)[0]}`, {
      hint: "the AWS SDK and age are downloaded on their first use: check access to the npm registry " +
        "(or NPM_CONFIG_REGISTRY), or reinstall the package",
      cause,
    });
  }
}
