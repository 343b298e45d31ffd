/**
 * `-v`: what each key provider was asked and how long it took, as `detail:`
 * lines (`detail: aws-kms arn:...:key/1234 Decrypt: opened (41 ms)`). Only
 * in verbose runs are providers wrapped; the wrapper keeps the provider's
 * shape (the optional methods it has and no others), and it is made once per
 * run, so a data-key cache, which is partitioned by provider object, still
 * finds its entries across files. Nothing but names, outcomes and times is
 * printed: never a key, a wrapped key or a context value.
 *
 * @module
 */
import type { KeyProvider } from "../keys/provider.ts";
import { currentVerbosity, detail } from "./output.ts";

/** The KMS operation each provider method stands for, for the lines. */
const OPERATION: Record<string, Record<string, string>> = {
  "aws-kms": { generateDataKey: "GenerateDataKey", wrap: "Encrypt", unwrap: "Decrypt", rewrap: "ReEncrypt" },
  "aliyun-kms": { generateDataKey: "GenerateDataKey", wrap: "Encrypt", unwrap: "Decrypt", rewrap: "ReEncrypt" },
};

function label(p: KeyProvider, method: string): string {
  const op = OPERATION[p.provider]?.[method] ?? method;
  return `${p.provider} ${p.keyId || "(any key)"} ${op}`;
}

async function timed<T>(what: string, run: () => Promise<T>, outcome: (value: T) => string): Promise<T> {
  const started = performance.now();
  try {
    const value = await run();
    detail(`${what}: ${outcome(value)} (${Math.round(performance.now() - started)} ms)`);
    return value;
  } catch (e) {
    const code = (e as { code?: string }).code;
    detail(`${what}: failed${code ? ` [${code}]` : ""} (${Math.round(performance.now() - started)} ms)`);
    throw e;
  }
}

/** `p` wrapped so that each call prints a `detail:` line. */
export function traceProvider(p: KeyProvider): KeyProvider {
  const t: KeyProvider = {
    provider: p.provider,
    keyId: p.keyId,
    wrapOnly: p.wrapOnly,
    wrap: (dataKey, context) => timed(label(p, "wrap"), () => p.wrap(dataKey, context), () => "wrapped"),
    unwrap: (wrapped, context) =>
      timed(
        `${label(p, "unwrap")} of the entry for ${wrapped.provider}:${wrapped.keyId}`,
        () => p.unwrap(wrapped, context),
        (k) => k === null ? "not this key's" : "opened",
      ),
  };
  if (p.generateDataKey) {
    const gen = p.generateDataKey.bind(p);
    (t as { generateDataKey?: KeyProvider["generateDataKey"] }).generateDataKey = (context) =>
      timed(label(p, "generateDataKey"), () => gen(context), () => "generated");
  }
  if (p.rewrap) {
    const rewrap = p.rewrap.bind(p);
    (t as { rewrap?: KeyProvider["rewrap"] }).rewrap = (wrapped, context) =>
      timed(label(p, "rewrap"), () => rewrap(wrapped, context), (w) => w === null ? "not possible here" : "rewrapped");
  }
  return t;
}

/** The providers, traced when the run is verbose; unchanged otherwise. */
export function traced(providers: readonly KeyProvider[]): KeyProvider[] {
  return currentVerbosity().verbose ? providers.map(traceProvider) : [...providers];
}
