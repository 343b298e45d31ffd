/**
 * Turning a `node:fs` error into an {@linkcode EnvelopeError} with a stable
 * code: a full disk or quota is `NO_SPACE`, a read-only file system
 * `READ_ONLY`, everything else `IO_FAILED`, each with a hint naming what to
 * do next. Every place the CLI reads or writes a file maps its errors here,
 * so none reaches the user as "this is unexpected".
 *
 * @module
 */
import { existsSync } from "../host/fs.ts";
import { dirname, resolve } from "../host/path.ts";
import { EnvelopeError } from "../errors.ts";

/** The `code` of a `node:fs` error (`ENOENT`, `ENOSPC`...), if it has one. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The error for an output `path` whose folder does not exist, naming that
 * folder and the flag that chose the path (`-o`, `-d`); `undefined` when the
 * folder is there.
 */
export function missingFolder(action: string, path: string, flag = "-o"): EnvelopeError | undefined {
  if (existsSync(dirname(resolve(path)))) return undefined;
  const folder = dirname(path);
  const quoted = /^[\w./@%+=:,-]+$/.test(folder) ? folder : `'${folder.replaceAll("'", "'\\''")}'`;
  return new EnvelopeError("IO_FAILED", `${action} ${path} failed: the folder ${folder} does not exist`, {
    hint: `create it (mkdir -p ${quoted}) or choose another ${flag}`,
  });
}

/**
 * The typed error for `action` ("Reading", "Writing") on `path` failing with
 * the `node:fs` error `e`; an {@linkcode EnvelopeError} passes through. A
 * write that fails because the output's folder does not exist says so, with
 * `flag` (default `-o`) as the way out.
 */
export function ioError(action: string, path: string, e: unknown, flag = "-o"): EnvelopeError {
  if (e instanceof EnvelopeError) return e;
  const code = errnoCode(e);
  if (code === "ENOENT" && action === "Writing") {
    const missing = missingFolder(action, path, flag);
    if (missing) return missing;
  }
  const folder = dirname(resolve(path));
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new EnvelopeError(
        "NO_SPACE",
        `${action} ${path} failed: ${code === "EDQUOT" ? "the disk quota is used up" : "no space left on the device"}`,
        { hint: `free space on ${folder} or write elsewhere` },
      );
    case "EROFS":
      return new EnvelopeError("READ_ONLY", `${action} ${path} failed: the file system is read-only`, {
        hint: `write elsewhere, or remount ${folder} read-write`,
      });
  }
  const why = code === "ENOENT"
    ? "it does not exist"
    : code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "EISDIR"
    ? "it is a directory"
    : code === "ENOTDIR"
    ? "a folder on its path is not a directory"
    : (e as Error)?.message ?? String(e);
  return new EnvelopeError("IO_FAILED", `${action} ${path} failed: ${why}`, {
    hint: code === "EISDIR" ? "pass -d DIR to encrypt a directory" : "check the path and its permissions",
  });
}
