/**
 * `envelope extract-key`: writes one wrapped data key of a file as it is
 * stored, so the key's own tool can open it without envelope. For an
 * envelope file, the entry `--provider` and `--key-id` pick (an `age` entry is
 * an age file: `age -d -i IDENTITY`; an `aws-kms` one a CiphertextBlob). For a
 * Nitro-enclave file, its KMS CiphertextBlob, as the sample's
 * `extract_decryption_key.py` does, so `aws kms decrypt --ciphertext-blob
 * fileb://data_key.encrypted` can show that the parent instance is refused.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { looksLikeNitro, NITRO_MAX_BLOB, nitroBlobLength, nitroBytesToDecide, splitNitro } from "../../compat/nitro.ts";
import { streamOf } from "../../io/byte_streams.ts";
import { parseArgs } from "../args.ts";
import { openInput, writeOutput } from "../files.ts";
import { peek } from "../../io/header_peek.ts";
import { escapeControls as esc, report, say, status } from "../output.ts";
import { hasMagic, tryParseHeader } from "../../format/header.ts";
import { MAX_HEADER_BYTES } from "../../format/limits.ts";
import type { WrappedKey } from "../../keys/provider.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "force", kind: "boolean" },
  { name: "provider", kind: "string" },
  { name: "key-id", kind: "string" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** The sample's name for the extracted key. */
export const DEFAULT_KEY_FILE = "data_key.encrypted";

/** Runs `envelope extract-key`; returns the exit code. */
export async function extractKeyCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "extract-key");
  if (flags.help) {
    say(USAGE["extract-key"]);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new EnvelopeError("USAGE", "Reading the command line failed: give exactly one INPUT", {
      hint: "run `envelope extract-key --help`",
    });
  }
  const output = (flags.output as string | undefined) ?? DEFAULT_KEY_FILE;
  const input = await openInput(positionals[0]);
  const peeked = await peek(
    input.stream,
    (h) =>
      h.length >= 8 && hasMagic(h)
        ? h.length >= MAX_HEADER_BYTES || typeof tryParseHeader(h) !== "number"
        : h.length >= 4 && h.length >= nitroBytesToDecide(h),
  );
  await peeked.stream.cancel().catch(() => {});
  const provider = flags.provider as string | undefined;
  const keyId = flags["key-id"] as string | undefined;
  if (hasMagic(peeked.head)) {
    const header = tryParseHeader(peeked.head);
    if (typeof header === "number") {
      throw new EnvelopeError(
        "TRUNCATED",
        `Extracting a wrapped key from ${input.name} failed: the header is cut short`,
        {
          hint: "the file is damaged; restore it from a trusted copy",
        },
      );
    }
    const chosen = pickEntry(header.keys, provider, keyId, input.name);
    await writeOutput(streamOf(chosen.wrapped.slice()), output, { force: Boolean(flags.force) });
    reportKey(input.name, output, "envelope", chosen.wrapped.length, chosen);
    if (output !== "-") {
      status(
        `wrote the ${chosen.wrapped.length}-byte wrapped key ${esc(`${chosen.provider}:${chosen.keyId}`)} to ${
          esc(output)
        }`,
      );
      if (chosen.provider === "age") {
        status(`it is an age file of the 32-byte data key: age -d -i IDENTITY ${esc(output)}`);
      }
    }
    return 0;
  }
  if (provider !== undefined || keyId !== undefined) {
    throw new EnvelopeError(
      "USAGE",
      "Reading the command line failed: --provider and --key-id pick an envelope file's entry",
      {
        hint: "a Nitro-enclave file has one wrapped key; leave them out",
      },
    );
  }
  const notNitro = () =>
    new EnvelopeError(
      "FORMAT_UNKNOWN",
      `Extracting the wrapped key from ${input.name} failed: it is not a Nitro-enclave file`,
      {
        hint: "extract-key reads files written by envelope_encryptor.py or `envelope encrypt --format nitro`",
      },
    );
  const n = nitroBlobLength(peeked.head);
  if (n === undefined || n < 1 || n > NITRO_MAX_BLOB) throw notNitro();
  // A plausible length header: splitNitro reports a file shorter than it says, as COMPAT_INVALID.
  const { blob } = splitNitro(peeked.head);
  if (!looksLikeNitro(peeked.head)) throw notNitro();
  await writeOutput(streamOf(blob.slice()), output, { force: Boolean(flags.force) });
  const id = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(
    new TextDecoder("latin1").decode(blob),
  );
  reportKey(input.name, output, "nitro-enclave", blob.length, { provider: "aws-kms", keyId: id?.[0] ?? "" });
  if (output !== "-") status(`wrote the ${blob.length}-byte wrapped key to ${output}`);
  return 0;
}

/** The --json document of extract-key: the shape every command that writes a file reports. */
function reportKey(
  input: string,
  output: string,
  format: string,
  bytes: number,
  key: { provider: string; keyId: string },
): void {
  report({
    command: "extract-key",
    ok: true,
    files: [{
      input,
      output,
      format,
      bytesIn: bytes,
      bytesOut: bytes,
      keys: [{ provider: key.provider, keyId: key.keyId }],
    }],
    failed: [],
  });
}

/** The one entry `provider` and `keyId` (either may be absent) pick; USAGE or NO_KEY_MATCHED otherwise. */
function pickEntry(
  keys: readonly WrappedKey[],
  provider: string | undefined,
  keyId: string | undefined,
  name: string,
): WrappedKey {
  const matches = keys.filter((k) =>
    (provider === undefined || k.provider === provider) && (keyId === undefined || k.keyId === keyId)
  );
  const listed = keys.map((k) => esc(`${k.provider}:${k.keyId}`)).join(", ");
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    throw new EnvelopeError("NO_KEY_MATCHED", `Extracting a wrapped key from ${name} failed: no entry matches`, {
      hint: `its wrapped keys are ${listed}; pick one with --provider and --key-id`,
    });
  }
  throw new EnvelopeError(
    "USAGE",
    `Extracting a wrapped key from ${name} failed: ${matches.length} entries match, and one is written`,
    { hint: `its wrapped keys are ${listed}; pick one with --provider and --key-id` },
  );
}
