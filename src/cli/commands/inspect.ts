/**
 * `envelope inspect`: what a file's header says, with no key.
 *
 * @module
 */
import { inspect as inspectHeader } from "../../envelope/inspect.ts";
import { EnvelopeError } from "../../errors.ts";
import { hasMagic, tryParseHeader } from "../../format/header.ts";
import { MAGIC, MAX_HEADER_BYTES } from "../../format/limits.ts";
import { isObjectUrl } from "../../s3/url.ts";
import { parseArgs } from "../args.ts";
import { openInput } from "../files.ts";
import { peek } from "../../io/header_peek.ts";
import { escapeControls as esc, report, say } from "../output.ts";
import { dearmored } from "../armor_input.ts";
import { USAGE } from "../usage.ts";
import { importLater } from "../../import_later.ts";

export const FLAGS = [
  { name: "json", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** Runs `envelope inspect`; returns the exit code. */
export async function inspectCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "inspect");
  if (flags.help) {
    say(USAGE.inspect);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new EnvelopeError("USAGE", "Reading the command line failed: give exactly one INPUT", {
      hint: "run `envelope inspect --help`",
    });
  }
  const { head, size } = isObjectUrl(positionals[0])
    ? await objectHead(positionals[0])
    : await fileHead(positionals[0]);
  let info: Record<string, unknown>;
  if (hasMagic(head)) {
    info = { ...(await inspectHeader(head)) };
  } else {
    const { inspectCompat } = await importLater<typeof import("../compat_formats.ts")>(
      import.meta.url,
      "../compat_formats.ts",
    );
    info = await inspectCompat(head, size, positionals[0] === "-" ? "stdin" : positionals[0]);
  }
  if (flags.json) {
    // The same leading fields as every command's --json (command, ok), then the header as `inspect` shows it.
    report({ command: "inspect", ok: true, input: positionals[0], ...info });
    return 0;
  }
  say(renderInfo(info));
  return 0;
}

/** The first bytes of a file or stdin: the whole header, or 64 KiB of a compat file. */
async function fileHead(path: string): Promise<{ head: Uint8Array; size?: number }> {
  // A small file is read whole, with no stream made (files.ts OpenInputOptions.whole).
  const input = await dearmored(await openInput(path, { whole: 65536 }));
  if (input.bytes !== undefined) return { head: input.bytes, size: input.size };
  const peeked = await peek(
    input.stream,
    (h) =>
      h.length >= MAX_HEADER_BYTES || (h.length >= MAGIC.length && !hasMagic(h) && h.length >= 65536) ||
      (hasMagic(h) && typeof tryParseHeader(h) !== "number"),
  );
  await peeked.stream.cancel().catch(() => {});
  return { head: peeked.head, size: input.size };
}

/** The same for an s3:// or oss:// object: one ranged GET for any usual header. */
async function objectHead(url: string): Promise<{ head: Uint8Array; size?: number }> {
  const { openObjectSource } = await importLater<typeof import("../object_io.ts")>(import.meta.url, "../object_io.ts");
  const { readHeaderBytes } = await importLater<typeof import("../../s3/replace_header.ts")>(
    import.meta.url,
    "../../s3/replace_header.ts",
  );
  const source = await openObjectSource(url);
  try {
    const first = await source.read(0, Math.min(source.size, 4096));
    const head = hasMagic(first) ? await readHeaderBytes(source) : await source.read(0, 65536);
    return { head, size: source.size };
  } finally {
    await source.close();
  }
}

/**
 * Renders inspect's result as aligned text. Every value comes from the file,
 * so each is escaped here: `say` keeps the line breaks of the layout, and a
 * newline inside a key id must not start a line of its own.
 */
export function renderInfo(info: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(info)) {
    const label = (k + ":").padEnd(14);
    if (k === "keys" && Array.isArray(v)) {
      lines.push(`${label}${v.length}`);
      for (const key of v as { provider: string; keyId: string; wrappedBytes?: number }[]) {
        lines.push(
          `  - ${esc(key.provider)}:${esc(key.keyId)}${
            key.wrappedBytes !== undefined ? ` (${key.wrappedBytes} bytes wrapped)` : ""
          }`,
        );
      }
    } else if (k === "context" && v && typeof v === "object") {
      const entries = Object.entries(v as Record<string, string>);
      lines.push(`${label}${entries.length === 0 ? "(none)" : ""}`);
      for (const [name, value] of entries) lines.push(`  ${esc(name)}=${esc(JSON.stringify(value))}`);
    } else {
      lines.push(`${label}${esc(typeof v === "string" ? v : JSON.stringify(v) ?? String(v))}`);
    }
  }
  return lines.join("\n");
}
