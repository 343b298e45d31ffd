/**
 * Python's `cryptography` as an independent peer for differential tests.
 *
 * Each helper sends a whole batch of cases to one `python3` process as JSON
 * on stdin (bytes as base64) and reads one JSON answer, so a suite costs a few
 * process starts, not one per case. A missing `python3` or `cryptography`
 * fails the calling test loudly; nothing is skipped.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "../../src/encoding/base64.ts";

type Native = { toBase64?: (this: Uint8Array) => string };
const nativeTo = (Uint8Array.prototype as Native).toBase64;
const nativeFrom = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
/** Bytes travel to and from Python as standard base64 (fast on both sides). */
const enc = (b: Uint8Array): string => (nativeTo ? nativeTo.call(b) : encodeBase64(b));
const dec = (s: string): Uint8Array => (nativeFrom ? nativeFrom(s) : decodeBase64(s));

/** Runs `script` under `python3` with `input` as JSON on stdin; returns its JSON stdout. */
export async function runPython<T>(script: string, input: unknown): Promise<T> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("python3", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new Error(
      `Running python3 failed: ${err}; install python3 and its cryptography package (apt-get install python3-cryptography)`,
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`python3 peer failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

const PRELUDE = `
import sys, json
try:
    import cryptography
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.exceptions import InvalidTag
except ImportError as e:
    sys.stderr.write("the python3 cryptography package is missing: " + str(e) + "\\n")
    sys.exit(3)
req = json.load(sys.stdin)
import base64
h = base64.b64decode
def e(b):
    return base64.b64encode(b).decode("ascii")
`;

/** The version of Python's `cryptography` used as the peer. */
export async function pythonCryptographyVersion(): Promise<string> {
  return await runPython<string>(PRELUDE + "json.dump(cryptography.__version__, sys.stdout)", null);
}

/** One AES-GCM operation for Python. `data` is the plaintext (seal) or ciphertext||tag (open). */
export interface GcmCase {
  op: "seal" | "open";
  key: Uint8Array;
  iv: Uint8Array;
  aad: Uint8Array;
  data: Uint8Array;
}

const GCM_SCRIPT = PRELUDE + `
out = []
for c in req:
    key, iv, aad, data = h(c["key"]), h(c["iv"]), h(c["aad"]), h(c["data"])
    try:
        if 8 <= len(iv) <= 128:
            a = AESGCM(key)
            r = a.encrypt(iv, data, aad) if c["op"] == "seal" else a.decrypt(iv, data, aad)
        else:
            raise ValueError("python's cryptography takes GCM IVs of 8 to 128 bytes only")
        out.append(e(r))
    except InvalidTag:
        out.append(None)
json.dump(out, sys.stdout)
`;

/**
 * Runs AES-GCM cases in Python (`AESGCM`, IVs of 8 to 128 bytes). Each
 * result is the output bytes, or `null` when Python refused to open.
 */
export async function pythonGcm(cases: GcmCase[]): Promise<(Uint8Array | null)[]> {
  const res = await runPython<(string | null)[]>(
    GCM_SCRIPT,
    cases.map((c) => ({ op: c.op, key: enc(c.key), iv: enc(c.iv), aad: enc(c.aad), data: enc(c.data) })),
  );
  return res.map((r) => (r === null ? null : dec(r)));
}

/** One Fernet operation for Python. */
export type FernetCase =
  | { op: "encrypt"; key: string; data: Uint8Array; now: number; iv?: Uint8Array }
  | { op: "decrypt"; key: string; token: string; ttl?: number; now: number };

const FERNET_SCRIPT = PRELUDE + `
import os
out = []
for c in req:
    f = Fernet(c["key"])
    if c["op"] == "encrypt":
        iv = h(c["iv"]) if c.get("iv") else os.urandom(16)
        out.append({"token": f._encrypt_from_parts(h(c["data"]), c["now"], iv).decode("ascii")})
    else:
        try:
            if c.get("ttl") is None:
                pt = f.decrypt(c["token"].encode("ascii"))
            else:
                pt = f.decrypt_at_time(c["token"].encode("ascii"), c["ttl"], c["now"])
            out.append({"data": e(pt)})
        except InvalidToken:
            out.append({"error": "InvalidToken"})
json.dump(out, sys.stdout)
`;

/** A Fernet result from Python: a token, plaintext, or `InvalidToken`. */
export type FernetResult = { token: string } | { data: Uint8Array } | { error: "InvalidToken" };

/**
 * Runs Fernet cases in Python (`cryptography.fernet.Fernet`). `now` is in
 * seconds; decryption without `ttl` ignores it, as Python does.
 */
export async function pythonFernet(cases: FernetCase[]): Promise<FernetResult[]> {
  const res = await runPython<({ token: string } | { data: string } | { error: "InvalidToken" })[]>(
    FERNET_SCRIPT,
    cases.map((c) =>
      c.op === "encrypt"
        ? { op: c.op, key: c.key, data: enc(c.data), now: c.now, iv: c.iv ? enc(c.iv) : undefined }
        : { op: c.op, key: c.key, token: c.token, ttl: c.ttl, now: c.now }
    ),
  );
  return res.map((r) => ("data" in r ? { data: dec(r.data) } : r));
}

const BENCH_SCRIPT = PRELUDE + `
import time, os
out = []
for c in req["cases"]:
    f = Fernet(Fernet.generate_key())
    data = os.urandom(c["size"])
    token = f.encrypt(data)
    res = {"size": c["size"]}
    for op in ("encrypt", "decrypt"):
        fn = (lambda: f.encrypt(data)) if op == "encrypt" else (lambda: f.decrypt(token))
        fn(); fn(); fn()
        best = None
        for r in range(req["rounds"]):
            n = 0
            t0 = time.perf_counter()
            deadline = t0 + c["seconds"] / req["rounds"]
            while True:
                fn(); n += 1
                t = time.perf_counter()
                if t >= deadline:
                    break
            if best is None or n / (t - t0) > best["n"] / best["seconds"]:
                best = {"n": n, "seconds": t - t0}
        res[op] = best
    out.append(res)
json.dump({"version": cryptography.__version__, "results": out}, sys.stdout)
`;

/** Timing of Python's Fernet, measured inside Python with its own loop. */
export interface PythonFernetBench {
  version: string;
  results: { size: number; encrypt: { n: number; seconds: number }; decrypt: { n: number; seconds: number } }[];
}

/**
 * Times Python's Fernet encrypt and decrypt for each size, about `seconds`
 * each split into `rounds`, and reports the best round (as the TypeScript
 * side of the benchmark does).
 */
export async function benchPythonFernet(sizes: number[], seconds: number, rounds = 1): Promise<PythonFernetBench> {
  return await runPython<PythonFernetBench>(BENCH_SCRIPT, { rounds, cases: sizes.map((size) => ({ size, seconds })) });
}
