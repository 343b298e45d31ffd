/**
 * The Nitro format's streaming decrypt releases nothing before the Fernet HMAC verified: a 24 MiB-plaintext file whose
 * last MAC character is changed fails with TOKEN_INVALID and writes nothing, not to stdout (the path that cannot take
 * back what it wrote), not to -o, not to -d; the same file unchanged decrypts. A reader that released plaintext as it
 * went would have written megabytes before reaching the MAC.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes } from "../src/crypto/random.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { cliArgv, cliEnv } from "./support/cli.ts";
import { isPattern, writeNitroFile } from "./support/nitro_big.ts";

const SIZE = 24 * 1024 * 1024;

Deno.test("nitro: a bad HMAC at the end of a large token is refused with nothing written, by any output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "envelope-nitro-mac-" });
  try {
    const key = randomBytes(32);
    const good = join(dir, "good.encrypted");
    await writeNitroFile(good, SIZE, key);
    const bytes = await Deno.readFile(good);
    // The last full base64 character holds MAC bits only; the padding after it is left alone.
    const at = bytes.length - 3;
    bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41;
    const bad = join(dir, "bad.encrypted");
    await Deno.writeFile(bad, bytes);
    const env = await cliEnv(join(dir), { TMPDIR: dir });
    const run = async (args: string[], stdinFile?: string) => {
      const argv = ["decrypt", "--data-key", encodeBase64(key), ...args];
      const child = new Deno.Command(Deno.execPath(), {
        args: cliArgv(argv),
        cwd: dir,
        clearEnv: true,
        env,
        stdin: stdinFile ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (stdinFile) {
        const f = await Deno.open(stdinFile);
        await f.readable.pipeTo(child.stdin).catch(() => {});
      }
      const out = await child.output();
      return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
    };
    const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    for (
      const [label, args, stdin] of [
        ["stdin to stdout", ["-o", "-", "-"], bad],
        ["file to stdout", ["-o", "-", bad]],
        ["file to -o", ["-o", "out.zip", bad]],
        ["file to -d", ["-d", "outdir", bad]],
      ] as [string, string[], string?][]
    ) {
      const r = await run(args, stdin);
      assert.equal(r.code, 1, `${label}: ${r.stderr}`);
      assert.match(r.stderr, /\[TOKEN_INVALID\]/, label);
      assert.equal(r.stdout.length, 0, `${label}: ${r.stdout.length} bytes reached stdout`);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before, `${label}: nothing left behind`);
    }
    const r = await run(["-o", "out.zip", good]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await isPattern(join(dir, "out.zip"), SIZE));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
