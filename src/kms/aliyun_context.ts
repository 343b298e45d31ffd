/**
 * The encryption context as Alibaba Cloud KMS takes it: the JSON text of the
 * map with keys in the canonical (byte) order of docs/FORMAT.md §3.2, the
 * order the header stores them in. Only `aliyun.ts` uses it.
 *
 * @module
 */
import type { EncryptionContext } from "../format/types.ts";
import { canonicalPairs } from "../format/context.ts";

/** The context as the JSON text of the map with keys in canonical order (Alibaba Cloud KMS). */
export function contextJson(context: EncryptionContext): string {
  // Written by hand: JS objects enumerate integer-like keys first, whatever the insertion order.
  const dec = new TextDecoder();
  return "{" +
    canonicalPairs(context).map(([k, v]) => JSON.stringify(dec.decode(k)) + ":" + JSON.stringify(dec.decode(v))).join(
      ",",
    ) +
    "}";
}
