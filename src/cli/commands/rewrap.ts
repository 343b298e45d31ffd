/**
 * `envelope rewrap`: a new key list, the payload copied byte for byte.
 *
 * @module
 */
import { type FileHandle, open, stat } from "../../host/fs.ts";
import { rewrapHeader } from "../../envelope/rewrap.ts";
import { EnvelopeError } from "../../errors.ts";
import { hasMagic, tryParseHeader } from "../../format/header.ts";
import { MAX_HEADER_BYTES } from "../../format/limits.ts";
import { concat } from "../../format/bytes.ts";
import type { WrappedKey } from "../../keys/provider.ts";
import { parseArgs, usageError } from "../args.ts";
import { fileHandleStream, ioError, WHOLE_MESSAGE_BYTES, writeBytes, writeOutput } from "../files.ts";
import { type FileIdentity, identityOf } from "../output_file.ts";
import { rejoin } from "../../io/header_peek.ts";
import type { ObjectSource } from "../../s3/source.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { truncatedMagic } from "../../compat/detect.ts";
import { automaticKeys, resolveKey, resolveKeys } from "../keyspec.ts";
import { loadIdentityFiles, loadRecipientFiles } from "../age_files.ts";
import { escapeControls as esc, report, say, status } from "../output.ts";
import { USAGE } from "../usage.ts";
import { looksArmored } from "../../encoding/armor.ts";
import { readTrustFlags, TRUST_FLAGS } from "../trust_flags.ts";
import { importLater } from "../../import_later.ts";

