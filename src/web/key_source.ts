/// <reference lib="dom" />
/**
 * The three ways the page gets a key: a pasted data key, a key file (a local
 * key file made by `envelope keygen`, which then unwraps the data key in the
 * page, or a data key file), or a key server that receives the header and
 * answers the data key (`envelope serve-keys`, or the application's own
 * `keyRelease` handler).
 *
 * @module
 */
import { EnvelopeError, type ErrorCode, type KeyProvider, LocalKey, RawDataKey } from "../lib.ts";

/** A key to decrypt with, and for a signed message the verification key it must carry. */
export interface PageKey {
  readonly keys: KeyProvider & { dispose(): void };
  readonly verificationKey?: string;
}

const LOCAL_PREFIX = "ENVELOPE-LOCAL-KEY-V1:";
const MAX_KEY_FILE = 4096;

/** The pasted key. */
export async function pastedKey(text: string): Promise<PageKey> {
  return { keys: await RawDataKey.create(text) };
}

/** Reads a key file: a local key file or a data key file; says which. */
export async function keyFromFile(file: File): Promise<{ key: PageKey; what: string }> {
  if (file.size > MAX_KEY_FILE) {
    throw new EnvelopeError("INVALID_KEY", `Loading the key file ${file.name} failed: it is too large to be a key`, {
      hint: "choose the local.key file made by envelope keygen, or a file holding the data key",
    });
  }
  const text = (await file.text()).trim();
  if (text.startsWith(LOCAL_PREFIX)) {
    const local = await LocalKey.fromText(text);
    return { key: { keys: local }, what: `a local key file (key id ${local.keyId}): it unwraps the data key here` };
  }
  return { key: { keys: await RawDataKey.create(text) }, what: "a data key file" };
}

/** Asks a key server for the data key of the message whose header is `header`. */
export async function keyFromServer(url: string, token: string, header: Uint8Array): Promise<PageKey> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body: header as Uint8Array<ArrayBuffer>,
      headers: {
        "content-type": "application/octet-stream",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new EnvelopeError("IO_FAILED", `Asking the key server at ${url} failed: it could not be reached`, {
      hint:
        "check the address and that the key server runs; if it does, it must allow this page's origin (and this page must be allowed to connect to it)",
      cause: e,
    });
  }
  let body: { dataKey?: string; verificationKey?: string; error?: { code: string; message: string; hint?: string } };
  try {
    body = await res.json();
  } catch {
    throw new EnvelopeError(
      "IO_FAILED",
      `Asking the key server at ${url} failed: it answered ${res.status}, not JSON`,
      {
        hint: "check that the address is the key server's, not another page",
      },
    );
  }
  if (!res.ok || typeof body.dataKey !== "string") {
    const err = body.error;
    throw new EnvelopeError(
      (err?.code ?? "IO_FAILED") as ErrorCode,
      err?.message ?? `Asking the key server failed: it answered ${res.status}`,
      { hint: err?.hint ?? "ask the key server's operator" },
    );
  }
  return { keys: await RawDataKey.create(body.dataKey), verificationKey: body.verificationKey };
}
