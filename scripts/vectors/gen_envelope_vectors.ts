/**
 * Writes the envelope format vectors: `tests/vectors/envelope/<case>.json`
 * and the README that says how each was made.
 *
 *     deno run -A scripts/vectors/gen_envelope_vectors.ts
 *
 * The case table: each case builds its message with the reference encoder
 * (envelope_reference.ts), written from docs/FORMAT.md alone, with WebCrypto
 * (`crypto.subtle`: AES-256-GCM, HMAC-SHA256, HKDF-SHA256) and none of the
 * library's encoder or crypto core, so the vectors check the library against
 * a second reading of the spec. Every input is fixed (keys, salts and local
 * wrap nonces are SHA-256 of a label), so running it again writes the same
 * bytes. The expected outcome of each case is what the spec's decoding rules
 * (§8) say, not what the library happens to do.
 *
 * @module
 */
import {
  b64,
  b64big,
  build,
  type Bytes,
  EMPTY,
  encodeContext,
  type Entry,
  fixed,
  hex,
  hkdf,
  join,
  keyFileText,
  keyList,
  localEntry,
  localEntryV2,
  localKeyId,
  MAGIC,
  nonce,
  type Pair,
  type Parts,
  plaintext,
  rawEntry,
  sealChunk,
  sha256,
  sortedPairs,
  te,
  u32,
  u8,
} from "./envelope_reference.ts";

// ---------------------------------------------------------------- cases

interface Vector {
  description: string;
  dataKey: string;
  localKey?: string;
  context?: Record<string, string>;
  requiredContext?: Record<string, string>;
  chunkSize: number;
  message: string;
  plaintext?: string;
  plaintextSha256?: string;
  plaintextLength?: number;
  salt?: string;
  derived?: Record<string, string>;
  ranges?: RangeRead[];
  expect: string;
}
/** One random-access read: open the message, read `length` bytes at `offset`, expect that plaintext or code. */
interface RangeRead {
  offset: number;
  length: number;
  expect: string;
  plaintext?: string;
}
interface Case {
  name: string;
  /** How the message was made, for the README. */
  how: string;
  vector: Vector;
}

const cases: Case[] = [];
const DK = await fixed("data key A");
const DK_B = await fixed("data key B");
const KEK = await fixed("local key A");
const KEK_B = await fixed("local key B");
const CTX = { purpose: "vectors", tenant: "acme" };

/** Records a vector; `plaintext` is stored in full under 64 KiB, else by hash and length. */
async function add(
  name: string,
  how: string,
  o: {
    parts: Parts | Bytes;
    expect: string;
    chunkSize: number;
    plaintext?: Uint8Array;
    dk?: Uint8Array;
    kek?: Uint8Array;
    context?: Record<string, string>;
    requiredContext?: Record<string, string>;
    salt?: Uint8Array;
    derived?: Record<string, string>;
    ranges?: RangeRead[];
  },
) {
  const message = o.parts instanceof Uint8Array ? o.parts : join(o.parts);
  const v: Vector = {
    description: how,
    dataKey: b64(o.dk ?? DK),
    ...(o.kek ? { localKey: keyFileText(o.kek) } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(o.requiredContext ? { requiredContext: o.requiredContext } : {}),
    chunkSize: o.chunkSize,
    message: b64big(message),
    expect: o.expect,
  };
  if (o.plaintext) {
    if (o.plaintext.length <= 65536) v.plaintext = b64big(o.plaintext);
    else {
      v.plaintextSha256 = hex(await sha256(o.plaintext));
      v.plaintextLength = o.plaintext.length;
    }
  }
  if (o.salt) v.salt = b64(o.salt);
  if (o.derived) v.derived = o.derived;
  if (o.ranges) v.ranges = o.ranges;
  // Keep the key order of the documented shape.
  const ordered: Vector = {
    description: v.description,
    dataKey: v.dataKey,
    ...(v.localKey ? { localKey: v.localKey } : {}),
    ...(v.context ? { context: v.context } : {}),
    ...(v.requiredContext ? { requiredContext: v.requiredContext } : {}),
    chunkSize: v.chunkSize,
    ...(v.salt ? { salt: v.salt } : {}),
    message: v.message,
    ...(v.plaintext !== undefined ? { plaintext: v.plaintext } : {}),
    ...(v.plaintextSha256 ? { plaintextSha256: v.plaintextSha256, plaintextLength: v.plaintextLength } : {}),
    ...(v.derived ? { derived: v.derived } : {}),
    ...(v.ranges ? { ranges: v.ranges } : {}),
    expect: v.expect,
  };
  if (cases.some((c) => c.name === name)) throw new Error(`duplicate case ${name}`);
  cases.push({ name, how, vector: ordered });
}

const salt = (name: string) => fixed(`salt ${name}`);
const wrapNonce = async (name: string) => (await fixed(`wrap nonce ${name}`)).subarray(0, 12);

// --- round trips (raw data key: the encoder needs no randomness besides the salt)

for (
  const [name, len, cs, what] of [
    ["ok_empty", 0, 64, "the empty plaintext: one final chunk of 16 bytes (tag only), flagged last"],
    ["ok_one_byte", 1, 64, "one byte"],
    [
      "ok_one_full_chunk",
      64,
      64,
      "exactly one full chunk (64 bytes at chunk size 64): one full final chunk, flagged last",
    ],
    ["ok_one_chunk_plus_one", 65, 64, "one chunk + 1 byte: a full chunk, then a 1-byte final chunk"],
    [
      "ok_three_full_chunks",
      192,
      64,
      "exactly 3 chunks (192 bytes at chunk size 64): the third chunk is full and flagged last",
    ],
    [
      "ok_2cs_plus_500_cs1024",
      2548,
      1024,
      "2 x chunk size + 500 bytes at chunk size 1024: two full chunks and a 500-byte final chunk",
    ],
    [
      "ok_2cs_plus_500_default",
      2 * 65536 + 500,
      65536,
      "2 x 64 KiB + 500 bytes at the default chunk size (plaintext given by SHA-256 and length)",
    ],
  ] as const
) {
  const s = await salt(name);
  const pt = await plaintext(name, len);
  await add(name, `Round trip: ${what}. Raw data key, empty context.`, {
    parts: await build({ dk: DK, salt: s, chunkSize: cs, plaintext: pt }),
    expect: "success",
    chunkSize: cs,
    plaintext: pt,
    salt: s,
  });
}

{
  const name = "ok_300_chunks";
  const s = await salt(name);
  const pt = await plaintext(name, 300 * 64 + 10);
  await add(
    name,
    "Round trip: 301 chunks at chunk size 64 (300 full and a 10-byte final chunk), so chunk counters pass 255 and the nonce's second-lowest counter byte is used (big-endian u88). Raw data key.",
    {
      parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt }),
      expect: "success",
      chunkSize: 64,
      plaintext: pt,
      salt: s,
    },
  );
}

