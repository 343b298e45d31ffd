/**
 * `envelope convert`: turns a Nitro-enclave or Alibaba-sample file into the
 * envelope format. The source must fully decrypt and authenticate before
 * the output appears: the output is written to a temporary file and renamed
 * only when the whole source verified. A Nitro source's HMAC verifies before
 * anything is decrypted; for stdout an Alibaba source gets a tag pass first. An Alibaba file's context becomes the
 * envelope context (kept whole under `aliyun-context` when it is not a flat
 * JSON object of strings); a Nitro file has none.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { encryptStream } from "../../envelope/encrypt.ts";
import { contextMap } from "../../compat/aliyun_gcm.ts";
import { openAliyunInput, openNitroInput, scanAliyunInput } from "../compat_inputs.ts";
import { detectFormat, formatUnknown, headForDetection } from "../../compat/detect.ts";
import { hasMagic } from "../../format/header.ts";
import { parseArgs, usageError } from "../args.ts";
import { checkWritable, openInput, writeOutput } from "../files.ts";
import { peek } from "../../io/header_peek.ts";
import { defaultEncryptKey, resolveKeys } from "../keyspec.ts";
import { note, report, say, status } from "../output.ts";
import { byteCounter } from "../batch.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "unwrap", short: "u", kind: "list" },
  { name: "data-key", kind: "string" },
  { name: "force", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** Runs `envelope convert`; returns the exit code. */
export async function convertCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "convert");
  if (flags.help) {
    say(USAGE.convert);
    return 0;
  }
  if (positionals.length !== 1) throw usageError("convert", "Reading the command line failed: give exactly one INPUT");
  const output = flags.output as string | undefined;
  if (output === undefined) throw usageError("convert", "Reading the command line failed: -o OUTPUT is required");
  const force = Boolean(flags.force);
  const source = {
    dataKey: flags["data-key"] as string | undefined,
    specs: (flags.unwrap as string[] | undefined) ?? [],
  };
  const specs = (flags.key as string[] | undefined) ?? [];
  if (output !== "-") await checkWritable(output, force);

  const inputName = positionals[0];
  const input = await openInput(inputName);
  const peeked = await headForDetection(await peek(input.stream, (h) => h.length >= 4096));
  const format = hasMagic(peeked.head) ? undefined : detectFormat(peeked.head, peeked.ended);
  if (format === undefined) {
    await peeked.stream.cancel().catch(() => {});
    if (hasMagic(peeked.head)) {
      throw new EnvelopeError(
        "FORMAT_UNKNOWN",
        `Converting ${input.name} failed: it is already in the envelope format`,
        {
          hint: "use `envelope rewrap` to change its keys",
        },
      );
    }
    throw formatUnknown(input.name, { action: "Converting", head: peeked.head, whole: peeked.ended });
  }
  const keys = specs.length > 0 ? await resolveKeys(specs) : [await defaultEncryptKey()];
  const written = byteCounter();

  if (format === "nitro") {
    // The token's HMAC verifies over the whole file before the first plaintext byte is encrypted again.
    const opened = await openNitroInput(inputName, peeked.stream, source);
    try {
      await writeOutput(opened.plaintext.pipeThrough(encryptStream({ keys })).pipeThrough(written.stream), output, {
        force,
      });
    } catch (err) {
      await opened.plaintext.cancel().catch(() => {});
      throw err;
    } finally {
      await opened.cleanup();
    }
  } else {
    const src = await scanAliyunInput(inputName, peeked.stream);
    try {
      const { map, flat } = contextMap(src.scan.context);
      if (!flat) {
        note(
          `the Alibaba context is not a flat JSON object of strings; it is kept whole as the envelope context "aliyun-context"`,
        );
      }
      // A file output is committed only when the source's tag verified at the end of the stream; stdout cannot be
      // withdrawn, so it gets a tag pass first.
      const plaintext = await openAliyunInput(src, source, output === "-");
      await writeOutput(
        plaintext.pipeThrough(encryptStream({ keys, context: map })).pipeThrough(written.stream),
        output,
        { force },
      );
    } finally {
      await src.cleanup();
    }
  }
  if (output !== "-") {
    status(`converted ${input.name} (${format === "nitro" ? "Nitro-enclave" : "Alibaba-sample"} format) to ${output}`);
  }
  report({
    command: "convert",
    ok: true,
    files: [{
      input: input.name,
      output,
      format: "envelope",
      from: format === "nitro" ? "nitro-enclave" : "aliyun-sample",
      bytesIn: input.size ?? 0,
      bytesOut: written.bytes,
      keys: keys.map((k) => ({ provider: k.provider, keyId: k.keyId })),
    }],
    failed: [],
  });
  return 0;
}
