/**
 * The Alibaba sample's text format against a Python replica of
 * aliEncrypt.py / aliDecrypt.py (AESGCM with a 16-byte nonce, its own RPC v1
 * signer) talking to the loopback Alibaba KMS server, through the real CLI,
 * both ways; streaming of large files from a path and from stdin; convert;
 * and bad input with typed codes and no output left behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AliyunServer, startAliyunServer } from "./support/aliyun_server.ts";
import { failsWith, listing, ok, runCli, runPy, scratch } from "./support/compat_cli.ts";
import { randomBytes } from "../src/crypto/random.ts";

interface Ctx {
  server: AliyunServer;
  dir: string;
  home: string;
  env: Record<string, string>;
  keyId: string;
}

async function withSetup(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const server = await startAliyunServer();
  const dir = await scratch("aliyun");
  try {
    const keyId = server.createKey();
    const home = join(dir, "home");
    await Deno.mkdir(home);
    const env = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
      ALIBABA_CLOUD_KMS_ENDPOINT: server.endpoint,
      ALIYUN_SAMPLE_KEY_ID: keyId,
    };
    await fn({ server, dir, home, env, keyId });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const SEP = "*---*";
/** The JSON of `-c owner=alice -c doc=...` in the order given, as encrypt stores and sends it. */
const CTX_JSON = '{"owner":"alice","doc":"Alice\'s: \\"notes\\""}';

/** Random text-ish bytes (the sample reads text files) of length `n`. */
function payload(n: number): Uint8Array {
  const out = randomBytes(n);
  for (let i = 0; i < n; i++) out[i] = 0x20 + (out[i] % 95);
  return out;
}

Deno.test("aliyun: aliEncrypt.py's file decrypts with envelope decrypt; the context string goes back byte for byte", () =>
  withSetup(async ({ server, dir, home, env }) => {
    const plain = join(dir, "alice.txt");
    const data = payload(100_000);
    await Deno.writeFile(plain, data);
    const enc = join(dir, "ciphertext.txt");
    ok(
      await runPy("compat_aliyun_sample.py", ["encrypt", plain, enc], { cwd: dir, home, env }),
      "the Python aliEncrypt",
    );
    const text = await Deno.readTextFile(enc);
    const fields = text.split(SEP);
    assert.equal(fields.length, 5);
    // The sample's own context string: spaces after commas, none after colons.
    const sampleContext = '{"author":"lewis carrol", "year":"1865", "publisher":"project gutenberg"}';
    assert.equal(fields[4], sampleContext);
    assert.equal(atob(fields[2]).length, 16);

    const out = join(dir, "plain.out");
    const r = await runCli(["decrypt", enc, "-o", out], { cwd: dir, home, env });
    ok(r, "envelope decrypt");
    assert.match(r.out, /Alibaba-sample/);
    assert.deepEqual(await Deno.readFile(out), data);
    const decrypts = server.calls.filter((c) => c.action === "Decrypt" && c.status === 200);
    assert.equal(decrypts.length, 1);
    assert.equal(decrypts[0].params.EncryptionContext, sampleContext);
    assert.equal(decrypts[0].params.CiphertextBlob, fields[1]);

    // The same file from stdin (its ciphertext is spooled to a private temporary file for the second pass).
    const viaStdin = await runCli(["decrypt", "-", "-o", "-"], {
      cwd: dir,
      home,
      env,
      stdin: await Deno.readFile(enc),
    });
    ok(viaStdin, "decrypt from stdin");
    assert.deepEqual(viaStdin.stdout, data);

    // inspect shows the parsed context.
    const info = await runCli(["inspect", enc, "--json"], { cwd: dir, home, env });
    ok(info, "inspect");
    const parsed = JSON.parse(info.out);
    assert.equal(parsed.format, "aliyun-sample");
    assert.equal(parsed.nonceBytes, 16);
    assert.equal(parsed.payloadBytes, data.length);
    assert.deepEqual(parsed.context, { author: "lewis carrol", year: "1865", publisher: "project gutenberg" });
  }));

