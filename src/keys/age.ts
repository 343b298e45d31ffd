/**
 * age public-key recipients and identities as key providers (docs/FORMAT.md
 * §6): X25519 (`age1...`, `AGE-SECRET-KEY-1...`) and the post-quantum hybrid
 * mlkem768x25519 (`age1pq1...`, `AGE-SECRET-KEY-PQ-1...`). The wrapped key is
 * a complete binary age file whose plaintext is the 32-byte data key, so
 * `age -d -i identity.txt` recovers it without envelope. The age format itself
 * is typage (`age-encryption`), not code of ours.
 *
 * Browsers and lean bundles import this module lazily (`loadAgeIdentities` in
 * the browser entry), since the post-quantum code is most of its size.
 *
 * @module
 */
import {
  Decrypter,
  Encrypter,
  generateHybridIdentity,
  generateX25519Identity,
  identityToRecipient,
} from "age-encryption";
import { constantTimeEqual } from "../crypto/hash.ts";
import { EnvelopeError } from "../errors.ts";
import type { EncryptionContext, KeyProvider, WrappedKey } from "./provider.ts";

/** The provider name of every age entry. */
export const AGE_PROVIDER = "age";
/** The stanza type each recipient kind writes. */
const STANZA = { x25519: "X25519", mlkem768x25519: "mlkem768x25519" } as const;
/** The largest recipients or identity file read (a hybrid recipient is ~1,960 characters). */
export const MAX_AGE_FILE_CHARS = 256 * 1024;

/** The two recipient kinds envelope wraps for. */
export type AgeKind = keyof typeof STANZA;

function kindOf(recipient: string): AgeKind | undefined {
  if (/^age1pq1[02-9ac-hj-np-z]+$/.test(recipient)) return "mlkem768x25519";
  if (/^age1[02-9ac-hj-np-z]{58}$/.test(recipient)) return "x25519";
  return undefined;
}

/** True for text that looks like an age identity (a secret): such text is never echoed in an error. */
export function looksLikeAgeIdentity(text: string): boolean {
  return /^AGE-SECRET-KEY-/i.test(text.trim());
}

/** True for text shaped like an age recipient (`age1...`), valid or not. */
export function looksLikeAgeRecipient(text: string): boolean {
  return text.startsWith("age1");
}

function badRecipient(why: string, where = "the recipient"): EnvelopeError {
  return new EnvelopeError("INVALID_KEY", `Reading ${where} failed: ${why}`, {
    hint: "pass an age X25519 recipient (age1...) or a post-quantum one (age1pq1...), as age-keygen or " +
      "`envelope keygen --age [--pq]` prints it",
  });
}

/**
 * Encrypts `dataKey` to `recipient` as a binary age file and checks the file
 * before returning it: the file key the encrypter drew is captured, the file
 * is opened with it (header MAC and payload) and must give back `dataKey`,
 * and its header must hold exactly one stanza of the recipient's type. What
 * this cannot check without the private key is that stanza's encryption of
 * the file key; that is typage's recipient code (docs/FORMAT.md §9).
 */
async function sealForRecipient(recipient: string, kind: AgeKind, dataKey: Uint8Array): Promise<Uint8Array> {
  let fileKey: Uint8Array | null = null;
  const e = new Encrypter();
  e.addRecipient(recipient);
  // A recipient that writes no stanza: it only sees the file key, for the check below.
  e.addRecipient({ wrapFileKey: (k: Uint8Array) => (fileKey = k.slice(), []) });
  const file = await e.encrypt(dataKey);
  let stanzas: { args: string[] }[] = [];
  let back: Uint8Array | null = null;
  try {
    const d = new Decrypter();
    d.addIdentity({ unwrapFileKey: (s) => (stanzas = s, fileKey) });
    back = await d.decrypt(file);
    if (
      stanzas.length !== 1 || stanzas[0].args[0] !== STANZA[kind] || back.length !== dataKey.length ||
      !constantTimeEqual(back, dataKey)
    ) throw new Error("the age file does not hold the data key");
  } catch {
    throw new EnvelopeError(
      "REWRAP_UNVERIFIED",
      `Wrapping for age recipient ${recipient} failed: the age file made for it did not check out`,
      { hint: "this is a bug in envelope or its age library; please report it" },
    );
  } finally {
    (fileKey as Uint8Array | null)?.fill(0);
    back?.fill(0);
  }
  return file;
}

/**
 * An age recipient (a public key): wraps data keys for the holder of its
 * identity, and cannot unwrap anything. `wrapOnly`, so a rewrap accepts its
 * wraps of a data key the rewrap verified, after the check
 * {@linkcode AgeRecipient.wrap} makes, without unwrapping them again
 * (docs/FORMAT.md §9 step 2), unless an identity for it is also at hand.
 *
 * @example Encrypting for a recipient, decrypting with its identity
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt } from "../../mod.ts";
 * import { AgeIdentity, AgeRecipient } from "./age.ts";
 * const identity = await AgeIdentity.generate();
 * const recipient = AgeRecipient.parse(identity.keyId); // the key id is the recipient string
 * const sealed = await encrypt(new Uint8Array([9]), { keys: recipient });
 * assert.ok((await decrypt(sealed, { keys: identity }))[0] === 9);
 * ```
 */