export const FLAGS = [
  { name: "key", short: "k", kind: "list" },
  { name: "remove", kind: "list" },
  { name: "replace", kind: "boolean" },
  { name: "unwrap", short: "u", kind: "list" },
  { name: "identity", short: "i", kind: "list" },
  { name: "recipients-file", short: "R", kind: "list" },
  { name: "output", short: "o", kind: "string" },
  { name: "force", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
  ...TRUST_FLAGS,
] as const;

/** Runs `envelope rewrap`; returns the exit code. */
export async function rewrapCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "rewrap");
  if (flags.help) {
    say(USAGE.rewrap);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] === "-") {
    throw usageError("rewrap", "Reading the command line failed: give exactly one INPUT file");
  }
  const inputPath = positionals[0];
  const addSpecs = (flags.key as string[] | undefined) ?? [];
  const removeSpecs = (flags.remove as string[] | undefined) ?? [];
  const recipientFiles = (flags["recipients-file"] as string[] | undefined) ?? [];
  if (addSpecs.length === 0 && removeSpecs.length === 0 && recipientFiles.length === 0) {
    throw usageError("rewrap", "Rewrapping failed: nothing to do; give -k NEWKEY and/or --remove KEY");
  }
  if (flags.replace && addSpecs.length === 0 && recipientFiles.length === 0) {
    throw usageError("rewrap", "Rewrapping failed: --replace needs at least one -k NEWKEY");
  }

  const peeked = await headOf(inputPath);
  if (!hasMagic(peeked.head)) {
    // headOf reads at least 8 bytes unless the input ends first: a shorter head is the whole file.
    const cut = truncatedMagic("Rewrapping", inputPath, peeked.head);
    if (cut) throw cut;
    throw new EnvelopeError("FORMAT_UNKNOWN", `Rewrapping ${inputPath} failed: it is not an envelope message`, {
      hint: "rewrap works on envelope files; `envelope convert` turns Nitro or Alibaba sample files into one first",
    });
  }
  const parsed = tryParseHeader(peeked.head);
  const headerKeys = typeof parsed === "number" ? [] : parsed.keys;

  const add = [...await resolveKeys(addSpecs), ...await loadRecipientFiles(recipientFiles)];
  const removeIds = new Set<string>();
  for (const spec of removeSpecs) {
    const exact = headerKeys.find((k) => `${k.provider}:${k.keyId}` === spec);
    if (exact) {
      removeIds.add(`${exact.provider}:${exact.keyId}`);
      continue;
    }
    const p = await resolveKey(spec).catch(() => null);
    const match = p && headerKeys.find((k) => k.provider === p.provider && k.keyId === p.keyId);
    if (!match) {
      throw new EnvelopeError("NO_KEY_MATCHED", `Rewrapping failed: --remove ${spec} matches no wrapped key`, {
        hint: `the wrapped keys are ${
          headerKeys.map((k) => `${k.provider}:${k.keyId}`).join(", ")
        }; name one exactly as shown`,
      });
    }
    removeIds.add(`${match.provider}:${match.keyId}`);
  }
  const unwrapSpecs = (flags.unwrap as string[] | undefined) ?? [];
  const trust = readTrustFlags(flags, "rewrap");
  // -i identities unwrap, and prove a wrap for their own recipient (docs/FORMAT.md §9 step 2).
  const identities = await loadIdentityFiles((flags.identity as string[] | undefined) ?? []);
  const unwrapKeys = unwrapSpecs.length + identities.length > 0
    ? [...await resolveKeys(unwrapSpecs), ...identities]
    : await automaticKeys(headerKeys, trust);
  const replace = Boolean(flags.replace);
  const result = await rewrapHeader(peeked.head, {
    keys: unwrapKeys,
    add,
    remove: (k: WrappedKey) => removeIds.has(`${k.provider}:${k.keyId}`) || replace,
    maxAttempts: trust.maxAttempts,
  });

  const output = (flags.output as string | undefined) ?? inputPath;
  const object = peeked.object;
  const file = peeked.file;
  // In place: -o names the input itself (by its device and inode, however the path is spelt), or no -o.
  const outStat = file && output !== inputPath && output !== "-" && !isObjectUrl(output)
    ? await stat(output).catch(() => null)
    : null;
  const inPlace = output === inputPath ||
    (file !== undefined && outStat !== null && outStat.dev === file.identity.dev && outStat.ino === file.identity.ino);
  // In place, the rewritten file keeps the original's permissions (a link's target is rewritten, beside itself; the
  // link stays a link), and only that file, unchanged since it was read, is replaced: the path is checked again just
  // before the rename (output_file.ts), so a file swapped in meanwhile (another file, a link to one) is left alone.
  const inPlaceFile = inPlace && file ? file : undefined;
  const written = {
    // Another name of the input (a hard link, ./f.envl) is replaced only with --force, as any other file.
    force: output === inputPath || Boolean(flags.force),
    exactMode: inPlaceFile ? inPlaceFile.mode & 0o777 : undefined,
    replaces: inPlaceFile?.identity,
  };
  let rest: ReadableStream<Uint8Array> | undefined;
  if (peeked.whole) {
    // A small file, read whole at the start: the new header and the payload as read then, with no stream made.
    const bytes = concat([result.header, peeked.whole.subarray(result.payloadOffset)]);
    await writeBytes(bytes, output, written);
  } else if (object && inPlace) {
    // An object rewrapped in place: the payload is copied inside the store (docs/s3.md).
    const { rewriteObjectHeader } = await importLater<typeof import("../object_io.ts")>(
      import.meta.url,
      "../object_io.ts",
    );
    const moved = await rewriteObjectHeader(object, result.header, result.payloadOffset);
    status(
      `payload ${moved.method === "copy" ? "copied inside the store" : "downloaded and uploaded again"}: ` +
        `${moved.bytesDownloaded} bytes downloaded, ${moved.bytesUploaded} uploaded, ${moved.bytesCopied} copied`,
    );
  } else if (object) {
    rest = (await importLater<typeof import("../../s3/source.ts")>(import.meta.url, "../../s3/source.ts")).sourceStream(
      object,
      { start: result.payloadOffset },
    );
  } else {
    // The payload from the handle the header was read from: the file that was read, whatever the path leads to now.
    rest = fileHandleStream(file!.handle!, result.payloadOffset, inputPath, file!.identity.size);
  }
  if (rest) await writeOutput(rejoin(result.header, rest.getReader()), output, written);
  // Key ids come from the file: escaped whole, so a newline in one cannot start a line.
  for (const a of result.added) {
    status(
      `added ${esc(`${a.provider}:${a.keyId}`)} (${
        a.via === "reencrypt"
          ? "re-encrypted inside the KMS"
          : a.via === "recipient"
          ? "wrapped here for a public-key recipient; not opened again, as no identity for it was given with -i"
          : "wrapped here"
      })`,
    );
  }
  for (const r of result.removed) status(`removed ${esc(`${r.provider}:${r.keyId}`)}`);
  status(`rewrapped ${esc(output)}`);
  const after = tryParseHeader(result.header);
  const inputSize = object ? object.size : file!.identity.size;
  const name = (k: { provider: string; keyId: string }) => ({ provider: k.provider, keyId: k.keyId });
  const bytesOut = inputSize - result.payloadOffset + result.header.length;
  report({
    command: "rewrap",
    ok: true,
    files: [{
      input: inputPath,
      output,
      format: "envelope",
      bytesIn: inputSize,
      bytesOut,
      keys: typeof after === "number" ? [] : after.keys.map(name),
    }],
    failed: [],
    skipped: [],
    bytesIn: inputSize,
    bytesOut,
    added: result.added.map((a) => ({ ...name(a), via: a.via })),
    removed: result.removed.map(name),
  });
  return 0;
}