Deno.test("aliyun: envelope encrypt --format aliyun writes the sample's text, and aliDecrypt.py opens it", () =>
  withSetup(async ({ server, dir, home, env, keyId }) => {
    for (const size of [0, 1, 15, 16, 17, 3 * 1024 * 1024 + 5]) {
      const plain = join(dir, `p${size}.txt`);
      const data = payload(size);
      await Deno.writeFile(plain, data);
      const enc = join(dir, `p${size}.aliyun`);
      ok(
        await runCli([
          "encrypt",
          plain,
          "-o",
          enc,
          "-k",
          `aliyun-kms:${keyId}`,
          "--format",
          "aliyun",
          "-c",
          "owner=alice",
          "-c",
          'doc=Alice\'s: "notes"',
        ], { cwd: dir, home, env }),
        `encrypt ${size}`,
      );
      const text = await Deno.readTextFile(enc);
      assert.ok(!text.endsWith("\n"));
      const parts = text.split(SEP);
      assert.equal(parts.length, 5);
      assert.equal(parts[4], CTX_JSON);
      assert.equal(atob(parts[2]).length, 16);
      assert.equal(atob(parts[3]).length, 16);
      assert.equal(atob(parts[0]).length, size);
      const gen = server.calls.filter((c) => c.action === "GenerateDataKey").at(-1)!;
      assert.equal(gen.params.EncryptionContext, CTX_JSON);
      assert.equal(gen.params.KeySpec, "AES_256");
      assert.equal(gen.params.NumberOfBytes, "32");

      // The replica splits as aliDecrypt.py does.
      const back = join(dir, `p${size}.back`);
      ok(await runPy("compat_aliyun_sample.py", ["decrypt", enc, back], { cwd: dir, home, env }), `aliDecrypt ${size}`);
      assert.deepEqual(await Deno.readFile(back), data);
      // And our own reader, streaming.
      const ours = join(dir, `p${size}.ours`);
      ok(
        await runCli(["decrypt", enc, "-o", ours, "-c", "owner=alice", "-c", 'doc=Alice\'s: "notes"'], {
          cwd: dir,
          home,
          env,
        }),
        `decrypt ${size}`,
      );
      assert.deepEqual(await Deno.readFile(ours), data);
    }
    // A context with the separator in it: the sample's aliDecrypt.py would cut it, so encrypt refuses it...
    const sep = await runCli(
      [
        "encrypt",
        join(dir, "p1.txt"),
        "-o",
        join(dir, "sep.aliyun"),
        "-k",
        `aliyun-kms:${keyId}`,
        "--format",
        "aliyun",
        "-c",
        "doc=p*---*q",
      ],
      { cwd: dir, home, env },
    );
    failsWith(sep, "USAGE", "a context with *---*");
    assert.ok(!(await listing(dir)).includes("sep.aliyun"));
    // ...but such files are read, splitting on the first four separators only.
    const sepFile = join(dir, "sep-py.aliyun");
    ok(
      await runPy("compat_aliyun_sample.py", ["encrypt", join(dir, "p17.txt"), sepFile], {
        cwd: dir,
        home,
        env: { ...env, ALIYUN_SAMPLE_CONTEXT: '{"doc": "p*---*q"}' },
      }),
      "aliEncrypt with *---* in the context",
    );
    assert.equal((await Deno.readTextFile(sepFile)).split(SEP).length, 6);
    const sepOut = join(dir, "sep.out");
    ok(
      await runCli(["decrypt", sepFile, "-o", sepOut, "-c", "doc=p*---*q"], { cwd: dir, home, env }),
      "decrypt *---* context",
    );
    assert.deepEqual(await Deno.readFile(sepOut), await Deno.readFile(join(dir, "p17.txt")));
    const lastDecrypt = server.calls.filter((c) => c.action === "Decrypt").at(-1)!;
    assert.equal(lastDecrypt.params.EncryptionContext, '{"doc": "p*---*q"}');

    // Refuses to replace an output without --force.
    failsWith(
      await runCli([
        "encrypt",
        join(dir, "p1.txt"),
        "-o",
        join(dir, "p1.aliyun"),
        "-k",
        `aliyun-kms:${keyId}`,
        "--format",
        "aliyun",
      ], { cwd: dir, home, env }),
      "OUTPUT_EXISTS",
      "a second encrypt",
    );
    // Only an Alibaba key can make this format.
    failsWith(
      await runCli(
        ["encrypt", join(dir, "p1.txt"), "-o", join(dir, "x.aliyun"), "-k", "alias/x", "--format", "aliyun"],
        { cwd: dir, home, env },
      ),
      "USAGE",
      "an AWS key with the aliyun format",
    );
  }));

