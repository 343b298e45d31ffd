/**
 * `envelope cat`: plaintext to stdout, all of it (streamed, each chunk
 * released once its tag verified) or one byte range (`--range`), read with
 * random access from a local file or an `s3://` / `oss://` object: only the
 * header, the final chunk (which authenticates the size) and the chunks that
 * cover the range are fetched, one ranged read per run of chunks.
 *
 * @module
 */
import { decryptStream } from "../../envelope/decrypt.ts";
import { openRandomAccess, type RandomAccessSource } from "../../envelope/random_access.ts";
import { EnvelopeError } from "../../errors.ts";
import { hasMagic, parseHeader, tryParseHeader } from "../../format/header.ts";
import { MAGIC } from "../../format/limits.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { parseArgs, parseContext, usageError } from "../args.ts";
import { ioError, openInput, stdoutStream } from "../files.ts";
import { peek } from "../../io/header_peek.ts";
import { KEY_FORMS } from "../keyspec.ts";
import { claimStdout, report, say, stdoutIsTerminal, terminalText } from "../output.ts";
import { dearmored } from "../armor_input.ts";
import { byteCounter } from "../batch.ts";
import { looksArmored } from "../../encoding/armor.ts";
import { readTrustFlags, TRUST_FLAGS } from "../trust_flags.ts";
import { USAGE } from "../usage.ts";
import { decryptionKeys } from "./decrypt.ts";
import type { DecryptRequest } from "../deliver.ts";
import { truncatedMagic } from "../../compat/detect.ts";
import { importLater } from "../../import_later.ts";

