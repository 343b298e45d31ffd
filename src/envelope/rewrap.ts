/**
 * Rewrapping: a new key list for the same data key, leaving the header core,
 * the header tag and the payload untouched (docs/FORMAT.md §9).
 *
 * @module
 */
import { constantTimeEqual } from "../crypto/hash.ts";
import { EnvelopeError } from "../errors.ts";
import { encodeHeader, type Header, parseHeader } from "../format/header.ts";
import type { KeyProvider, WrappedKey } from "../keys/provider.ts";
import { computeHeaderTag, type DerivedKeys, deriveKeys, openDataKey, wipe } from "./data_key.ts";
import { requireBytes, requireOptions } from "./_args.ts";

/** What to change in the key list. */
export interface RewrapOptions {
  /** Providers that can unwrap an existing wrapped key (needed unless every added key can re-encrypt inside its KMS). */
  readonly keys?: readonly KeyProvider[];
  /** Providers to wrap the data key for; each replaces an existing entry with the same provider and key id. */
  readonly add?: readonly KeyProvider[];
  /** Existing entries to drop. */
  readonly remove?: (key: WrappedKey) => boolean;
  /** Wrapped keys that may reach a provider while unwrapping (default 8; docs/FORMAT.md §8 step 6). */
  readonly maxAttempts?: number;
}

/** The result of {@linkcode rewrapHeader}. */
export interface RewrapResult {
  /** The new header; write it, then the payload from `payloadOffset` of the old message, unchanged. */
  readonly header: Uint8Array;
  /** Where the payload starts in the old message. */
  readonly payloadOffset: number;
  /**
   * Entries added, and how: `reencrypt` (inside the KMS), `wrap` (data key unwrapped here, the new entry opened
   * again), or `recipient` (wrapped here for a public-key recipient with no identity at hand, so checked by the
   * provider but not opened again).
   */
  readonly added: readonly { provider: string; keyId: string; via: "reencrypt" | "wrap" | "recipient" }[];
  /** Entries removed. */
  readonly removed: readonly WrappedKey[];
}

const same = (a: { provider: string; keyId: string }, b: { provider: string; keyId: string }) =>
  a.provider === b.provider && a.keyId === b.keyId;

/**
 * Builds a new header for the message whose header starts `headerBytes`.
 * Added keys are wrapped by KMS re-encryption where the provider can do it
 * from an existing entry of the same KMS; otherwise the data key is unwrapped
 * with `keys`, checked against the commitment and the header tag, and
 * wrapped. Either way, every new entry is unwrapped again with its own key
 * and must open to the committed data key before this returns
 * (docs/FORMAT.md §9): the key list is attacker-controlled, and a rewrap
 * that trusted a planted entry would write a file no key opens.
 *
 * @example Adding a second local key to a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, LocalKey, rewrapHeader } from "../../mod.ts";
 * const a = await LocalKey.generate();
 * const b = await LocalKey.generate();
 * const sealed = await encrypt(new Uint8Array([42]), { keys: a });
 * const r = await rewrapHeader(sealed, { keys: [a], add: [b], remove: (k) => k.keyId === a.keyId });
 * const next = new Uint8Array([...r.header, ...sealed.subarray(r.payloadOffset)]);
 * assert.ok((await decrypt(next, { keys: b }))[0] === 42);
 * ```
 */
