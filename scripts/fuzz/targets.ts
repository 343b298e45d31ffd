/**
 * The parsers the fuzzer drives, each with valid seed inputs made
 * deterministically (the envelope vectors, fixed keys and IVs) and a `run`
 * that feeds one input and says what came out.
 *
 * A run either accepts the input, reporting a digest of what it produced
 * (plaintext, key id, extracted tree) that the runner compares with the
 * digest of the seed(s) the input was made from, or throws. A target is
 * `strict` when an accepted input that yields something other than its
 * seed's result is itself a finding (authenticated formats: a mutated
 * message must never decrypt to different plaintext). Targets also check
 * their own invariants and report breaks as findings: streamed plaintext
 * released before a failure must be a prefix of the original; extraction
 * must write nothing outside its folder, follow no link, and leave nothing
 * behind when it fails.
 *
 * @module
 */
import { lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { decrypt, decryptStream } from "../../src/envelope/decrypt.ts";
import { bytesSource, openRandomAccess } from "../../src/envelope/random_access.ts";
import { concat } from "../../src/format/bytes.ts";
import { RawDataKey } from "../../src/keys/raw.ts";
import { LocalKey } from "../../src/keys/local.ts";
import { loadLocalKeyFile } from "../../src/keys/local_file.ts";
import { classify, resolveKey } from "../../src/cli/keyspec.ts";
import { openNitro, sealNitro, splitNitro } from "../../src/compat/nitro.ts";
import { openAliyunStream, parseAliyun, scanAliyun, sealAliyunStream } from "../../src/compat/aliyun_gcm.ts";
import { AesGcm } from "../../src/crypto/mod.ts";
import { Fernet } from "../../src/crypto/fernet.ts";
import { withFixedRandom } from "../../src/crypto/fixed_random_internal.ts";
import { crc32, extractZip } from "../../src/archive/unzip.ts";
import { zipDirectory } from "../../src/archive/zip.ts";
import { decodeBase64 } from "../../src/encoding/base64.ts";
import type { KeyProvider } from "../../src/keys/provider.ts";
import type { LengthField, Prng } from "./mutate.ts";

/** What a run produced when it accepted the input. */
export type Accepted = { readonly digest: string } | { readonly finding: string };

/** One parser under test. */
export interface Target {
  readonly name: string;
  /** Valid inputs; mutations start from these. */
  readonly seeds: readonly Uint8Array[];
  /** The digest each seed's run gives (computed by the runner before fuzzing). */
  digests?: string[];
  /** Whether accepting a changed input with a different result is a finding. */
  readonly strict: boolean;
  /** Known length fields of a seed, for the length-extreme mutation. */
  fields(seed: Uint8Array): LengthField[];
  /** Feeds one input; throws what the parser throws. */
  run(input: Uint8Array, rng: Prng): Promise<Accepted>;
  /** Releases what the target made (temporary folders). */
  close?(): Promise<void>;
}

const te = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
/** A cheap digest of bytes: length and two CRCs (enough to tell plaintexts apart, not a security property). */
const digestOf = (b: Uint8Array) => `${b.length}:${crc32(0, b).toString(16)}:${hex(b.subarray(0, 8))}`;

async function fixed(label: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", te.encode(`envelope fuzz: ${label}`)));
}

/** A stream of `bytes` in pieces of 1 to `max` bytes, sizes from the PRNG. */
function piecewise(bytes: Uint8Array, rng: Prng, max: number): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let o = 0; o < bytes.length;) {
    const n = rng.int(1, max);
    pieces.push(bytes.slice(o, o + n));
    o += n;
  }
  return ReadableStream.from(pieces);
}

// ---------------------------------------------------------------- envelope

const VECTORS = new URL("../../tests/vectors/envelope/", import.meta.url);
const ENVELOPE_SEEDS = [
  "ok_empty",
  "ok_one_byte",
  "ok_one_chunk_plus_one",
  "ok_three_full_chunks",
  "ok_2cs_plus_500_cs1024",
  "ok_local",
  "ok_local_second_entry",
  "ok_unknown_provider_first",
  "range_reads_short_final_chunk",
];

interface EnvelopeSeeds {
  messages: Uint8Array[];
  keys: KeyProvider[];
}
let envelopeSeeds: Promise<EnvelopeSeeds> | undefined;
/** The success vectors (made from docs/FORMAT.md by the vector generator) and the keys that open them. */
function loadEnvelopeSeeds(): Promise<EnvelopeSeeds> {
  envelopeSeeds ??= (async () => {
    const messages: Uint8Array[] = [];
    let dataKey = "", localKey = "";
    for (const name of ENVELOPE_SEEDS) {
      const v = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, VECTORS)));
      messages.push(decodeBase64(v.message));
      dataKey = v.dataKey;
      if (v.localKey) localKey = v.localKey;
    }
    return { messages, keys: [await RawDataKey.create(decodeBase64(dataKey)), await LocalKey.fromText(localKey)] };
  })();
  return envelopeSeeds;
}

