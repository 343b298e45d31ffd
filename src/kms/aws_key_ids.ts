/**
 * AWS KMS key ids as the provider tells them apart: key ARNs, alias ARNs,
 * `alias/NAME` and bare key ids, the region an ARN names, and whether two
 * ids name the same key (multi-Region `mrk-` replicas included), so a
 * provider can say offline whether a wrapped key is its own.
 *
 * @module
 */

/** The parts of a KMS key id this module tells apart. */
export interface KeyIdParts {
  readonly kind: "key-arn" | "alias-arn" | "alias" | "id";
  /** The region of an ARN. */
  readonly region?: string;
  /** The key id of a key ARN or a bare id. */
  readonly id?: string;
}

/** A KMS key or alias ARN: its region, `key` or `alias`, and the rest. */
export const ARN = /^arn:[^:]+:kms:([^:]*):[^:]*:(key|alias)\/(.+)$/;

/** Tells what kind of key id `keyId` is, with its region and key id where it has them. */
export function parseKeyId(keyId: string): KeyIdParts {
  const m = ARN.exec(keyId);
  if (m) {
    return m[2] === "key"
      ? { kind: "key-arn", region: m[1] || undefined, id: m[3] }
      : { kind: "alias-arn", region: m[1] || undefined };
  }
  if (keyId.startsWith("alias/")) return { kind: "alias" };
  return { kind: "id", id: keyId };
}

/**
 * Whether two key ids (key ARNs or bare ids) name the same key: equal ARNs,
 * or equal ids where either side is a bare id. Replicas of a multi-Region
 * key share their `mrk-` id and open each other's blobs, so for those the
 * ids are compared whatever the regions.
 */
export function sameKey(a: string, b: string): boolean {
  const pa = parseKeyId(a);
  const pb = parseKeyId(b);
  if (pa.kind === "key-arn" && pb.kind === "key-arn" && !pa.id?.startsWith("mrk-")) return a === b;
  return pa.id !== undefined && pa.id === pb.id;
}