export async function rewrapHeader(headerBytes: Uint8Array, options: RewrapOptions): Promise<RewrapResult> {
  requireBytes(headerBytes, "rewrapHeader() takes the header");
  requireOptions(options, "rewrapHeader()");
  const header: Header = parseHeader(headerBytes);
  const add = options.add ?? [];
  const removed = header.keys.filter((k) => options.remove?.(k) ?? false);
  let kept: WrappedKey[] = header.keys.filter((k) => !removed.includes(k));
  const added: RewrapResult["added"][number][] = [];
  const fresh: WrappedKey[] = [];
  let dataKey: Uint8Array | null = null;
  // The data key, unwrapped from an entry that verifies (commitment and header tag), once.
  const unwrapped = async (p: KeyProvider): Promise<Uint8Array> => {
    if (dataKey) return dataKey;
    if (!options.keys || options.keys.length === 0) {
      throw new EnvelopeError(
        "NO_KEY_MATCHED",
        `Rewrapping for ${p.provider} key ${p.keyId} failed: no key was given to unwrap the existing data key`,
        {
          hint: `the file's wrapped keys are: ${
            header.keys.map((k) => `${k.provider}:${k.keyId}`).join(", ")
          }; pass a key that opens one of them`,
        },
      );
    }
    const u = await openDataKey(header, options.keys, { maxAttempts: options.maxAttempts });
    try {
      checkHeaderTag(u.keys, header);
    } catch (e) {
      u.dataKey.fill(0);
      throw e;
    } finally {
      wipe(u.keys);
    }
    return dataKey = u.dataKey;
  };
  try {
    for (const p of add) {
      // The same key given twice is wrapped once, as encrypt does.
      if (fresh.some((f) => same(f, p))) continue;
      let w: WrappedKey | null = null;
      if (p.rewrap) {
        // A KMS re-encrypts an entry of its own; the result counts only once it opens to the committed key.
        for (const source of header.keys.filter((k) => k.provider === p.provider)) {
          const candidate = await p.rewrap(source, header.context).catch(() => null);
          if (candidate && await opensToCommitted(p, candidate, header)) {
            w = candidate;
            break;
          }
        }
      }
      if (w) {
        added.push({ provider: w.provider, keyId: w.keyId, via: "reencrypt" });
      } else {
        w = await p.wrap(await unwrapped(p), header.context);
        // A public-key recipient cannot open its wrap: an identity for it among `keys` does; without one, the
        // provider's own check of its wrap of the data key verified above stands (docs/FORMAT.md §9 step 2).
        const prover = p.wrapOnly ? options.keys?.find((k) => same(k, p) && !k.wrapOnly) : p;
        if (prover && !await opensToCommitted(prover, w, header)) {
          throw new EnvelopeError(
            "REWRAP_UNVERIFIED",
            `Rewrapping for ${p.provider} key ${p.keyId} failed: the new wrapped key does not open to this message's data key`,
            {
              hint:
                "check that the key can decrypt what it encrypts (kms:Decrypt on the new key); the file was not changed",
            },
          );
        }
        added.push({ provider: w.provider, keyId: w.keyId, via: prover ? "wrap" : "recipient" });
      }
      fresh.push(w);
    }
  } finally {
    (dataKey as Uint8Array | null)?.fill(0);
  }
  kept = kept.filter((k) => !fresh.some((f) => same(f, k)));
  const keys = [...kept, ...fresh];
  if (keys.length === 0) {
    throw new EnvelopeError("INVALID_ARGUMENT", "Rewrapping failed: it would remove every wrapped key", {
      hint: "add a key, or remove fewer",
    });
  }
  return { header: encodeHeader(header.core, header.headerTag, keys), payloadOffset: header.length, added, removed };
}

function checkHeaderTag(keys: DerivedKeys, header: Header): void {
  if (!constantTimeEqual(computeHeaderTag(keys.headerKey, header.core), header.headerTag)) {
    throw new EnvelopeError("HEADER_AUTH_FAILED", "Rewrapping failed: the header was modified", {
      hint: "restore the file from a trusted copy",
    });
  }
}

/**
 * True when `provider` unwraps `w` (for a KMS: a Decrypt with the new key) to
 * a data key with the header's commitment and header tag (docs/FORMAT.md §9
 * step 2). Any failure to open counts as false.
 */
async function opensToCommitted(provider: KeyProvider, w: WrappedKey, header: Header): Promise<boolean> {
  let dk: Uint8Array | null;
  try {
    dk = await provider.unwrap(w, header.context);
  } catch {
    return false;
  }
  if (!dk) return false;
  try {
    if (dk.length !== 32) return false;
    const keys = await deriveKeys(dk, header.salt);
    try {
      return constantTimeEqual(keys.commitment, header.commitment) &&
        constantTimeEqual(computeHeaderTag(keys.headerKey, header.core), header.headerTag);
    } finally {
      wipe(keys);
    }
  } finally {
    dk.fill(0);
  }
}