/** Offsets in a message's core: chunk size (u32 at 10), context pair count (u16 at 46), the first key length. */
function envelopeFields(m: Uint8Array): LengthField[] {
  const f: LengthField[] = [
    { offset: 10, width: 4, littleEndian: false },
    { offset: 46, width: 2, littleEndian: false },
  ];
  // After an empty context (count 0): commitment (32), header tag (32), key count (1), provider name length (1).
  if (m[46] === 0 && m[47] === 0) {
    f.push({ offset: 48 + 64, width: 1, littleEndian: false });
    f.push({ offset: 48 + 65, width: 1, littleEndian: false });
  }
  return f;
}

async function envelopeTarget(
  name: string,
  run: (input: Uint8Array, keys: KeyProvider[], rng: Prng, seeds: Uint8Array[]) => Promise<Accepted>,
): Promise<Target> {
  const s = await loadEnvelopeSeeds();
  return {
    name,
    seeds: s.messages,
    strict: true,
    fields: envelopeFields,
    run: (input, rng) => run(input, s.keys, rng, s.messages),
  };
}

/** Plaintexts of the envelope seeds, filled on first use (to check released prefixes). */
let envelopePlaintexts: Uint8Array[] | undefined;
async function plaintextsOf(seeds: Uint8Array[], keys: KeyProvider[]): Promise<Uint8Array[]> {
  envelopePlaintexts ??= await Promise.all(seeds.map((m) => decrypt(m, { keys })));
  return envelopePlaintexts;
}
const isPrefix = (p: Uint8Array, of: Uint8Array) => p.length <= of.length && p.every((b, i) => b === of[i]);

// ---------------------------------------------------------------- the targets

