/**
 * Many files to many objects and back: `encrypt -r DIR -o s3://b/prefix/`
 * writes one object per regular file (`prefix/REL.envl`), and
 * `decrypt -r s3://b/prefix/ -o DIR` writes one file per `.envl` object
 * under the prefix. Transfers run concurrently (`--jobs`, default 4), data
 * keys are shared through one {@linkcode DataKeyCache} (its default bounds:
 * five minutes, 1,000 messages, 2^32 bytes per data key; each message still
 * has its own salt and payload key), each file's outcome is printed as it
 * ends with a count across the set, and one file's failure is reported
 * without stopping the others; the exit status is 1 when any failed.
 *
 * @module
 */

import { mkdir } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DataKeyCache } from "../envelope/cache.ts";
import { decryptStream } from "../envelope/decrypt.ts";
import { encryptStream } from "../envelope/encrypt.ts";
import { EnvelopeError } from "../errors.ts";
import { tryParseHeader } from "../format/header.ts";
import type { KeyProvider } from "../keys/provider.ts";
import { storeError } from "../s3/client.ts";
import { isPrefix, objectUrl, parseObjectUrl } from "../s3/url.ts";
import { ioError, openInput, writeOutput } from "./files.ts";
import { peek } from "../io/header_peek.ts";
import { cliClient } from "./object_io.ts";
import type { UploadFlags } from "./object_flags.ts";
import { byteCounter, checkTreeOutput, finish, runAll } from "./batch.ts";
import type { KeyName } from "./batch_tally.ts";
import { countFiles, walkItems } from "./walk_files.ts";
import { note } from "./output.ts";
import { SUFFIX } from "./usage.ts";

function prefixOf(url: string, flag: string): ReturnType<typeof parseObjectUrl> {
  const loc = parseObjectUrl(url);
  if (!isPrefix(loc)) {
    throw new EnvelopeError("USAGE", `Reading ${flag} failed: ${url} is not a prefix`, {
      hint: "with -r, end the object URL with / (s3://bucket/prefix/)",
    });
  }
  return loc;
}

/** Options of {@linkcode encryptMany}. */
export interface EncryptManyOptions {
  readonly dir: string;
  readonly output: string;
  readonly keys: readonly KeyProvider[];
  readonly context: Record<string, string>;
  readonly chunkSize?: number;
  readonly sign: boolean;
  readonly force: boolean;
  readonly jobs: number;
  readonly upload: UploadFlags;
}

/** `encrypt -r DIR -o s3://b/prefix/`; returns the exit code. */
export async function encryptMany(o: EncryptManyOptions): Promise<number> {
  const loc = prefixOf(o.output, "-o");
  // Counted first for [i/N], then walked again as the run takes the files: no list of them is built.
  // A folder that cannot be read is one item, failed at its place in the run (walkItems below).
  let unreadable = 0;
  const counted = await countFiles(o.dir, { onUnreadable: () => unreadable++ });
  const files = counted.files + unreadable;
  const skipped = counted.skipped;
  if (skipped > 0) note(`skipping ${skipped} link(s) or special file(s) under ${o.dir}`);
  const cache = new DataKeyCache();
  try {
    const work = async ({ rel, unreadable }: { rel: string; unreadable?: unknown }) => {
      // A folder gone (or swapped for a link) since it was counted fails as one item; the rest go on.
      if (unreadable !== undefined) throw ioError("Reading", join(o.dir, rel), unreadable);
      const input = await openInput(join(o.dir, rel));
      const url = objectUrl({ ...loc, key: `${loc.key}${rel}${SUFFIX}` });
      const read = byteCounter();
      const written = byteCounter();
      const sealed = input.stream.pipeThrough(read.stream).pipeThrough(
        encryptStream({
          keys: o.keys,
          context: o.context,
          chunkSize: o.chunkSize,
          plaintextLength: input.size,
          sign: o.sign,
          cache,
        }),
      ).pipeThrough(written.stream);
      await writeOutput(sealed, url, { force: o.force, upload: o.upload, expectedSize: input.size });
      return {
        input: join(o.dir, rel),
        output: url,
        format: "envelope",
        bytesIn: read.bytes,
        bytesOut: written.bytes,
        keys: o.keys.map((k) => ({ provider: k.provider, keyId: k.keyId })),
      };
    };
    const items = walkItems(o.dir, {}, (rel) => ({ rel }), (rel, unreadable) => ({ rel, unreadable }));
    const tally = await runAll(items, {
      total: files,
      jobs: o.jobs,
      // Named as a file done is (its path under DIR, DIR included), as the local batches name theirs.
      name: (f) => join(o.dir, f.rel),
      work,
      verb: "encrypted",
    });
    return finish("encrypt", "encrypted", tally);
  } finally {
    await cache.clear();
  }
}

