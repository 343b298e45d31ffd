/**
 * `envelope s3-cleanup URL`: aborts the incomplete multipart uploads under an
 * `s3://` or `oss://` prefix, what a run killed with SIGKILL leaves (a
 * SIGINT or SIGTERM aborts its own upload). Lists only with `--dry-run`.
 *
 * @module
 */
import { EnvelopeError } from "../../errors.ts";
import { abortIncompleteUploads, listIncompleteUploads } from "../../s3/cleanup.ts";
import { isObjectUrl, parseObjectUrl } from "../../s3/url.ts";
import { parseArgs } from "../args.ts";
import { escapeControls as esc, report, say, status } from "../output.ts";
import { USAGE } from "../usage.ts";
import { importLater } from "../../import_later.ts";

export const FLAGS = [
  { name: "older-than", kind: "string" },
  { name: "dry-run", kind: "boolean" },
  { name: "help", short: "h", kind: "boolean" },
] as const;

/** Runs `envelope s3-cleanup`; returns the exit code. */
export async function s3CleanupCommand(argv: readonly string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS, "s3-cleanup");
  if (flags.help) {
    say(USAGE["s3-cleanup"]);
    return 0;
  }
  if (positionals.length !== 1 || !isObjectUrl(positionals[0])) {
    throw new EnvelopeError(
      "USAGE",
      "Reading the command line failed: give one s3:// or oss:// URL (a key or a prefix)",
      {
        hint: "run `envelope s3-cleanup --help`",
      },
    );
  }
  const text = flags["older-than"] as string | undefined;
  if (text !== undefined && !/^\d+$/.test(text)) {
    throw new EnvelopeError("USAGE", `Reading --older-than failed: "${text}" is not a whole number of seconds`, {
      hint: "run `envelope s3-cleanup --help`",
    });
  }
  const loc = parseObjectUrl(positionals[0]);
  const { cliClient } = await importLater<typeof import("../object_io.ts")>(import.meta.url, "../object_io.ts");
  const client = cliClient(loc.scheme);
  const olderThanMs = Number(text ?? 0) * 1000;
  const found = flags["dry-run"]
    ? (await listIncompleteUploads(loc, { client })).filter((u) =>
      u.initiated === undefined || u.initiated <= Date.now() - olderThanMs
    )
    : await abortIncompleteUploads(loc, { client, olderThanMs });
  report({
    command: "s3-cleanup",
    ok: true,
    dryRun: Boolean(flags["dry-run"]),
    uploads: found.map((u) => ({
      url: `${loc.scheme}://${loc.bucket}/${u.key}`,
      uploadId: u.uploadId,
      initiated: u.initiated === undefined ? undefined : new Date(u.initiated).toISOString(),
    })),
  });
  for (const u of found) {
    status(
      `${flags["dry-run"] ? "incomplete" : "aborted"} ${esc(`${loc.scheme}://${loc.bucket}/${u.key}`)} (upload ${
        esc(u.uploadId.slice(0, 16))
      }…${u.initiated === undefined ? "" : `, started ${new Date(u.initiated).toISOString()}`})`,
    );
  }
  status(`${found.length} incomplete upload(s) ${flags["dry-run"] ? "found" : "aborted"} under ${esc(positionals[0])}`);
  return 0;
}