export const FLAGS = [
  // No -r: elsewhere -r is recursive (encrypt, decrypt), and cat reads one file.
  { name: "range", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "data-key", kind: "string" },
  { name: "require-signed", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
  ...TRUST_FLAGS,
] as const;

/** Plaintext bytes decrypted and written per step of a range. */
const WINDOW = 8 * 1024 * 1024;

/** Parses `START-END` (inclusive) or `START-`; END undefined means to the end. */
export function parseRange(text: string): { start: number; end?: number } {
  const m = /^(\d+)-(\d*)$/.exec(text);
  const start = m ? Number(m[1]) : NaN;
  const end = m && m[2] !== "" ? Number(m[2]) : undefined;
  if (!m || !Number.isSafeInteger(start) || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw usageError(
      "cat",
      `Reading --range failed: "${text}" is not START-END or START- (inclusive byte offsets, START <= END)`,
    );
  }
  return { start, end };
}

async function openSource(path: string): Promise<RandomAccessSource> {
  if (isObjectUrl(path)) {
    return await (await importLater<typeof import("../object_io.ts")>(import.meta.url, "../object_io.ts"))
      .openObjectSource(path);
  }
  const { fileSource } = await importLater<typeof import("../../io/file_source.ts")>(
    import.meta.url,
    "../../io/file_source.ts",
  );
  try {
    return await fileSource(path);
  } catch (e) {
    throw ioError("Reading", path, e);
  }
}

/** Runs `envelope cat`; returns the exit code. */
export async function catCommand(argv: readonly string[]): Promise<number> {
  const dashes = argv.indexOf("--");
  if ((dashes < 0 ? argv : argv.slice(0, dashes)).includes("-r")) {
    throw usageError(
      "cat",
      "Reading the command line failed: cat takes no -r; it writes one file's plaintext",
      "use --range START-END for bytes of it, or decrypt -r DIR for each file of a folder",
    );
  }
  const { positionals, flags } = parseArgs(argv, FLAGS, "cat");
  if (flags.help) {
    say(USAGE.cat);
    return 0;
  }
  if (positionals.length !== 1) throw usageError("cat", "Reading the command line failed: give exactly one INPUT");
  const range = flags.range === undefined ? undefined : parseRange(flags.range as string);
  const req: DecryptRequest = {
    input: positionals[0],
    specs: (flags.key as string[] | undefined) ?? [],
    dataKey: flags["data-key"] as string | undefined,
    context: parseContext(flags.context as string[] | undefined, "cat"),
    force: false,
    requireSigned: Boolean(flags["require-signed"]),
    trust: readTrustFlags(flags, "cat"),
  };
  // With --json, the report goes to stderr after the plaintext (stdout carries the data).
  claimStdout();
  let opened: { provider: string; keyId: string }[] = [];
  let written = 0;
  // The bytes of the message read: all of it without --range, the header and the chunks of the range with it.
  let read = 0;
  const done = () => {
    report({
      command: "cat",
      ok: true,
      files: [{ input: req.input, output: "-", format: "envelope", bytesIn: read, bytesOut: written, keys: opened }],
      failed: [],
      skipped: [],
      bytesIn: read,
      bytesOut: written,
    });
    return 0;
  };
  const options = (keys: Awaited<ReturnType<typeof decryptionKeys>>) => ({
    keys,
    context: req.context,
    requireSigned: req.requireSigned,
    maxAttempts: req.trust?.maxAttempts,
    onKeyOpened: (k: { provider: string; keyId: string }) => void (opened = [{ provider: k.provider, keyId: k.keyId }]),
  });
  const noKey = (names: string) =>
    new EnvelopeError("NO_KEY_MATCHED", `Decrypting ${req.input} failed: no key is available for it`, {
      hint: `its wrapped keys are ${names || "unknown"}; pass one with -k (${KEY_FORMS}) or --data-key`,
    });
  // Both reads below take at least 8 bytes unless the input ends first: a shorter head is the whole file.
  const notEnvelope = (head: Uint8Array) =>
    truncatedMagic("Reading", req.input, head) ??
      new EnvelopeError("FORMAT_UNKNOWN", `Reading ${req.input} failed: it is not an envelope message`, {
        hint: "cat reads envelope messages; decrypt the Nitro and Alibaba formats with `envelope decrypt`",
      });

  if (range === undefined) {
    if (req.input === "-") {
      throw usageError("cat", "Reading the command line failed: cat reads a file or an object URL, not stdin");
    }
    const input = await dearmored(await openInput(req.input));
    const peeked = await peek(
      input.stream,
      (h) => h.length >= 4096 || (hasMagic(h) && typeof tryParseHeader(h) !== "number"),
    );
    const parsed = hasMagic(peeked.head) ? tryParseHeader(peeked.head) : null;
    if (parsed === null) {
      await peeked.stream.cancel().catch(() => {});
      throw notEnvelope(peeked.head);
    }
    if (typeof parsed === "number" && peeked.ended) {
      await peeked.stream.cancel().catch(() => {});
      parseHeader(peeked.head); // the input ends inside its header: TRUNCATED
    }
    const headerKeys = typeof parsed === "number" ? [] : parsed.keys;
    const keys = await decryptionKeys(req, headerKeys);
    if (keys.length === 0) {
      await peeked.stream.cancel().catch(() => {});
      throw noKey(headerKeys.map((k) => `${k.provider}:${k.keyId}`).join(", "));
    }
    const counted = byteCounter();
    const consumed = byteCounter();
    await peeked.stream.pipeThrough(consumed.stream).pipeThrough(decryptStream(options(keys))).pipeThrough(
      counted.stream,
    ).pipeTo(plaintextOut());
    written = counted.bytes;
    read = consumed.bytes;
    return done();
  }

  const raw = await openSource(req.input);
  const source: typeof raw = {
    size: raw.size,
    read: async (offset, length) => {
      const bytes = await raw.read(offset, length);
      read += bytes.length;
      return bytes;
    },
    close: raw.close && (() => raw.close!()),
  };
  try {
    const head = await source.read(0, Math.min(source.size, 4096));
    if (looksArmored(head)) {
      throw new EnvelopeError("FORMAT_UNKNOWN", `Reading a range of ${req.input} failed: it is armored text`, {
        hint: "--range reads a binary message at offsets; drop --range to read an armored one whole",
      });
    }
    if (head.length < MAGIC.length || !hasMagic(head)) throw notEnvelope(head);
    const parsed = tryParseHeader(head);
    const headerKeys = typeof parsed === "number" ? [] : parsed.keys;
    const keys = await decryptionKeys(req, headerKeys);
    if (keys.length === 0) throw noKey(headerKeys.map((k) => `${k.provider}:${k.keyId}`).join(", "));
    const reader = await openRandomAccess(source, options(keys));
    try {
      const end = range.end ?? reader.size - 1;
      if (range.start >= reader.size || end >= reader.size) {
        throw new EnvelopeError(
          "RANGE_NOT_SATISFIABLE",
          `Reading bytes ${range.start}-${
            range.end ?? ""
          } of ${req.input} failed: the plaintext is ${reader.size} bytes`,
          { hint: reader.size === 0 ? "the message is empty" : `give a range within 0-${reader.size - 1}` },
        );
      }
      const writer = plaintextOut().getWriter();
      try {
        for (let o = range.start; o <= end; o += WINDOW) {
          const bytes = await reader.read(o, Math.min(WINDOW, end + 1 - o));
          await writer.write(bytes);
          written += bytes.length;
        }
        await writer.close();
      } catch (e) {
        await writer.abort(e).catch(() => {});
        throw e;
      }
    } finally {
      await reader.close();
    }
  } finally {
    await source.close?.().catch(() => {});
  }
  return done();
}

/**
 * Where the plaintext goes: stdout, and when stdout is a terminal, through
 * {@linkcode terminalText}, so a file's escape sequences are shown, not run
 * (decrypt refuses a terminal unless -o - is given; cat is for reading on one).
 */
function plaintextOut(): WritableStream<Uint8Array> {
  if (!stdoutIsTerminal()) return stdoutStream();
  const out = stdoutStream().getWriter();
  const safe = terminalText();
  return new WritableStream<Uint8Array>({
    write: (chunk) => out.write(safe(chunk)),
    async close() {
      await out.write(safe());
      await out.close();
    },
    abort: (reason) => out.abort(reason),
  });
}