// One case with every derived value, for another implementation to check its HKDF labels.
{
  const name = "ok_derived_values";
  const s = await salt(name);
  const pt = te.encode("envelope format v1");
  const p = await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, context: CTX });
  const wrapKey = await hkdf(KEK, EMPTY, "envelope v1 local wrap", 32);
  await add(
    name,
    "Round trip with a context and every intermediate value recorded (hex): commitment, header key, payload key, header tag, the raw key id, and for the local key A the key id and wrap key (HKDF with an empty salt).",
    {
      parts: p,
      expect: "success",
      chunkSize: 64,
      plaintext: pt,
      context: CTX,
      salt: s,
      derived: {
        commitment: hex(p.derived.commitment),
        headerKey: hex(p.derived.headerKey),
        payloadKey: hex(p.derived.payloadKey),
        headerTag: hex(p.tag),
        core: hex(p.core),
        rawKeyId: hex(await hkdf(DK, EMPTY, "envelope v1 raw key id", 8)),
        localKeyId: await localKeyId(KEK),
        localWrapKey: hex(wrapKey),
        chunk0Nonce: hex(nonce(0, true)),
      },
    },
  );
}

// --- local keys

async function localMessage(
  name: string,
  o: { len?: number; ctx?: Record<string, string>; dk?: Uint8Array; kek?: Uint8Array } = {},
) {
  const dk = o.dk ?? DK;
  const ctx = o.ctx ?? CTX;
  const s = await salt(name);
  const pt = await plaintext(name, o.len ?? 160);
  const entry = await localEntry(o.kek ?? KEK, dk, encodeContext(sortedPairs(ctx)), await wrapNonce(name));
  const parts = await build({ dk, salt: s, chunkSize: 64, plaintext: pt, context: ctx, entries: [entry] });
  return { parts, pt, entry, salt: s };
}

{
  const m = await localMessage("ok_local");
  await add(
    "ok_local",
    "Round trip under local key A (wrap nonce fixed), context {purpose, tenant}, 160 bytes at chunk size 64.",
    {
      parts: m.parts,
      expect: "success",
      chunkSize: 64,
      plaintext: m.pt,
      kek: KEK,
      context: CTX,
    },
  );
}
{
  const name = "ok_local_wrap_v2";
  const s = await salt(name);
  const pt = await plaintext(name, 160);
  const wrapSalt = await salt(`${name} wrap`);
  const entry = await localEntryV2(KEK, DK, encodeContext(sortedPairs(CTX)), wrapSalt);
  const parts = await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, context: CTX, entries: [entry] });
  await add(name, "Round trip under local key A with a version-2 wrap (81 bytes: 0x02, wrap salt, sealed key).", {
    parts,
    expect: "success",
    chunkSize: 64,
    plaintext: pt,
    kek: KEK,
    context: CTX,
  });
}
{
  const name = "ok_local_second_entry";
  const s = await salt(name);
  const pt = await plaintext(name, 100);
  const ctx = { "é": "ü", "a": "", "Z": "snow ☃" };
  const ce = encodeContext(sortedPairs(ctx));
  const parts = await build({
    dk: DK,
    salt: s,
    chunkSize: 64,
    plaintext: pt,
    context: ctx,
    entries: [
      await localEntry(KEK_B, DK, ce, await wrapNonce(`${name} b`)),
      await localEntry(KEK, DK, ce, await wrapNonce(name)),
    ],
  });
  await add(
    name,
    "Two local entries (key B first, then key A) for one data key; decrypted with key A only, so the first entry is 'not mine'. Non-ASCII context keys and values, an empty value.",
    { parts, expect: "success", chunkSize: 64, plaintext: pt, kek: KEK, context: ctx },
  );
}
{
  const name = "ok_unknown_provider_first";
  const s = await salt(name);
  const pt = await plaintext(name, 70);
  const ce = encodeContext(sortedPairs(CTX));
  const foreign: Entry = {
    provider: te.encode("aws-kms"),
    keyId: te.encode("arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"),
    wrapped: await plaintext(`${name} blob`, 184),
  };
  const parts = await build({
    dk: DK,
    salt: s,
    chunkSize: 64,
    plaintext: pt,
    context: CTX,
    entries: [foreign, await localEntry(KEK, DK, ce, await wrapNonce(name))],
  });
  await add(
    name,
    "An `aws-kms` entry (made-up ARN and 184-byte blob) before the local key A entry: decrypting with key A alone skips the entry it does not own.",
    { parts, expect: "success", chunkSize: 64, plaintext: pt, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("ok_required_context");
  await add(
    "ok_required_context",
    "Local key A; the caller requires exactly the stored context, given in another key order.",
    {
      parts: m.parts,
      expect: "success",
      chunkSize: 64,
      plaintext: m.pt,
      kek: KEK,
      context: CTX,
      requiredContext: { tenant: "acme", purpose: "vectors" },
    },
  );
}

// --- payload failures (raw key, 3 chunks of 64 unless said)

async function three(name: string, len = 192) {
  const s = await salt(name);
  const pt = await plaintext(name, len);
  return { parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt }), pt, s };
}

