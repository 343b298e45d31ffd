/**
 * The envelope format vectors (tests/vectors/envelope/, made by
 * scripts/vectors/gen_envelope_vectors.ts from docs/FORMAT.md with WebCrypto):
 * every vector through every decoder — decrypt (default and concurrency 1),
 * decryptStream fed whole, in 7-byte pieces and byte by byte, and
 * openRandomAccess — must give the expected plaintext or error code. The
 * encoder must reproduce the round-trip vectors byte for byte, and the
 * library's key derivation must give the recorded values.
 */
import assert from "node:assert/strict";
import { encrypt, encryptStream } from "../src/envelope/encrypt.ts";
import { setBackendOverride } from "../src/crypto/backend.ts";
import { deriveKeys } from "../src/envelope/data_key.ts";
import { parseHeader } from "../src/format/header.ts";
import { RawDataKey } from "../src/keys/raw.ts";
import { LocalKey } from "../src/keys/local.ts";
import { inspect } from "../src/envelope/inspect.ts";
import { bytesSource, openRandomAccess } from "../src/envelope/random_access.ts";
import {
  assertCode,
  b64,
  concatBytes,
  decoders,
  drain,
  hex,
  loadVectors,
  outcome,
  sha256Hex,
  streamOf,
  vectorOptions,
  withSalt,
} from "./support/envelope_harness.ts";

const vectors = await loadVectors();

/**
 * Vectors that fail on a known, reported bug (name -> bug). They still run, and fail, with the bug named in
 * the test's title, so the fix turns them green; remove the entry then. Empty while no bug is open.
 */
const KNOWN_BUGS: Record<string, string> = {};

Deno.test("the vector set is complete: every case the format's decoder rules name is there", () => {
  const names = new Set(vectors.map((v) => v.name));
  for (
    const n of [
      "ok_empty",
      "ok_one_byte",
      "ok_one_full_chunk",
      "ok_one_chunk_plus_one",
      "ok_three_full_chunks",
      "ok_2cs_plus_500_default",
      "last_flag_missing",
      "chunk_swapped",
      "chunk_duplicated",
      "trailing_bytes_after_full_final_chunk",
      "trailing_whole_chunk",
      "truncated_at_chunk_boundary",
      "truncated_mid_chunk",
      "tampered_chunk_size",
      "tampered_salt",
      "tampered_context_value_raw",
      "tampered_commitment",
      "tampered_header_tag",
      "wrapped_key_from_other_message",
      "wrapped_key_replaced_other_data_key",
      "wrong_magic",
      "version_2",
      "context_unsorted",
      "context_key_over_limit",
      "key_count_zero",
      "context_mismatch_value",
      "empty_final_chunk_after_full_chunks",
      "ok_derived_values",
    ]
  ) assert.ok(names.has(n), `missing vector ${n}`);
  const codes = new Set(vectors.map((v) => v.expect));
  for (
    const c of [
      "success",
      "FORMAT_UNKNOWN",
      "UNSUPPORTED_VERSION",
      "HEADER_INVALID",
      "LIMIT_EXCEEDED",
      "TRUNCATED",
      "CONTEXT_MISMATCH",
      "KEY_COMMITMENT_MISMATCH",
      "NO_KEY_MATCHED",
      "HEADER_AUTH_FAILED",
      "PAYLOAD_AUTH_FAILED",
      "TRAILING_DATA",
    ]
  ) assert.ok(codes.has(c), `no vector expects ${c}`);
});

for (const v of vectors) {
  const bug = KNOWN_BUGS[v.name] ? ` [FAILS UNTIL FIXED: bug ${KNOWN_BUGS[v.name]}]` : "";
  Deno.test(`vector ${v.name}: ${v.expect} from every decoder${bug}`, async () => {
    const message = b64(v.message);
    const problems: string[] = [];
    for (const d of decoders(message.length)) {
      const o = await outcome(async () => d.run(message, await vectorOptions(v)));
      const what = `${d.label}`;
      if (v.expect === "success") {
        if (!o.ok) {
          problems.push(`${what}: failed with ${o.code}: ${(o.error as Error).message}`);
          continue;
        }
        if (v.plaintext !== undefined) {
          if (hex(o.plaintext) !== hex(b64(v.plaintext))) problems.push(`${what}: wrong plaintext`);
        } else {
          if (o.plaintext.length !== v.plaintextLength) {
            problems.push(`${what}: ${o.plaintext.length} bytes, not ${v.plaintextLength}`);
          }
          if (await sha256Hex(o.plaintext) !== v.plaintextSha256) problems.push(`${what}: wrong plaintext SHA-256`);
        }
      } else {
        try {
          assertCode(o, v.expect, what);
        } catch (e) {
          problems.push((e as Error).message.split("\n")[0]);
        }
      }
    }
    assert.deepEqual(problems, [], `${v.name} (${v.description})`);
  });
}

/** A vector's random-access reads (the `ranges` field of tests/vectors/envelope/README.md). */
interface RangeRead {
  readonly offset: number;
  readonly length: number;
  readonly expect: string;
  readonly plaintext?: string;
}
const withRanges = vectors.filter((v) => (v as { ranges?: RangeRead[] }).ranges !== undefined);