export class AgeRecipient implements KeyProvider {
  /** Always `age`. */
  readonly provider = AGE_PROVIDER;
  /** The recipient string, `age1...` or `age1pq1...`. */
  readonly keyId: string;
  /** X25519 or the mlkem768x25519 hybrid. */
  readonly kind: AgeKind;
  /** This provider wraps and never unwraps. */
  readonly wrapOnly = true;

  private constructor(recipient: string, kind: AgeKind) {
    this.keyId = recipient;
    this.kind = kind;
  }

  /** Parses `age1...` (X25519) or `age1pq1...` (mlkem768x25519); INVALID_KEY for anything else. */
  static parse(text: string): AgeRecipient {
    const s = requireText(text, "AgeRecipient.parse() takes the recipient").trim();
    if (looksLikeAgeIdentity(s)) {
      throw badRecipient("it is an age identity (a secret key), not a recipient; it was not used");
    }
    const kind = kindOf(s);
    if (!kind) {
      throw badRecipient(
        s.startsWith("age1tag")
          ? "age tag recipients (hardware keys) are not supported"
          : s.startsWith("ssh-")
          ? "SSH keys are not supported as recipients"
          : "it is not an age X25519 or mlkem768x25519 recipient",
      );
    }
    try {
      new Encrypter().addRecipient(s); // typage checks the bech32 checksum and the key's length
    } catch {
      throw badRecipient("its encoding is damaged (bad checksum or length)");
    }
    return new AgeRecipient(s, kind);
  }

  /** Wraps `dataKey` as a binary age file for this recipient (the context is not bound: age has no AAD). */
  async wrap(dataKey: Uint8Array, _context: EncryptionContext): Promise<WrappedKey> {
    return {
      provider: this.provider,
      keyId: this.keyId,
      wrapped: await sealForRecipient(this.keyId, this.kind, dataKey),
    };
  }

  /** Always null: a recipient holds no private key. */
  unwrap(_wrapped: WrappedKey, _context: EncryptionContext): Promise<Uint8Array | null> {
    return Promise.resolve(null);
  }
}

/**
 * An age identity (a private key), X25519 or mlkem768x25519. Its key id is
 * its recipient. It unwraps any `age` entry whose age file has a stanza for
 * it, whatever key id the entry names (the key list is not authenticated; the
 * key id only orders the attempts), returns null at once for one that has
 * none, and wraps as its recipient does.
 *
 * The secret is kept as its identity string (typage's form), which cannot be
 * wiped; drop the object when done.
 */
export class AgeIdentity implements KeyProvider {
  /** Always `age`. */
  readonly provider = AGE_PROVIDER;
  /** This identity's recipient, `age1...` or `age1pq1...`. */
  readonly keyId: string;
  /** X25519 or the mlkem768x25519 hybrid. */
  readonly kind: AgeKind;
  #identity: string;

  private constructor(identity: string, recipient: string, kind: AgeKind) {
    this.#identity = identity;
    this.keyId = recipient;
    this.kind = kind;
  }