{
  const m = await three("last_flag_missing");
  m.parts.chunks[2] = await sealChunk(m.parts.derived.payloadKey, 2, false, m.pt.subarray(128));
  await add(
    "last_flag_missing",
    "3 full chunks; the final chunk re-sealed under the payload key with last flag 0, so no chunk is flagged last.",
    {
      parts: m.parts,
      expect: "TRUNCATED",
      chunkSize: 64,
    },
  );
}
{
  const m = await three("chunk_swapped");
  [m.parts.chunks[0], m.parts.chunks[1]] = [m.parts.chunks[1], m.parts.chunks[0]];
  await add("chunk_swapped", "3 full chunks with chunks 0 and 1 swapped.", {
    parts: m.parts,
    expect: "PAYLOAD_AUTH_FAILED",
    chunkSize: 64,
  });
}
{
  const m = await three("chunk_duplicated");
  m.parts.chunks.splice(1, 0, m.parts.chunks[0]);
  await add("chunk_duplicated", "3 full chunks with chunk 0 written twice (so it stands at index 1 too).", {
    parts: m.parts,
    expect: "PAYLOAD_AUTH_FAILED",
    chunkSize: 64,
  });
}
{
  const m = await three("final_chunk_duplicated");
  m.parts.chunks.push(m.parts.chunks[2]);
  await add(
    "final_chunk_duplicated",
    "3 full chunks with the final chunk written twice: chunk 2 (flagged last) is followed by more data.",
    { parts: m.parts, expect: "TRAILING_DATA", chunkSize: 64 },
  );
}
{
  const m = await three("trailing_bytes_after_full_final_chunk");
  m.parts.chunks.push(te.encode("extra"));
  await add(
    "trailing_bytes_after_full_final_chunk",
    "3 full chunks, then 5 bytes (`extra`) appended after the final chunk (which is full-size, so the decoder can see that it was flagged last).",
    { parts: m.parts, expect: "TRAILING_DATA", chunkSize: 64 },
  );
}
{
  const m = await three("trailing_block_after_full_final_chunk");
  m.parts.chunks.push(new Uint8Array(40).fill(0xa5));
  await add(
    "trailing_block_after_full_final_chunk",
    "3 full chunks, then 40 bytes of 0xa5 appended (long enough to look like a chunk).",
    { parts: m.parts, expect: "TRAILING_DATA", chunkSize: 64 },
  );
}
{
  const m = await three("trailing_whole_chunk");
  m.parts.chunks.push(await sealChunk(m.parts.derived.payloadKey, 3, true, new Uint8Array(64)));
  await add(
    "trailing_whole_chunk",
    "3 full chunks, then a whole authentic chunk 3 (flagged last, 64 zero bytes) appended after the real final chunk.",
    { parts: m.parts, expect: "TRAILING_DATA", chunkSize: 64 },
  );
}
{
  const name = "trailing_block_after_full_final_chunk_default_cs";
  const s = await salt(name);
  const pt = await plaintext(name, 2 * 65536);
  const p = await build({ dk: DK, salt: s, chunkSize: 65536, plaintext: pt });
  p.chunks.push(new Uint8Array(40).fill(0xa5));
  await add(
    name,
    "As trailing_block_after_full_final_chunk at the default chunk size: 2 full 64 KiB chunks, the second flagged last, then 40 bytes of 0xa5. The first failure in chunk order is chunk 1 (flagged last, more data follows).",
    { parts: p, expect: "TRAILING_DATA", chunkSize: 65536 },
  );
}
{
  const m = await three("trailing_bytes_after_short_final_chunk", 150);
  m.parts.chunks.push(te.encode("extra"));
  await add(
    "trailing_bytes_after_short_final_chunk",
    "150 bytes (final chunk of 22 plaintext bytes), then 5 bytes appended: the final chunk's boundary is unknown to the decoder, so it sees a 43-byte final chunk that fails authentication (§8 step 8).",
    { parts: m.parts, expect: "PAYLOAD_AUTH_FAILED", chunkSize: 64 },
  );
}
{
  const m = await three("truncated_at_chunk_boundary");
  m.parts.chunks.pop();
  await add(
    "truncated_at_chunk_boundary",
    "3 full chunks with the final chunk removed: the message ends after chunk 1, which is not flagged last.",
    {
      parts: m.parts,
      expect: "TRUNCATED",
      chunkSize: 64,
    },
  );
}
{
  const m = await three("truncated_mid_chunk");
  m.parts.chunks[2] = m.parts.chunks[2].slice(0, 40);
  await add(
    "truncated_mid_chunk",
    "3 full chunks with the final chunk cut to 40 of its 80 bytes: a 40-byte final chunk that fails authentication.",
    { parts: m.parts, expect: "PAYLOAD_AUTH_FAILED", chunkSize: 64 },
  );
}
{
  const m = await three("truncated_inside_tag");
  m.parts.chunks[2] = m.parts.chunks[2].slice(0, 10);
  await add("truncated_inside_tag", "3 full chunks with the final chunk cut to 10 bytes: fewer bytes than a tag.", {
    parts: m.parts,
    expect: "TRUNCATED",
    chunkSize: 64,
  });
}
{
  const m = await three("truncated_after_header");
  m.parts.chunks = [];
  await add("truncated_after_header", "A whole header and no payload at all.", {
    parts: m.parts,
    expect: "TRUNCATED",
    chunkSize: 64,
  });
}
{
  const m = await three("truncated_inside_header");
  await add("truncated_inside_header", "The first 70 bytes of a message: the input ends inside the context.", {
    parts: join(m.parts).slice(0, 70),
    expect: "TRUNCATED",
    chunkSize: 64,
  });
}
{
  const m = await three("truncated_inside_key_list");
  const whole = join(m.parts);
  await add("truncated_inside_key_list", "A message cut 3 bytes into the key list's only entry.", {
    parts: whole.slice(0, m.parts.core.length + 32 + 4),
    expect: "TRUNCATED",
    chunkSize: 64,
  });
}
await add("truncated_inside_magic", "The first 5 bytes of the magic and nothing else.", {
  parts: MAGIC.slice(0, 5),
  expect: "TRUNCATED",
  chunkSize: 64,
});
await add("empty_input", "No bytes at all.", { parts: new Uint8Array(0), expect: "TRUNCATED", chunkSize: 64 });
{
  const name = "empty_final_chunk_after_full_chunks";
  const s = await salt(name);
  const pt = await plaintext(name, 128);
  const p = await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt });
  p.chunks = [
    await sealChunk(p.derived.payloadKey, 0, false, pt.subarray(0, 64)),
    await sealChunk(p.derived.payloadKey, 1, false, pt.subarray(64)),
    await sealChunk(p.derived.payloadKey, 2, true, EMPTY),
  ];
  await add(
    name,
    "128 bytes at chunk size 64 written as two full chunks not flagged last and an authentic empty final chunk 2: every tag verifies, but encoders never write this (§5), so it is refused.",
    { parts: p, expect: "PAYLOAD_AUTH_FAILED", chunkSize: 64 },
  );
}
{
  const m = await three("payload_bit_flipped");
  m.parts.chunks[1][5] ^= 0x01;
  await add("payload_bit_flipped", "3 full chunks with one bit of chunk 1's ciphertext flipped.", {
    parts: m.parts,
    expect: "PAYLOAD_AUTH_FAILED",
    chunkSize: 64,
  });
}