Deno.test("the vector set has random-access range reads: partial ranges that succeed and truncations that fail", () => {
  const reads = withRanges.flatMap((v) => (v as { ranges?: RangeRead[] }).ranges!);
  assert.ok(reads.some((r) => r.expect === "success" && r.length > 0 && r.offset > 0), "no partial-range read");
  assert.ok(reads.some((r) => r.expect === "TRUNCATED"), "no truncation seen by a random-access read");
});

for (const v of withRanges) {
  Deno.test(`vector ${v.name}: every random-access range read gives its expected bytes or code`, async () => {
    const message = b64(v.message);
    const problems: string[] = [];
    for (const r of (v as { ranges?: RangeRead[] }).ranges!) {
      const what = `read(${r.offset}, ${r.length})`;
      const o = await outcome(async () => {
        const reader = await openRandomAccess(bytesSource(message), await vectorOptions(v));
        try {
          return await reader.read(r.offset, r.length);
        } finally {
          await reader.close();
        }
      });
      if (r.expect === "success") {
        if (!o.ok) problems.push(`${what}: failed with ${o.code}`);
        else if (hex(o.plaintext) !== hex(b64(r.plaintext!))) problems.push(`${what}: wrong plaintext`);
      } else {
        try {
          assertCode(o, r.expect, what);
        } catch (e) {
          problems.push((e as Error).message.split("\n")[0]);
        }
      }
    }
    assert.deepEqual(problems, [], `${v.name} (${v.description})`);
  });
}

Deno.test("encrypt and encryptStream reproduce every raw-key round-trip vector byte for byte", async () => {
  const roundTrips = vectors.filter((v) => v.expect === "success" && v.salt && !v.localKey);
  assert.ok(roundTrips.length >= 7);
  for (const v of roundTrips) {
    const message = b64(v.message);
    const pt = v.plaintext !== undefined ? b64(v.plaintext) : await decryptExpected(v.name, message);
    const opts = {
      keys: await RawDataKey.create(b64(v.dataKey)),
      chunkSize: v.chunkSize,
      context: v.context,
      ...withSalt(b64(v.salt!)),
    };
    // Every backend: a one-chunk message the core seals takes a path of its own (straight into the output).
    try {
      for (const backend of ["wasm", "webcrypto", "auto"] as const) {
        setBackendOverride(backend);
        assert.equal(hex(await encrypt(pt, opts)), hex(message), `${v.name}: encrypt, ${backend} backend`);
      }
    } finally {
      setBackendOverride("auto");
    }
    const streamed = await drain(streamOf(pt, 1000).pipeThrough(encryptStream(opts)));
    assert.equal(streamed.error, undefined);
    assert.equal(hex(concatBytes(streamed.parts)), hex(message), `${v.name}: encryptStream`);
  }
});

async function decryptExpected(name: string, message: Uint8Array): Promise<Uint8Array> {
  const v = vectors.find((x) => x.name === name)!;
  const o = await outcome(async () =>
    (await import("../src/envelope/decrypt.ts")).decrypt(message, await vectorOptions(v))
  );
  assert.ok(o.ok);
  assert.equal(await sha256Hex(o.plaintext), v.plaintextSha256);
  return o.plaintext;
}

Deno.test("the library derives the recorded commitment, header key, payload key, key ids and header tag", async () => {
  const v = vectors.find((x) => x.derived)!;
  assert.ok(v, "one vector records derived values");
  const d = v.derived!;
  const header = parseHeader(b64(v.message));
  assert.equal(hex(header.salt), hex(b64(v.salt!)));
  assert.equal(hex(header.core), d.core);
  assert.equal(hex(header.commitment), d.commitment);
  assert.equal(hex(header.headerTag), d.headerTag);
  const keys = await deriveKeys(b64(v.dataKey), header.salt);
  assert.equal(hex(keys.commitment), d.commitment);
  assert.equal(hex(keys.headerKey), d.headerKey);
  assert.equal(hex(keys.payloadKey), d.payloadKey);
  assert.equal((await RawDataKey.create(b64(v.dataKey))).keyId, d.rawKeyId);
  assert.deepEqual(header.keys.map((k) => k.keyId), [d.rawKeyId]);
  const local = vectors.find((x) => x.name === "ok_local")!;
  assert.equal((await LocalKey.fromText(local.localKey!)).keyId, d.localKeyId);
  assert.equal((await inspect(b64(local.message))).keys[0].keyId, d.localKeyId);
});

Deno.test("inspect reads every vector whose header is well formed, and names the same failure as decrypt otherwise", async () => {
  for (const v of vectors) {
    const o = await outcome(async () => {
      await inspect(b64(v.message));
      return new Uint8Array(0);
    });
    const headerCodes = ["FORMAT_UNKNOWN", "UNSUPPORTED_VERSION", "HEADER_INVALID", "LIMIT_EXCEEDED"];
    if (headerCodes.includes(v.expect)) assertCode(o, v.expect, `inspect ${v.name}`);
    else if (
      ["truncated_inside_header", "truncated_inside_key_list", "truncated_inside_magic", "empty_input"].includes(v.name)
    ) {
      assertCode(o, "TRUNCATED", `inspect ${v.name}`);
    } else assert.ok(o.ok, `inspect ${v.name}: ${o.ok ? "" : o.code}`);
  }
});
