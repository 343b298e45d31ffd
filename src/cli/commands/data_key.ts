/**
 * `envelope data-key`: prints (or writes, mode 0600) the plaintext data key of
 * a message, for operators who hand it to a page or an enclave, after every
 * check `unwrapDataKey` makes.
 *
 * @module
 */
import { unwrapDataKey } from "../../envelope/release.ts";
import { EnvelopeError } from "../../errors.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { hasMagic, tryParseHeader } from "../../format/header.ts";
import { MAX_HEADER_BYTES } from "../../format/limits.ts";
import { parseArgs, parseContext } from "../args.ts";
import { openInput, writeOutput } from "../files.ts";
import { peek } from "../../io/header_peek.ts";
import { automaticKeys, resolveKeys } from "../keyspec.ts";
import { currentVerbosity, note, report, say, status, warn } from "../output.ts";
import { readTrustFlags, TRUST_FLAGS } from "../trust_flags.ts";
import { USAGE } from "../usage.ts";

export const FLAGS = [
  { name: "output", short: "o", kind: "string" },
  { name: "key", short: "k", kind: "list" },
  { name: "context", short: "c", kind: "list" },
  { name: "require-signed", kind: "boolean" },
  { name: "force", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
  ...TRUST_FLAGS,
] as const;

/** Runs `envelope data-key`; returns the exit code. */
export async function dataKeyCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "data-key");
  if (flags.help) {
    say(USAGE["data-key"]);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new EnvelopeError("USAGE", "Reading the command line failed: give exactly one INPUT", {
      hint: "run `envelope data-key --help`",
    });
  }
  const input = await openInput(positionals[0]);
  const peeked = await peek(
    input.stream,
    (h) => h.length >= MAX_HEADER_BYTES || (hasMagic(h) && typeof tryParseHeader(h) !== "number"),
  );
  await peeked.stream.cancel().catch(() => {});
  const parsed = hasMagic(peeked.head) ? tryParseHeader(peeked.head) : 0;
  const trust = readTrustFlags(flags, "data-key");
  const specs = (flags.key as string[] | undefined) ?? [];
  const keys = specs.length > 0
    ? await resolveKeys(specs)
    : await automaticKeys(typeof parsed === "number" ? [] : parsed.keys, trust);
  if (keys.length === 0) {
    throw new EnvelopeError("NO_KEY_MATCHED", `Unwrapping the data key of ${input.name} failed: no key is available`, {
      hint: "pass the key that wrapped it with -k",
    });
  }
  const released = await unwrapDataKey(peeked.head, {
    keys,
    context: parseContext(flags.context as string[] | undefined, "data-key"),
    requireSigned: Boolean(flags["require-signed"]),
    maxAttempts: trust.maxAttempts,
  });
  const text = encodeBase64(released.dataKey) + "\n";
  released.dataKey.fill(0);
  const output = flags.output as string | undefined;
  const opened = { provider: released.provider, keyId: released.keyId };
  if (currentVerbosity().json) {
    // One document: the key is in it only when it goes to stdout, as without --json.
    const toStdout = output === undefined || output === "-";
    if (!toStdout) await writeOutput(new Blob([text]).stream(), output, { force: Boolean(flags.force), mode: 0o600 });
    report({
      command: "data-key",
      ok: true,
      input: input.name,
      output: toStdout ? "-" : output,
      dataKey: toStdout ? text.trim() : undefined,
      keys: [opened],
      verificationKey: released.verificationKey,
    });
    return 0;
  }
  if (output === undefined || output === "-") {
    warn(
      `this is the plaintext data key of ${input.name}: whoever has it can decrypt the file; prefer -o FILE (mode 0600) over the terminal`,
    );
    say(text);
  } else {
    await writeOutput(new Blob([text]).stream(), output, { force: Boolean(flags.force), mode: 0o600 });
    status(`wrote the data key of ${input.name} to ${output} (mode 0600); whoever has it can decrypt the file`);
  }
  note(`opened by ${released.provider} key ${released.keyId}`);
  if (released.verificationKey) {
    note(`the message is signed; its verification key is ${released.verificationKey}`);
  }
  return 0;
}