// --- header fields tampered after the header was made

/** Offsets inside the core: magic 8, version 1, suite 1, chunk size 4, salt 32, context, commitment 32. */
const CS_AT = 10, SALT_AT = 14;

{
  const m = await localMessage("tampered_chunk_size");
  m.parts.core.set(u32(65), CS_AT);
  await add(
    "tampered_chunk_size",
    "Local key A, 160 bytes at chunk size 64, with the header's chunk size changed to 65 (the 208-byte payload still splits at 65: two 81-byte chunks and a 46-byte final chunk). The commitment still matches, the header tag does not.",
    { parts: m.parts, expect: "HEADER_AUTH_FAILED", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("tampered_chunk_size_layout");
  m.parts.core.set(u32(84), CS_AT);
  await add(
    "tampered_chunk_size_layout",
    "As tampered_chunk_size, with the chunk size changed to 84: at 84 the 208-byte payload would end in an 8-byte final chunk, shorter than a tag. §8 checks the header tag (step 7) before any chunk (step 8), so the header fails first.",
    { parts: m.parts, expect: "HEADER_AUTH_FAILED", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("chunk_size_over_limit");
  m.parts.core.set(u32(16 * 1024 * 1024 + 1), CS_AT);
  await add("chunk_size_over_limit", "Local key A with the header's chunk size changed to 16 MiB + 1.", {
    parts: m.parts,
    expect: "LIMIT_EXCEEDED",
    chunkSize: 64,
    kek: KEK,
  });
}
{
  const m = await localMessage("chunk_size_under_limit");
  m.parts.core.set(u32(63), CS_AT);
  await add("chunk_size_under_limit", "Local key A with the header's chunk size changed to 63.", {
    parts: m.parts,
    expect: "LIMIT_EXCEEDED",
    chunkSize: 64,
    kek: KEK,
  });
}
{
  const m = await localMessage("tampered_salt");
  m.parts.core[SALT_AT + 7] ^= 0x40;
  await add(
    "tampered_salt",
    "Local key A with one bit of the salt flipped: the wrapped key opens to the right data key, but the commitment derived with the changed salt differs from the stored one.",
    { parts: m.parts, expect: "KEY_COMMITMENT_MISMATCH", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("tampered_commitment");
  m.parts.core[m.parts.core.length - 1] ^= 0x01;
  await add("tampered_commitment", "Local key A with the last bit of the stored commitment flipped.", {
    parts: m.parts,
    expect: "KEY_COMMITMENT_MISMATCH",
    chunkSize: 64,
    kek: KEK,
    context: CTX,
  });
}
{
  const m = await localMessage("tampered_header_tag");
  m.parts.tag[0] ^= 0x80;
  await add("tampered_header_tag", "Local key A with the first bit of the header tag flipped.", {
    parts: m.parts,
    expect: "HEADER_AUTH_FAILED",
    chunkSize: 64,
    kek: KEK,
    context: CTX,
  });
}
{
  const name = "tampered_context_value_raw";
  const s = await salt(name);
  const pt = await plaintext(name, 100);
  const p = await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, context: { tenant: "acme" } });
  // "acme" -> "acmf": the last byte of the core before the commitment.
  p.core[p.core.length - 33] += 1;
  await add(
    name,
    "Raw data key, context {tenant: acme} changed in the header to {tenant: acmf}. The commitment does not cover the context; the header tag does.",
    { parts: p, expect: "HEADER_AUTH_FAILED", chunkSize: 64, context: { tenant: "acmf" } },
  );
}
{
  const m = await localMessage("tampered_context_value_local", { ctx: { tenant: "acme" } });
  m.parts.core[m.parts.core.length - 33] += 1;
  await add(
    "tampered_context_value_local",
    "Local key A, context {tenant: acme} changed in the header to {tenant: acmf}. The local wrap binds the context (its AAD), so the key the only entry names refuses it: the header was modified (§8 step 6), not a missing key.",
    { parts: m.parts, expect: "HEADER_AUTH_FAILED", chunkSize: 64, kek: KEK, context: { tenant: "acmf" } },
  );
}

// --- wrapped keys

{
  const m = await localMessage("wrapped_key_from_other_message");
  const other = await localMessage("wrapped_key_from_other_message other", { dk: DK_B });
  m.parts.keys = keyList([other.entry]);
  await add(
    "wrapped_key_from_other_message",
    "Local key A; the key list replaced by the local entry of another message under the same key and context (data key B): it opens, to data key B, which the commitment refuses.",
    { parts: m.parts, expect: "KEY_COMMITMENT_MISMATCH", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("wrapped_key_other_data_key");
  const forged = await localEntry(KEK, DK_B, encodeContext(sortedPairs(CTX)), await wrapNonce("forged"));
  m.parts.keys = keyList([forged, m.entry]);
  await add(
    "wrapped_key_other_data_key",
    "Local key A; a second entry spliced in front of the real one: data key B wrapped under the same local key and context. It opens to B and fails the commitment; the real entry after it still opens.",
    { parts: m.parts, expect: "success", chunkSize: 64, plaintext: m.pt, kek: KEK, context: CTX },
  );
  m.parts.keys = keyList([forged]);
  await add(
    "wrapped_key_replaced_other_data_key",
    "Local key A; the only entry replaced by data key B wrapped under the same local key and context: it opens, to a different data key.",
    { parts: m.parts, expect: "KEY_COMMITMENT_MISMATCH", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("wrapped_key_other_local_key");
  const other = await localMessage("wrapped_key_other_local_key other", { kek: KEK_B });
  m.parts.keys = keyList([other.entry]);
  await add(
    "wrapped_key_other_local_key",
    "Decrypted with local key A; the key list replaced by the entry of a message under local key B: no provider claims it.",
    { parts: m.parts, expect: "NO_KEY_MATCHED", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await localMessage("wrapped_key_bit_flipped");
  const w = m.entry.wrapped.slice();
  w[20] ^= 0x01;
  m.parts.keys = keyList([{ ...m.entry, wrapped: w }]);
  await add(
    "wrapped_key_bit_flipped",
    "Local key A with one bit of the wrapped data key flipped: the key the entry names refuses it, so the header was modified (§8 step 6), not a missing key.",
    { parts: m.parts, expect: "HEADER_AUTH_FAILED", chunkSize: 64, kek: KEK, context: CTX },
  );
}
{
  const m = await three("wrong_raw_key");
  await add(
    "wrong_raw_key",
    "A raw-key message decrypted with data key B (the `dataKey` field): the commitment refuses it.",
    {
      parts: m.parts,
      expect: "NO_KEY_MATCHED",
      chunkSize: 64,
      dk: DK_B,
    },
  );
}

// --- header structure

{
  const m = await three("wrong_magic");
  m.parts.core[1] = 0x46;
  await add("wrong_magic", "A message whose magic reads \\x89FNV\\r\\n\\x1a\\n.", {
    parts: m.parts,
    expect: "FORMAT_UNKNOWN",
    chunkSize: 64,
  });
}
await add("text_not_envelope", "Plain text, not an envelope message.", {
  parts: te.encode("hello, this is not an envelope message\n"),
  expect: "FORMAT_UNKNOWN",
  chunkSize: 64,
});
for (const [name, version, suite] of [["version_2", 2, 1], ["suite_3", 1, 3]] as const) {
  const s = await salt(name);
  const pt = await plaintext(name, 10);
  await add(name, `A well-formed message (tag computed over it) with version ${version} and suite ${suite}.`, {
    parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, version, suite }),
    expect: "UNSUPPORTED_VERSION",
    chunkSize: 64,
  });
}

// Suite 2 (signed, FORMAT.md §5.1) needs a well-formed verification key in its context, and a suite-1 message must
// not carry one (its signature was stripped). Both are refused before any key provider is called.
{
  const vk = "BA" + "A".repeat(86); // 88 characters of base64: the key's form, not a point
  for (
    const [name, suite, context, how] of [
      ["suite_2_without_verification_key", 2, { a: "1" }, "A suite-2 header whose context has no verification key."],
      [
        "suite_1_with_verification_key",
        1,
        { a: "1", "envelope:verification-key": vk },
        "A suite-1 header whose context holds envelope:verification-key: a signed message with its signature stripped.",
      ],
    ] as const
  ) {
    const s = await salt(name);
    const pt = await plaintext(name, 10);
    await add(name, how, {
      parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, suite, context }),
      expect: "SIGNATURE_INVALID",
      chunkSize: 64,
    });
  }
}

/** A message with the given context pairs written as they are; the header tag is computed over them. */
async function withPairs(name: string, pairs: Pair[], expect: string, how: string) {
  const s = await salt(name);
  const pt = await plaintext(name, 10);
  await add(name, how, {
    parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt, pairs }),
    expect,
    chunkSize: 64,
  });
}
const P = (k: string | Uint8Array, v: string | Uint8Array): Pair => [
  typeof k === "string" ? te.encode(k) : k,
  typeof v === "string" ? te.encode(v) : v,
];
await withPairs(
  "context_unsorted",
  [P("b", "1"), P("a", "2")],
  "HEADER_INVALID",
  "Context pairs written as b, a (not sorted); header tag valid.",
);
await withPairs(
  "context_duplicate_key",
  [P("a", "1"), P("a", "2")],
  "HEADER_INVALID",
  "Context key `a` written twice; header tag valid.",
);
await withPairs(
  "context_empty_key",
  [P("", "1")],
  "HEADER_INVALID",
  "A context pair with an empty key; header tag valid.",
);
await withPairs(
  "context_invalid_utf8",
  [P("a", new Uint8Array([0xc3, 0x28]))],
  "HEADER_INVALID",
  "A context value that is not UTF-8 (c3 28); header tag valid.",
);
await withPairs(
  "context_key_over_limit",
  [P("k".repeat(257), "v")],
  "LIMIT_EXCEEDED",
  "A context key of 257 bytes (limit 256).",
);
await withPairs(
  "context_value_over_limit",
  [P("k", "v".repeat(4097))],
  "LIMIT_EXCEEDED",
  "A context value of 4097 bytes (limit 4096).",
);
await withPairs(
  "context_too_many_pairs",
  Array.from({ length: 65 }, (_, i) => P(`k${String(i).padStart(2, "0")}`, "")),
  "LIMIT_EXCEEDED",
  "65 context pairs (limit 64), sorted.",
);
await withPairs(
  "context_encoded_over_limit",
  Array.from({ length: 4 }, (_, i) => P(`k${i}`, "v".repeat(4096))),
  "LIMIT_EXCEEDED",
  "4 pairs with 4096-byte values: each within its limit, the encoding 16,410 bytes (limit 16,384).",
);
{
  const m = await three("key_count_zero");
  m.parts.keys = u8(0);
  await add("key_count_zero", "A key list with count 0 and no entries.", {
    parts: m.parts,
    expect: "HEADER_INVALID",
    chunkSize: 64,
  });
}
{
  const m = await three("key_count_over_limit");
  const e = await rawEntry(DK);
  m.parts.keys = keyList(Array.from({ length: 33 }, () => e));
  await add("key_count_over_limit", "33 raw entries (limit 32).", {
    parts: m.parts,
    expect: "LIMIT_EXCEEDED",
    chunkSize: 64,
  });
}
{
  const m = await three("provider_name_invalid");
  const e = await rawEntry(DK);
  m.parts.keys = keyList([{ ...e, provider: te.encode("RAW") }]);
  await add("provider_name_invalid", "The raw entry's provider name written as `RAW` (outside [a-z0-9-]).", {
    parts: m.parts,
    expect: "HEADER_INVALID",
    chunkSize: 64,
  });
}
{
  const m = await three("provider_name_empty");
  const e = await rawEntry(DK);
  m.parts.keys = keyList([{ ...e, provider: EMPTY }]);
  await add("provider_name_empty", "The raw entry's provider name empty.", {
    parts: m.parts,
    expect: "HEADER_INVALID",
    chunkSize: 64,
  });
}
{
  const m = await three("key_id_over_limit");
  const e = await rawEntry(DK);
  m.parts.keys = keyList([{ ...e, keyId: te.encode("i".repeat(2049)) }]);
  await add("key_id_over_limit", "A key id of 2049 bytes (limit 2048).", {
    parts: m.parts,
    expect: "LIMIT_EXCEEDED",
    chunkSize: 64,
  });
}
{
  const m = await three("wrapped_over_limit");
  const e = await rawEntry(DK);
  m.parts.keys = keyList([{ ...e, wrapped: new Uint8Array(8193) }]);
  await add("wrapped_over_limit", "A wrapped key of 8193 bytes (limit 8192).", {
    parts: m.parts,
    expect: "LIMIT_EXCEEDED",
    chunkSize: 64,
  });
}

// --- the caller's required context

{
  const m = await localMessage("context_mismatch_value");
  await add(
    "context_mismatch_value",
    "Local key A, stored context {purpose, tenant: acme}; the caller requires tenant: other.",
    {
      parts: m.parts,
      expect: "CONTEXT_MISMATCH",
      chunkSize: 64,
      kek: KEK,
      context: CTX,
      requiredContext: { purpose: "vectors", tenant: "other" },
    },
  );
}
{
  const m = await localMessage("context_mismatch_missing");
  await add("context_mismatch_missing", "Local key A; the caller requires one more pair than is stored.", {
    parts: m.parts,
    expect: "CONTEXT_MISMATCH",
    chunkSize: 64,
    kek: KEK,
    context: CTX,
    requiredContext: { ...CTX, region: "eu" },
  });
}
{
  const m = await localMessage("context_mismatch_empty_required");
  await add(
    "context_mismatch_empty_required",
    "Local key A with a stored context; the caller requires the empty context.",
    {
      parts: m.parts,
      expect: "CONTEXT_MISMATCH",
      chunkSize: 64,
      kek: KEK,
      context: CTX,
      requiredContext: {},
    },
  );
}

// --- random access: partial ranges, and truncation seen by a reader that reads only the start

/** The expected outcome of reading `[offset, offset + length)` of `pt` (clipped at its end, as `read` does). */
const rangeOk = (pt: Uint8Array, offset: number, length: number): RangeRead => ({
  offset,
  length,
  expect: "success",
  plaintext: b64(pt.subarray(Math.min(offset, pt.length), Math.min(pt.length, offset + length))),
});
for (
  const [name, len, what] of [
    ["range_reads_short_final_chunk", 200, "200 bytes at chunk size 64 (3 full chunks and an 8-byte final chunk)"],
    ["range_reads_full_final_chunk", 192, "192 bytes at chunk size 64 (3 full chunks, the third flagged last)"],
  ] as const
) {
  const s = await salt(name);
  const pt = await plaintext(name, len);
  const ranges = [
    [0, 0],
    [0, 1],
    [5, 10],
    [63, 2],
    [64, 64],
    [10, 150],
    [0, len],
    [len - 1, 1],
    [len - 5, 100],
    [len, 5],
    [len + 100, 3],
  ].map(([o, n]) => rangeOk(pt, o, n));
  await add(
    name,
    `Random access: ${what}, raw data key; \`ranges\` reads the empty range, single bytes, ranges inside one chunk, across a chunk boundary, exactly one chunk, the whole plaintext, the last byte, a range past the end (clipped) and ranges at or beyond the end (empty).`,
    {
      parts: await build({ dk: DK, salt: s, chunkSize: 64, plaintext: pt }),
      expect: "success",
      chunkSize: 64,
      plaintext: pt,
      ranges,
    },
  );
}
{
  const first = (code: string): RangeRead[] => [{ offset: 0, length: 10, expect: code }, {
    offset: 64,
    length: 1,
    expect: code,
  }];
  const cut = async (name: string, f: (chunks: Bytes[]) => Bytes[], expect: string, how: string) => {
    const m = await three(name, 200);
    m.parts.chunks = f(m.parts.chunks);
    await add(name, how, { parts: m.parts, expect, chunkSize: 64, ranges: first(expect) });
  };
  await cut(
    "range_truncated_at_chunk_boundary",
    (c) => c.slice(0, 3),
    "TRUNCATED",
    "Random access to a cut message: 200 bytes at chunk size 64 with the 8-byte final chunk removed, so it ends after full chunk 2. Reading only bytes 0-9 (chunk 0, which verifies) must still fail: a random-access reader opens the final chunk before it reports anything (§8 step 8).",
  );
  await cut(
    "range_truncated_whole_chunks_missing",
    (c) => c.slice(0, 1),
    "TRUNCATED",
    "Random access to a message cut after its first chunk (chunk 0 of 4, not flagged last): reading bytes 0-9, all inside the one chunk that is there and authentic, must fail.",
  );
  await cut(
    "range_truncated_inside_final_tag",
    (c) => [...c.slice(0, 3), c[3].slice(0, 10)],
    "TRUNCATED",
    "Random access: the 24-byte final chunk cut to 10 bytes (fewer than a tag) after 3 full chunks; reading the first bytes must fail.",
  );
  await cut(
    "range_truncated_mid_chunk",
    (c) => [...c.slice(0, 2), c[2].slice(0, 40)],
    "PAYLOAD_AUTH_FAILED",
    "Random access: chunk 2 cut to 40 of its 80 bytes and the final chunk gone, so the reader sees a 40-byte final chunk that fails authentication; reading the first bytes must fail with it.",
  );
}

// ---------------------------------------------------------------- write

// `--out DIR` writes elsewhere (CI regenerates into a temporary folder and compares, to catch drift).
const outAt = Deno.args.indexOf("--out");
const dir = outAt >= 0 && Deno.args[outAt + 1]
  ? new URL(`file://${await Deno.realPath(Deno.args[outAt + 1])}/`)
  : new URL("../../tests/vectors/envelope/", import.meta.url);
await Deno.mkdir(dir, { recursive: true });
for await (const e of Deno.readDir(dir)) {
  if (e.isFile && e.name.endsWith(".json")) await Deno.remove(new URL(e.name, dir));
}
for (const c of cases) {
  await Deno.writeTextFile(new URL(`${c.name}.json`, dir), JSON.stringify(c.vector, null, 2) + "\n");
}

const rows = cases.map((c) => `| \`${c.name}.json\` | ${c.vector.expect} | ${c.how.replaceAll("|", "\\|")} |`);
const readme = `# Envelope format vectors: provenance

Written by \`scripts/vectors/gen_envelope_vectors.ts\` (\`deno run -A scripts/vectors/gen_envelope_vectors.ts\`);
running it again writes the same bytes, and CI (\`.ci/run\`) checks that: it regenerates them with \`--out <temp dir>\`
and fails on any difference from this folder. Read by \`tests/envelope_vectors_test.ts\`, which runs every vector
through the buffered (\`decrypt\`), streamed (\`decryptStream\`: whole, 7-byte pieces, and byte by byte under 10 KB) and
random-access (\`openRandomAccess\`) decoders, and each of a vector's \`ranges\` as its own random-access read.

## How they are made

The generator builds every message from \`docs/FORMAT.md\` alone: its own header and key-list encoder, and WebCrypto
(\`crypto.subtle\`: AES-256-GCM, HMAC-SHA256, HKDF-SHA256) for the crypto, not the library's encoder nor its WASM
core. So the vectors are a second, independent reading of the spec. Nothing is random: data keys, local keys, salts
and local wrap nonces are SHA-256 of fixed labels (\`envelope vectors: data key A\`, \`... salt <case>\`,
\`... wrap nonce <case>\`), plaintexts SHA-256 in counter mode over \`plaintext <case> \` and a 32-bit block number.
The \`local\` wrapped key is \`nonce(12) || GCM-Seal(HKDF(KEK, "", "envelope v1 local wrap", 32), nonce, DK,
"envelope v1 local wrap" || context-encoding)\` (§6, version 1, which decoders must keep reading);
\`ok_local_wrap_v2\` has the version-2 form, \`0x02 || wrap-salt || GCM-Seal(HKDF(KEK, wrap-salt, "envelope v1 local wrap
v2", 32), 12 zero bytes, DK, "envelope v1 local wrap v2" || context-encoding)\`.

Each \`expect\` is what the decoding rules (§8) require, in their order: magic, version and suite, lengths, context
form, the caller's context, unwrapping with the commitment, the header tag, then the chunks. Where the spec leaves
the code open, the README row says why the one given was chosen.

## Fields

| field | meaning |
| --- | --- |
| \`description\` | how the message was made |
| \`dataKey\` | base64 of the 32-byte data key; decrypt with \`RawDataKey\` of it when there is no \`localKey\` |
| \`localKey\` | the local key file text (\`ENVELOPE-LOCAL-KEY-V1:...\`); when present, decrypt with this \`LocalKey\` only |
| \`context\` | the context the message stores (informative) |
| \`requiredContext\` | the context the caller requires on decrypt (\`DecryptOptions.context\`); absent: none required |
| \`chunkSize\` | the chunk size the message was made with (the header may say otherwise when tampered) |
| \`salt\` | base64 of the salt, for round trips: \`encrypt\` with \`RawDataKey(dataKey)\` and this salt reproduces \`message\` |
| \`message\` | base64 of the message |
| \`plaintext\` | base64 of the expected plaintext (success only) |
| \`plaintextSha256\`, \`plaintextLength\` | for the large success case, instead of \`plaintext\` |
| \`derived\` | (one case) the derived values in hex, to check another implementation's HKDF labels |
| \`ranges\` | random-access reads: each \`{ offset, length, expect, plaintext? }\` opens the message with \`openRandomAccess\` and reads \`length\` bytes at \`offset\`; \`expect\` is \`success\` (then \`plaintext\` is base64 of the bytes \`read\` returns, clipped at the end) or the code opening or reading must fail with |
| \`expect\` | \`success\`, or the \`EnvelopeError\` code decoding must fail with |

## Cases

| file | expect | how it was made |
| --- | --- | --- |
${rows.join("\n")}
`;
await Deno.writeTextFile(new URL("README.md", dir), readme);
console.log(`wrote ${cases.length} vectors to ${dir.pathname}`);