/** Options of {@linkcode decryptMany}. */
export interface DecryptManyOptions {
  readonly input: string;
  readonly outDir: string;
  readonly force: boolean;
  readonly jobs: number;
  /** The keys for a message, given its header's wrapped keys. */
  readonly keysFor: (headerKeys: readonly { provider: string; keyId: string }[]) => Promise<KeyProvider[]>;
  readonly context?: Record<string, string>;
  readonly requireSigned?: boolean;
  readonly maxAttempts?: number;
}

/** `decrypt -r s3://b/prefix/ -o DIR`; returns the exit code. */
export async function decryptMany(o: DecryptManyOptions): Promise<number> {
  const loc = prefixOf(o.input, "INPUT");
  const client = cliClient(loc.scheme);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const out = await client.send(
        new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.key, ContinuationToken: token }),
      );
      for (const c of out.Contents ?? []) if (c.Key?.endsWith(SUFFIX)) keys.push(c.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  } catch (e) {
    throw storeError("Listing", o.input, e);
  }
  const root = resolve(o.outDir);
  const cache = new DataKeyCache();
  try {
    const work = async (key: string) => {
      const url = objectUrl({ ...loc, key });
      const rel = key.slice(loc.key.length, -SUFFIX.length);
      const target = resolve(root, rel);
      // A key names the output path: it must stay inside the folder.
      if (rel === "" || rel.split("/").some((s) => s === ".." || s === "") || !target.startsWith(root + sep)) {
        throw new EnvelopeError("UNSAFE_PATH", `Decrypting ${url} failed: its key would write outside ${o.outDir}`, {
          hint: "rename the object, or decrypt it alone with -o",
        });
      }
      await mkdir(resolve(target, ".."), { recursive: true });
      // Names come from the store's listing: no link in the tree may steer them, and none at the name is followed.
      await checkTreeOutput(target, root);
      const input = await openInput(url);
      const peeked = await peek(input.stream, (h) => h.length >= 4096 || typeof tryParseHeader(h) !== "number");
      const parsed = tryParseHeader(peeked.head);
      const providers = await o.keysFor(typeof parsed === "number" ? [] : parsed.keys);
      const read = byteCounter();
      const written = byteCounter();
      let opened: KeyName[] = [];
      const plaintext = peeked.stream.pipeThrough(read.stream).pipeThrough(
        decryptStream({
          keys: providers,
          context: o.context,
          requireSigned: o.requireSigned,
          maxAttempts: o.maxAttempts,
          cache,
          onKeyOpened: (k) => void (opened = [{ provider: k.provider, keyId: k.keyId }]),
        }),
      ).pipeThrough(written.stream);
      await writeOutput(plaintext, target, { force: o.force, noFollow: true });
      return {
        input: url,
        output: relative(process.cwd(), target) || target,
        format: "envelope",
        bytesIn: read.bytes,
        bytesOut: written.bytes,
        keys: opened,
      };
    };
    // The listing is a list already (the store's pages of keys), so [i/N] is its length.
    const tally = await runAll(keys, {
      total: keys.length,
      jobs: o.jobs,
      name: (k) => objectUrl({ ...loc, key: k }),
      work,
      verb: "decrypted",
    });
    return finish("decrypt", "decrypted", tally);
  } finally {
    await cache.clear();
  }
}