  /** Parses `AGE-SECRET-KEY-1...` or `AGE-SECRET-KEY-PQ-1...`; INVALID_KEY (never echoing the text) otherwise. */
  static async parse(text: string): Promise<AgeIdentity> {
    const s = requireText(text, "AgeIdentity.parse() takes the identity").trim();
    const bad = (why: string) =>
      new EnvelopeError("INVALID_KEY", `Loading the age identity failed: ${why}`, {
        hint: "pass an identity file made by age-keygen or `envelope keygen --age [--pq]`",
      });
    if (!/^AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]+$/.test(s)) {
      throw bad(
        looksLikeAgeIdentity(s)
          ? "it is not an X25519 or mlkem768x25519 identity"
          : "it is not an age identity (AGE-SECRET-KEY-...)",
      );
    }
    let recipient: string;
    try {
      recipient = await identityToRecipient(s);
    } catch {
      throw bad("its encoding is damaged (bad checksum or length)");
    }
    return new AgeIdentity(s, recipient, s.startsWith("AGE-SECRET-KEY-PQ-") ? "mlkem768x25519" : "x25519");
  }

  /** A new identity: X25519, or with `pq` the mlkem768x25519 hybrid. */
  static async generate(options: { pq?: boolean } = {}): Promise<AgeIdentity> {
    return await AgeIdentity.parse(await (options.pq ? generateHybridIdentity() : generateX25519Identity()));
  }

  /** The identity line (secret), as age writes it. */
  toText(): string {
    return this.#identity;
  }

  /** Wraps `dataKey` for this identity's recipient. */
  async wrap(dataKey: Uint8Array, _context: EncryptionContext): Promise<WrappedKey> {
    return {
      provider: this.provider,
      keyId: this.keyId,
      wrapped: await sealForRecipient(this.keyId, this.kind, dataKey),
    };
  }

  /**
   * Opens an `age` entry: null when no stanza in it is for this identity;
   * HEADER_INVALID when it is not an age file; HEADER_AUTH_FAILED when a
   * stanza matched but the file did not verify, or did not hold 32 bytes.
   */
  async unwrap(wrapped: WrappedKey, _context: EncryptionContext): Promise<Uint8Array | null> {
    if (wrapped.provider !== this.provider) return null;
    // typage tries identities in order: the first tells that the header parsed, the last that ours found nothing.
    let parsed = false;
    let unmatched = false;
    const d = new Decrypter();
    d.addIdentity({ unwrapFileKey: () => (parsed = true, null) });
    d.addIdentity(this.#identity);
    d.addIdentity({ unwrapFileKey: () => (unmatched = true, null) });
    let out: Uint8Array;
    try {
      out = await d.decrypt(wrapped.wrapped);
    } catch {
      if (unmatched) return null;
      if (!parsed) {
        throw new EnvelopeError(
          "HEADER_INVALID",
          `Unwrapping with age identity ${this.keyId} failed: the wrapped key is not an age file`,
          { hint: "the file is damaged; restore it from a trusted copy" },
        );
      }
      throw this.#damaged();
    }
    if (out.length !== 32) {
      out.fill(0);
      throw this.#damaged();
    }
    return out;
  }

  #damaged(): EnvelopeError {
    return new EnvelopeError(
      "HEADER_AUTH_FAILED",
      `Unwrapping with age identity ${this.keyId} failed: the age file of the wrapped key was modified or damaged`,
      { hint: "restore the file from a trusted copy" },
    );
  }
}

/** Throws a TypeError unless `value` is a string (the caller's bug: src/errors.ts); `what` names the argument. */
function requireText(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  const kind = value === null ? "null" : value instanceof Uint8Array ? "a Uint8Array" : typeof value;
  throw new TypeError(`${what} as a string, not ${kind}`);
}

/** Lines of an age recipients or identity file: comments (#) and blank lines dropped, with their line numbers. */
function lines(text: string, fn: string): { line: number; value: string }[] {
  requireText(text, `${fn} takes the file's text`);
  if (text.length > MAX_AGE_FILE_CHARS) {
    throw new EnvelopeError("LIMIT_EXCEEDED", "Reading the age file failed: it is larger than 256 KiB", {
      hint: "pass an age recipients or identity file",
    });
  }
  return text.split(/\r?\n/).map((v, i) => ({ line: i + 1, value: v.trim() }))
    .filter((l) => l.value !== "" && !l.value.startsWith("#"));
}

/**
 * Parses an age recipients file (`age -R`): one recipient a line, `#`
 * comments and blank lines ignored. `name` is used in errors.
 */
export function parseAgeRecipients(text: string, name = "the recipients file"): AgeRecipient[] {
  const out: AgeRecipient[] = [];
  for (const { line, value } of lines(text, "parseAgeRecipients()")) {
    try {
      out.push(AgeRecipient.parse(value));
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
      throw new EnvelopeError(e.code, e.message.replace("Reading the recipient", `Reading line ${line} of ${name}`), {
        hint: e.hint,
      });
    }
  }
  if (out.length === 0) throw badRecipient("it holds no recipient", name);
  return out;
}

/**
 * Parses an age identity file (`age -i`): one identity a line, `#` comments
 * and blank lines ignored. Errors name the line, never its text.
 *
 * @example Reading what `age-keygen` writes
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgeIdentity, parseAgeIdentities } from "./age.ts";
 * const made = await AgeIdentity.generate({ pq: true });
 * const [loaded] = await parseAgeIdentities(`# public key: ${made.keyId}\n${made.toText()}\n`);
 * assert.equal(loaded.keyId, made.keyId);
 * ```
 */
export async function parseAgeIdentities(text: string, name = "the identity file"): Promise<AgeIdentity[]> {
  const out: AgeIdentity[] = [];
  for (const { line, value } of lines(text, "parseAgeIdentities()")) {
    try {
      out.push(await AgeIdentity.parse(value));
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
      throw new EnvelopeError(e.code, e.message.replace("the age identity", `line ${line} of ${name}`), {
        hint: e.hint,
      });
    }
  }
  if (out.length === 0) {
    throw new EnvelopeError("INVALID_KEY", `Loading ${name} failed: it holds no age identity`, {
      hint: "pass an identity file made by age-keygen or `envelope keygen --age [--pq]`",
    });
  }
  return out;
}

/** The text of a new identity file, as age-keygen writes it (comment lines, then the identity). */
export function ageIdentityFileText(identity: AgeIdentity, created = new Date()): string {
  return `# created: ${
    created.toISOString().replace(/\.\d{3}Z$/, "Z")
  }\n# public key: ${identity.keyId}\n${identity.toText()}\n`;
}