Deno.test("aliyun: convert keeps the context as the envelope context and verifies the source first", () =>
  withSetup(async ({ dir, home, env }) => {
    const plain = join(dir, "doc.txt");
    const data = payload(200_000);
    await Deno.writeFile(plain, data);
    const enc = join(dir, "doc.aliyun");
    ok(await runPy("compat_aliyun_sample.py", ["encrypt", plain, enc], { cwd: dir, home, env }), "aliEncrypt");
    const converted = join(dir, "doc.txt.envl");
    ok(await runCli(["convert", enc, "-o", converted], { cwd: dir, home, env }), "convert");
    const info = JSON.parse((await runCli(["inspect", converted, "--json"], { cwd: dir, home, env })).out);
    assert.deepEqual(info.context, { author: "lewis carrol", year: "1865", publisher: "project gutenberg" });
    const back = join(dir, "back.txt");
    ok(
      await runCli(["decrypt", converted, "-o", back], { cwd: dir, home, env: {} }),
      "decrypt the converted file with the local key",
    );
    assert.deepEqual(await Deno.readFile(back), data);

    // A tampered ciphertext: convert fails with the GCM code and writes nothing.
    const bytes = await Deno.readFile(enc);
    bytes[10] = bytes[10] === 0x41 ? 0x42 : 0x41;
    const bad = join(dir, "bad.aliyun");
    await Deno.writeFile(bad, bytes);
    failsWith(
      await runCli(["convert", bad, "-o", join(dir, "bad.envl")], { cwd: dir, home, env }),
      "PAYLOAD_AUTH_FAILED",
      "convert a tampered file",
    );
    assert.ok(!(await listing(dir)).some((n) => n.includes("bad.envl")));
  }));

Deno.test("aliyun: bad input fails with a typed code and leaves no output", () =>
  withSetup(async ({ dir, home, env }) => {
    const plain = join(dir, "doc.txt");
    await Deno.writeFile(plain, payload(300_000));
    const enc = join(dir, "doc.aliyun");
    ok(await runPy("compat_aliyun_sample.py", ["encrypt", plain, enc], { cwd: dir, home, env }), "aliEncrypt");
    const text = await Deno.readTextFile(enc);
    const [ct, blob, nonce, tag, context] = text.split(SEP);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);

    const cases: [string, string, string][] = [
      ["a separator missing", [ct, blob, nonce, tag + context].join(SEP), "COMPAT_INVALID"],
      ["no separator at all (truncated in the ciphertext)", ct.slice(0, 5000), "COMPAT_INVALID"],
      [
        "a context that does not match",
        [ct, blob, nonce, tag, context.replace("1865", "1866")].join(SEP),
        "CONTEXT_MISMATCH",
      ],
      ["a flipped ciphertext byte", [flip(ct, 100), blob, nonce, tag, context].join(SEP), "PAYLOAD_AUTH_FAILED"],
      [
        "a flipped ciphertext byte near the end",
        [flip(ct, ct.length - 8), blob, nonce, tag, context].join(SEP),
        "PAYLOAD_AUTH_FAILED",
      ],
      ["a flipped tag", [ct, blob, nonce, flip(tag, 3), context].join(SEP), "PAYLOAD_AUTH_FAILED"],
      ["a wrong nonce", [ct, blob, flip(nonce, 2), tag, context].join(SEP), "PAYLOAD_AUTH_FAILED"],
      ["a tag that is not 16 bytes", [ct, blob, nonce, btoa("short"), context].join(SEP), "COMPAT_INVALID"],
      [
        "ciphertext that is not base64",
        [ct.slice(0, 50) + "!" + ct.slice(51), blob, nonce, tag, context].join(SEP),
        "COMPAT_INVALID",
      ],
    ];
    const work = join(dir, "work");
    await Deno.mkdir(work);
    for (const [name, content, code] of cases) {
      const input = join(dir, `${name.replace(/\W+/g, "-")}.aliyun`);
      await Deno.writeTextFile(input, content);
      failsWith(await runCli(["decrypt", input, "-o", join(work, "out.txt")], { cwd: work, home, env }), code, name);
      assert.deepEqual(await listing(work), [], `${name} left something behind`);
    }
    // From stdin, a tag failure found at the very end leaves nothing either.
    const viaStdin = await runCli(["decrypt", "-", "-o", join(work, "stdin.txt")], {
      cwd: work,
      home,
      env,
      stdin: new TextEncoder().encode([ct, blob, nonce, flip(tag, 3), context].join(SEP)),
    });
    failsWith(viaStdin, "PAYLOAD_AUTH_FAILED", "stdin with a bad tag");
    assert.deepEqual(await listing(work), []);
    // -c that differs from the stored context.
    failsWith(
      await runCli(["decrypt", enc, "-o", join(work, "c.txt"), "-c", "author=someone"], { cwd: work, home, env }),
      "CONTEXT_MISMATCH",
      "decrypt -c",
    );
    // Something in neither format.
    const other = join(dir, "other.bin");
    await Deno.writeFile(other, new Uint8Array([0xff, 0xfe, 1, 2, 3]));
    failsWith(
      await runCli(["decrypt", other, "-o", join(work, "o.txt")], { cwd: work, home, env }),
      "FORMAT_UNKNOWN",
      "an unknown format",
    );
    assert.deepEqual(await listing(work), []);
  }));