/** The input file of a rewrap: the handle it is read through (none once read whole), its identity and mode. */
interface InputFile {
  readonly handle?: FileHandle;
  readonly identity: FileIdentity;
  readonly mode: number;
}

/**
 * The header bytes of a file, or of an s3:// / oss:// object (read with one
 * ranged GET, the open source kept for the payload); refuses stdin and other
 * inputs that cannot be read twice. A file is opened once: a small one is
 * read whole (`whole`), a larger one keeps its handle open for the payload,
 * and its device, inode, size and modification time say later whether the
 * path still leads to it.
 */
async function headOf(
  inputPath: string,
): Promise<{ head: Uint8Array; object?: ObjectSource; whole?: Uint8Array; file?: InputFile }> {
  if (isObjectUrl(inputPath)) {
    const { openObjectSource } = await importLater<typeof import("../object_io.ts")>(
      import.meta.url,
      "../object_io.ts",
    );
    const { readHeaderBytes } = await importLater<typeof import("../../s3/replace_header.ts")>(
      import.meta.url,
      "../../s3/replace_header.ts",
    );
    const object = await openObjectSource(inputPath);
    const first = await object.read(0, Math.min(object.size, 4096));
    return { head: hasMagic(first) ? await readHeaderBytes(object) : first, object };
  }
  let fh: FileHandle;
  try {
    fh = await open(inputPath, "r");
  } catch (e) {
    throw ioError("Reading", inputPath, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new EnvelopeError("IO_FAILED", `Rewrapping ${inputPath} failed: it is not a regular file`, {
        hint: "rewrap reads its input twice; copy it to a file first",
      });
    }
    const identity = identityOf(st);
    const mode = st.mode;
    const size = st.size;
    // Read with positioned reads: the whole file when small, else until the header is complete (or cannot be).
    const limit = size <= WHOLE_MESSAGE_BYTES ? size : MAX_HEADER_BYTES;
    let head = new Uint8Array(Math.min(size, limit));
    let got = 0;
    const enough = () =>
      got >= head.length ||
      (size > WHOLE_MESSAGE_BYTES && got >= 8 && (!hasMagic(head.subarray(0, got)) ||
        typeof tryParseHeader(head.subarray(0, got)) !== "number"));
    while (!enough()) {
      const { bytesRead } = await fh.read(head, got, Math.min(head.length - got, 64 * 1024), got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    head = head.subarray(0, got);
    if (looksArmored(head)) throw armoredInput(inputPath);
    if (size <= WHOLE_MESSAGE_BYTES) {
      await fh.close();
      return { head, whole: head, file: { identity, mode } };
    }
    return { head, file: { handle: fh, identity, mode } };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e instanceof EnvelopeError ? e : ioError("Reading", inputPath, e);
  }
}

function armoredInput(inputPath: string): EnvelopeError {
  return new EnvelopeError("FORMAT_UNKNOWN", `Rewrapping ${inputPath} failed: it is armored text`, {
    hint: "rewrap rewrites a binary header in place; decrypt it and encrypt again with the new keys (-a for armor)",
  });
}
