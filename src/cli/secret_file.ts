/**
 * Small secret files the CLI reads (a key server's bearer token, a data key
 * file): bounded, trimmed, with a warning when other users can read them.
 *
 * @module
 */
import { open, stat } from "../host/fs.ts";
import { isWindows } from "../host/process.ts";
import { EnvelopeError } from "../errors.ts";
import { ioError } from "./files.ts";
import { warn } from "./output.ts";

const MAX_SECRET_FILE_BYTES = 4096;

/** Reads the trimmed text of a secret file of at most 4 KiB; `what` names it in messages ("the token file"). */
export async function readSecretFile(path: string, what: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw ioError("Reading", path, e);
  }
  if (!info.isFile() || info.size > MAX_SECRET_FILE_BYTES) {
    throw new EnvelopeError("INVALID_KEY", `Reading ${what} ${path} failed: it is not a small regular file`, {
      hint: `${what} holds one line of text; pass the file itself`,
    });
  }
  if (!isWindows && (info.mode & 0o077) !== 0) {
    warn(`${what} ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
  }
  const fh = await open(path, "r").catch((e) => {
    throw ioError("Reading", path, e);
  });
  try {
    const buf = new Uint8Array(MAX_SECRET_FILE_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_SECRET_FILE_BYTES) {
      throw new EnvelopeError("INVALID_KEY", `Reading ${what} ${path} failed: it grew past 4 KiB`, {
        hint: `${what} holds one line of text`,
      });
    }
    return new TextDecoder().decode(buf.subarray(0, bytesRead)).trim();
  } finally {
    await fh.close();
  }
}
