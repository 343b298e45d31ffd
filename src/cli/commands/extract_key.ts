/**
 * `envelope extract-key`: writes the raw wrapped data key (the KMS
 * CiphertextBlob) of a Nitro-enclave file, as the sample's
 * `extract_decryption_key.py` does, so `aws kms decrypt --ciphertext-blob
 * fileb://data_key.encrypted` can show that the parent instance is refused.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { looksLikeNitro, NITRO_MAX_BLOB, nitroBlobLength, nitroBytesToDecide, splitNitro } from "../../compat/nitro.ts";
import { streamOf } from "../../compat/open.ts";
import { parseArgs } from "../args.ts";
import { openInput, writeOutput } from "../files.ts";
import { peek } from "../header_peek.ts";
import { say } from "../output.ts";
import { USAGE } from "../usage.ts";

const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "force", kind: "boolean" },
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
  const peeked = await peek(input.stream, (h) => h.length >= 4 && h.length >= nitroBytesToDecide(h));
  await peeked.stream.cancel().catch(() => {});
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
  if (output !== "-") say(`wrote the ${blob.length}-byte wrapped key to ${output}`);
  return 0;
}