/** Every target, built with its seeds. `dir` is a temporary folder the file-system targets work under. */
export async function makeTargets(dir: string): Promise<Target[]> {
  const targets: Target[] = [];

  targets.push(
    await envelopeTarget("envelope decrypt", async (input, keys) => ({
      digest: digestOf(await decrypt(input, { keys })),
    })),
  );

  targets.push(
    await envelopeTarget("envelope decryptStream", async (input, keys, rng, seeds) => {
      const released: Uint8Array[] = [];
      const reader = piecewise(input, rng, rng.pick([1, 7, 64, 4096])).pipeThrough(decryptStream({ keys }))
        .getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          released.push(value);
        }
      } catch (e) {
        // Whatever came out before the failure was authenticated: a prefix of some seed's plaintext.
        const out = concat(released);
        if (out.length > 0 && !(await plaintextsOf(seeds, keys)).some((p) => isPrefix(out, p))) {
          return { finding: `released ${out.length} bytes that are not a prefix of any original plaintext, then ${e}` };
        }
        throw e;
      }
      return { digest: digestOf(concat(released)) };
    }),
  );

  targets.push(
    await envelopeTarget("envelope openRandomAccess", async (input, keys, rng, seeds) => {
      const reader = await openRandomAccess(bytesSource(input), { keys });
      try {
        const whole = await reader.read(0, reader.size);
        if (whole.length !== reader.size) return { finding: `size ${reader.size} but read gave ${whole.length} bytes` };
        const o = rng.int(0, reader.size + 2);
        const n = rng.int(0, 200);
        const part = await reader.read(o, n);
        const want = whole.subarray(Math.min(o, whole.length), Math.min(whole.length, o + n));
        if (digestOf(part) !== digestOf(want)) return { finding: `read(${o}, ${n}) differs from the whole read` };
        const plaintexts = await plaintextsOf(seeds, keys);
        if (!plaintexts.some((p) => p.length === reader.size)) {
          return { finding: `opened with size ${reader.size}, which no original has` };
        }
        return { digest: digestOf(whole) };
      } finally {
        await reader.close();
      }
    }),
  );

  // Nitro: a 4-byte length, the KMS blob, then a Fernet token (fixed key, IV and time).
  {
    const dataKey = await fixed("nitro data key");
    const seeds: Uint8Array[] = [];
    for (const [i, size] of [0, 1, 100, 1000].entries()) {
      const pt = (await fixed(`nitro plaintext ${i}`)).subarray(0, Math.min(32, size));
      const big = concat(Array.from({ length: Math.ceil(size / 32) }, () => pt)).subarray(0, size);
      const blob = (await fixed(`nitro blob ${i}`)).subarray(0, [1, 32, 184, 20][i]);
      seeds.push(
        await sealNitro(
          big,
          dataKey,
          blob,
          withFixedRandom({ now: 1_700_000_000_000 }, (await fixed(`iv ${i}`)).subarray(0, 16)),
        ),
      );
    }
    targets.push({
      name: "nitro",
      seeds,
      strict: true,
      fields: () => [{ offset: 0, width: 4, littleEndian: false }],
      run: async (input) => ({ digest: digestOf(await openNitro(splitNitro(input), dataKey)) }),
    });
  }

  // The Alibaba sample's text: B64(ct) *---* blob *---* B64(nonce) *---* B64(tag) *---* context.
  {
    const dataKey = await fixed("aliyun data key");
    const seeds: Uint8Array[] = [];
    for (
      const [i, [size, context]] of ([[0, "{}"], [5, '{"year": "1865"}'], [300, "a *---* context"], [64, ""]] as const)
        .entries()
    ) {
      const pt = new Uint8Array(size).map((_, j) => (j * 7 + i) & 0xff);
      const params = withFixedRandom(
        { dataKey, blob: btoa(`blob ${i}`), context },
        (await fixed(`aliyun nonce ${i}`)).subarray(0, 16),
      );
      const out = ReadableStream.from([pt]).pipeThrough(await sealAliyunStream(params));
      seeds.push(new Uint8Array(await new Response(out).arrayBuffer()));
    }
    targets.push({
      name: "aliyun text",
      seeds,
      strict: true,
      fields: () => [],
      run: async (input, rng) => {
        // The CLI's path: scan the stream (pieces of any size), then decrypt a second pass.
        const scan = await scanAliyun(piecewise(input, rng, rng.pick([1, 5, 100, 65536])));
        const buffered = parseAliyun(input);
        if (buffered.ciphertextChars !== scan.ciphertextChars || buffered.context !== scan.context) {
          return { finding: "scanAliyun and parseAliyun disagree on the same bytes" };
        }
        const gcm = await AesGcm.create(dataKey);
        const out = piecewise(input, rng, 50).pipeThrough(openAliyunStream(gcm, scan));
        return { digest: digestOf(new Uint8Array(await new Response(out).arrayBuffer())) };
      },
    });
  }

  // Fernet tokens (text), fixed key, IVs and times, decrypted without a TTL (as Python does by default).
  {
    const key = await fixed("fernet key");
    const fernet = await Fernet.create(key);
    const seeds: Uint8Array[] = [];
    for (const [i, size] of [0, 1, 15, 16, 17, 200].entries()) {
      const pt = new Uint8Array(size).map((_, j) => (j * 13 + i) & 0xff);
      const token = await fernet.encryptAsync(
        pt,
        withFixedRandom({ now: 1_700_000_000_000 + i }, (await fixed(`fernet iv ${i}`)).subarray(0, 16)),
      );
      seeds.push(te.encode(token));
    }
    targets.push({
      name: "fernet token",
      seeds,
      strict: true,
      fields: () => [],
      run: async (input, rng) => {
        const token = rng.next() < 0.5 ? input : new TextDecoder().decode(input);
        return { digest: digestOf(await fernet.decryptAsync(token)) };
      },
      close: () => Promise.resolve(fernet.dispose()),
    });
  }

  // Zip extraction into a temporary folder, nested so that a path that escapes it by a few levels is seen.
  {
    const tree = join(dir, "zip-tree");
    await mkdir(join(tree, "a", "b"), { recursive: true });
    await mkdir(join(tree, "empty"), { recursive: true });
    await writeFile(join(tree, "a", "one.txt"), "one\n");
    await writeFile(join(tree, "a", "b", "two.bin"), new Uint8Array(3000).map((_, i) => i % 7));
    await writeFile(join(tree, "zero"), new Uint8Array(0));
    const seeds = [
      new Uint8Array(await new Response(zipDirectory(tree)).arrayBuffer()),
      new Uint8Array(await new Response(zipDirectory(tree, { layout: "make_archive", level: 0 })).arrayBuffer()),
    ];
    await rm(tree, { recursive: true });
    const base = join(dir, "zip");
    const nest = ["n1", "n2", "n3"];
    let i = 0;
    targets.push({
      name: "zip extract",
      seeds,
      strict: false,
      fields: zipFields,
      run: async (input, rng) => {
        const id = `r${i++}`;
        const root = join(base, ...nest, id);
        await mkdir(root, { recursive: true });
        const out = join(root, "out");
        let failed: unknown;
        let summary: string | undefined;
        try {
          await extractZip(piecewise(input, rng, rng.pick([7, 1000, 65536])), out, {
            maxTotalBytes: 1 << 20,
            maxEntries: 200,
          });
          summary = await treeDigest(out);
        } catch (e) {
          failed = e;
        }
        try {
          // Nothing outside `out`: the nest holds exactly the one folder at each level.
          let at = base;
          for (const seg of [...nest, id]) {
            const names = await readdir(at);
            if (names.length !== 1 || names[0] !== seg) {
              return { finding: `extraction wrote outside its folder: ${at} holds ${names.join(", ")}` };
            }
            at = join(at, seg);
          }
          const inRoot = await readdir(root);
          if (failed !== undefined && inRoot.length > 0) {
            return { finding: `a failed extraction left ${inRoot.join(", ")} behind` };
          }
          if (failed === undefined && (inRoot.length !== 1 || inRoot[0] !== "out")) {
            return { finding: `extraction left ${inRoot.join(", ")} beside its output` };
          }
        } finally {
          await rm(join(base, nest[0]), { recursive: true, force: true });
        }
        if (failed !== undefined) throw failed;
        if (summary!.startsWith("!")) return { finding: summary!.slice(1) };
        return { digest: summary! };
      },
    });
  }

  // Local key files, loaded by path.
  {
    const seeds: Uint8Array[] = [];
    for (const i of [0, 1]) {
      const k = await fixed(`local key ${i}`);
      const text = `ENVELOPE-LOCAL-KEY-V1:${
        btoa(String.fromCharCode(...k)).replaceAll("+", "-").replaceAll("/", "_")
          .replace(/=+$/, "")
      }${i === 0 ? "\n" : ""}`;
      seeds.push(te.encode(text));
    }
    const path = join(dir, "fuzz.key");
    targets.push({
      name: "local key file",
      seeds,
      strict: false,
      fields: () => [],
      run: async (input) => {
        await writeFile(path, input, { mode: 0o600 });
        return { digest: (await loadLocalKeyFile(path)).keyId };
      },
    });
  }

  // -k key specs: classified; local ones inside our folder are loaded; cloud ones never resolved (no network).
  {
    const keyPath = join(dir, "spec.key");
    await writeFile(keyPath, `ENVELOPE-LOCAL-KEY-V1:${"A".repeat(43)}\n`, { mode: 0o600 });
    const specs = [
      `local:${keyPath}`,
      "aws-kms:alias/app",
      "alias/app-key",
      "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      "1234abcd-12ab-34cd-56ef-1234567890ab",
      "aliyun-kms:key-0123456789abcdef",
      "aliyun-kms:acs:kms:cn-hangzhou:123456:key/key-01",
      "kmstool:/usr/bin/kmstool_enclave_cli",
    ];
    const inside = resolve(dir) + "/";
    targets.push({
      name: "cli key spec",
      seeds: specs.map((s) => te.encode(s)),
      strict: false,
      fields: () => [],
      run: async (input) => {
        const spec = new TextDecoder().decode(input);
        const { kind, value } = classify(spec);
        if (!spec.endsWith(value) || (value !== spec && !spec.startsWith(`${kind}:`))) {
          return { finding: `classify(${JSON.stringify(spec)}) gave ${kind} with value ${JSON.stringify(value)}` };
        }
        if (kind === "local" && (value === "" || (resolve(value).startsWith(inside) && !value.includes("\0")))) {
          const key = await resolveKey(spec);
          return { digest: `${kind}:${key.keyId}` };
        }
        return { digest: `${kind}:${value}` };
      },
    });
  }

  return targets;
}

