/**
 * age files on the command line: `-i FILE` (identities, for decrypt and
 * rewrap), `-R FILE` (recipients, for encrypt and rewrap) and the identity
 * file `keygen --age` writes. The parsing is the library's
 * (src/keys/age.ts), loaded only when one of these flags is given.
 *
 * @module
 */
import { open, stat } from "../host/fs.ts";
import { isWindows } from "../host/process.ts";
import { EnvelopeError } from "../errors.ts";
import type { KeyProvider } from "../keys/provider.ts";
import { ioError, writeOutput } from "./files.ts";
import { warn } from "./output.ts";
import { importLater } from "../import_later.ts";

/** The largest age file read: the library's bound (256 KiB), checked before reading. */
const MAX_BYTES = 256 * 1024;

async function readAgeFile(path: string, what: string, secret: boolean): Promise<string> {
  const hint = secret
    ? "pass an identity file made by age-keygen or `envelope keygen --age`"
    : "pass an age recipients file: one age1... recipient a line";
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw ioError("Reading", path, e);
  }
  // A FIFO (`-R <(...)`) is read like a file, bounded all the same.
  if (info.isDirectory() || (info.isFile() && info.size > MAX_BYTES)) {
    throw new EnvelopeError(
      "INVALID_KEY",
      `Reading the ${what} ${path} failed: it is a folder or larger than 256 KiB`,
      {
        hint,
      },
    );
  }
  if (secret && info.isFile() && !isWindows && (info.mode & 0o077) !== 0) {
    warn(
      `the ${what} ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
  const fh = await open(path, "r").catch((e) => {
    throw ioError("Reading", path, e);
  });
  try {
    const buf = new Uint8Array(MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0 || (n += bytesRead) === buf.length) break;
    }
    if (n > MAX_BYTES) {
      throw new EnvelopeError("INVALID_KEY", `Reading the ${what} ${path} failed: it grew past 256 KiB`, { hint });
    }
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
}

/** The identities of every `-i FILE`, in order. */
export async function loadIdentityFiles(paths: readonly string[]): Promise<KeyProvider[]> {
  if (paths.length === 0) return [];
  const { parseAgeIdentities } = await importLater<typeof import("../keys/age.ts")>(import.meta.url, "../keys/age.ts");
  const out: KeyProvider[] = [];
  for (const p of paths) out.push(...await parseAgeIdentities(await readAgeFile(p, "identity file", true), p));
  return out;
}

/** The recipients of every `-R FILE`, in order. */
export async function loadRecipientFiles(paths: readonly string[]): Promise<KeyProvider[]> {
  if (paths.length === 0) return [];
  const { parseAgeRecipients } = await importLater<typeof import("../keys/age.ts")>(import.meta.url, "../keys/age.ts");
  const out: KeyProvider[] = [];
  for (const p of paths) out.push(...parseAgeRecipients(await readAgeFile(p, "recipients file", false), p));
  return out;
}

/**
 * Writes a new age identity (X25519, or the mlkem768x25519 hybrid with `pq`)
 * to `path` with mode 0600, as age-keygen lays it out; returns its recipient.
 */
export async function createIdentityFile(path: string, options: { pq: boolean; force: boolean }): Promise<string> {
  const { AgeIdentity, ageIdentityFileText } = await importLater<typeof import("../keys/age.ts")>(
    import.meta.url,
    "../keys/age.ts",
  );
  const identity = await AgeIdentity.generate({ pq: options.pq });
  const text = new TextEncoder().encode(ageIdentityFileText(identity));
  await writeOutput(
    new ReadableStream({
      start(c) {
        c.enqueue(text);
        c.close();
      },
    }),
    path,
    { force: options.force, exactMode: 0o600 },
  );
  text.fill(0);
  return identity.keyId;
}
