/**
 * Reading a setting from the environment in Deno or Node without ever
 * stopping at a permission prompt; in a browser nothing is found. Shared by
 * the CLI, the key files, the AWS and Alibaba Cloud providers and the
 * object-store clients. Loads nothing: safe in
 * the browser, and in Deno it never touches Node's `process`.
 *
 * @module
 */

/**
 * Reads an environment variable in Deno or Node; `undefined` in a browser or without permission.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getEnv } from "./env.ts";
 * Deno.env.set("ENVELOPE_DOC_EXAMPLE", "cn-shanghai");
 * assert.equal(getEnv("ENVELOPE_DOC_EXAMPLE"), "cn-shanghai");
 * Deno.env.delete("ENVELOPE_DOC_EXAMPLE");
 * assert.equal(getEnv("ENVELOPE_DOC_EXAMPLE"), undefined);
 * ```
 */
export function getEnv(name: string): string | undefined {
  const g = globalThis as {
    Deno?: {
      env?: { get(n: string): string | undefined };
      permissions?: { querySync?(d: { name: "env"; variable: string }): { state: string } };
    };
    process?: { env?: Record<string, string | undefined> };
  };
  if (g.Deno) {
    try {
      // Ask first, so a Deno run without --allow-env never stops at a prompt.
      const state = g.Deno.permissions?.querySync?.({ name: "env", variable: name }).state ?? "granted";
      const v = state === "granted" ? g.Deno.env?.get(name) : undefined;
      if (v !== undefined && v !== "") return v;
    } catch {
      // Not allowed to ask: nothing found.
    }
    // Not Node's `process` in Deno: touching it there starts the Node layer (src/host/process.ts).
    return undefined;
  }
  try {
    const v = g.process?.env?.[name];
    if (v !== undefined && v !== "") return v;
  } catch {
    // Not Node.
  }
  return undefined;
}