/** Length fields of the first local header and the end-of-central-directory record (little-endian). */
function zipFields(z: Uint8Array): LengthField[] {
  const f: LengthField[] = [18, 22].map((o) => ({ offset: o, width: 4 as const, littleEndian: true }));
  f.push({ offset: 26, width: 2, littleEndian: true }, { offset: 28, width: 2, littleEndian: true });
  const eocd = z.length - 22;
  if (eocd > 0) {
    for (const [o, w] of [[8, 2], [10, 2], [12, 4], [16, 4], [20, 2]] as const) {
      f.push({ offset: eocd + o, width: w, littleEndian: true });
    }
  }
  return f;
}

/** Every path under `root` with its kind and a digest of its bytes; "!" and a reason when a link or special file is there. */
async function treeDigest(root: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<string | undefined> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isSymbolicLink()) return `!extraction made a symbolic link at ${rel}${name}`;
      if (st.isDirectory()) {
        out.push(`${rel}${name}/`);
        const bad = await walk(p, `${rel}${name}/`);
        if (bad) return bad;
      } else if (st.isFile()) out.push(`${rel}${name}=${digestOf(new Uint8Array(await readFile(p)))}`);
      else return `!extraction made a special file at ${rel}${name}`;
    }
    return undefined;
  };
  const bad = await walk(root, "");
  return bad ?? out.join("|");
}
