/**
 * The Nitro-enclave format against replicas of the sample's own Python
 * (boto3 and `cryptography` against moto), through the real CLI:
 * envelope_encryptor.py's files decrypt with `envelope decrypt`, files from
 * `envelope encrypt --format nitro` decrypt with the enclave's run.py, the
 * trees compare file by file; and bad input fails with a typed code and
 * leaves nothing behind. kmstool_enclave_cli (`-k kmstool:PATH`) is tested in
 * kms_kmstool_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { failsWith, listing, makeAppTree, ok, runCli, runPy, tree } from "./support/compat_cli.ts";
import { pythonEncrypted, withSetup } from "./support/nitro_setup.ts";
import { looksLikeNitro, splitNitro, tokenTimestamp } from "../src/compat/nitro.ts";
import { decodeBase64Url } from "../src/encoding/base64.ts";

Deno.test("nitro: envelope_encryptor.py's file decrypts with envelope decrypt to the same tree", () =>
  withSetup(async (ctx) => {
    const { dir, home, env } = ctx;
    const { app, file } = await pythonEncrypted(ctx);

    const out = join(dir, "out");
    const r = await runCli(["decrypt", file, "-d", out], { cwd: dir, home, env });
    ok(r, "envelope decrypt -d");
    assert.match(r.out, /Nitro-enclave/);
    assert.deepEqual(await tree(out), await tree(app));

    // Without -d, the zip itself: the same bytes Python's Fernet decrypts to.
    const zip = join(dir, "app.zip");
    ok(await runCli(["decrypt", file, "-o", zip], { cwd: dir, home, env }), "envelope decrypt -o");
    const unpacked = join(dir, "unpacked");
    ok(
      await runPyInline(
        `import shutil,sys; shutil.unpack_archive(sys.argv[1], sys.argv[2], "zip")`,
        [zip, unpacked],
        dir,
        home,
      ),
      "unpacking",
    );
    assert.deepEqual(await tree(unpacked), await tree(app));
  }));

Deno.test("nitro: envelope encrypt --format nitro writes the sample's bytes, and the enclave's run.py opens them", () =>
  withSetup(async ({ dir, home, env, alias, arn }) => {
    const app = join(dir, "application");
    await makeAppTree(app);
    const work = join(dir, "ours");
    await Deno.mkdir(work);
    const r = await runCli(["encrypt", "-d", app, "-k", alias, "--format", "nitro"], { cwd: work, home, env });
    ok(r, "envelope encrypt --format nitro");
    // The default name, in the current folder, and nothing else (no plaintext zip on disk).
    assert.deepEqual(await listing(work), ["application_code.zip.encrypted"]);
    const file = join(work, "application_code.zip.encrypted");
    const bytes = await Deno.readFile(file);
    const { blob, token } = splitNitro(bytes);
    assert.ok(looksLikeNitro(bytes));
    assert.equal(new DataView(bytes.buffer).getUint32(0), blob.length);
    // The token: base64url with '=' padding, no newline, to the end of the file.
    const text = new TextDecoder().decode(token);
    assert.match(text, /^gAAAAA[A-Za-z0-9_-]+={0,2}$/);
    assert.equal(text.length % 4, 0);
    assert.equal(decodeBase64Url(text)[0], 0x80);
    const ts = tokenTimestamp(token)!;
    assert.ok(Math.abs(ts - Date.now() / 1000) < 600);
    assert.match(r.out, new RegExp(arn.replace(/[/.]/g, "\\$&")));

    const out = join(dir, "enclave");
    ok(await runPy("compat_enclave_run.py", [file, out], { cwd: dir, home, env }), "the enclave replica");
    assert.deepEqual(await tree(out), await tree(app));

    // The zip has the entries shutil.make_archive writes (a name/ entry per folder, no top folder, no ./).
    // Python lists a folder's files in os.scandir order, which depends on the file system, so the order
    // of files is not compared; ours is sorted.
    const ours = await zipNames(join(dir, "enclave.zip"), dir, home);
    const pyZip = join(dir, "py");
    ok(
      await runPyInline(
        `import shutil,sys; shutil.make_archive(sys.argv[1], "zip", sys.argv[2])`,
        [pyZip, app],
        dir,
        home,
      ),
      "make_archive",
    );
    assert.deepEqual([...ours].sort(), (await zipNames(pyZip + ".zip", dir, home)).sort());
    assert.deepEqual(ours.slice(0, 2), ["empty/", "lib/"]);

    // Refuses to replace the output without --force; replaces it with.
    failsWith(
      await runCli(["encrypt", "-d", app, "-k", alias, "--format", "nitro"], { cwd: work, home, env }),
      "OUTPUT_EXISTS",
      "a second encrypt",
    );
    assert.deepEqual(await Deno.readFile(file), bytes);
    ok(
      await runCli(["encrypt", "-d", app, "-k", alias, "--format", "nitro", "--force"], { cwd: work, home, env }),
      "encrypt --force",
    );
    assert.notDeepEqual(await Deno.readFile(file), bytes);
  }));

Deno.test("nitro: a single file is wrapped in a one-entry zip; -o names the output; -c and other keys are refused", () =>
  withSetup(async ({ dir, home, env, arn }) => {
    const script = join(dir, "print-hello.py");
    await Deno.writeTextFile(script, "print('hi')\n");
    const out = join(dir, "single.encrypted");
    ok(
      await runCli(["encrypt", script, "-o", out, "-k", arn, "--format", "nitro"], { cwd: dir, home, env }),
      "encrypt a file",
    );
    const enclave = join(dir, "enclave");
    ok(await runPy("compat_enclave_run.py", [out, enclave], { cwd: dir, home, env }), "the enclave replica");
    assert.deepEqual(await listing(enclave), ["print-hello.py"]);
    assert.equal(await Deno.readTextFile(join(enclave, "print-hello.py")), "print('hi')\n");

    const withContext = await runCli([
      "encrypt",
      script,
      "-o",
      join(dir, "c.enc"),
      "-k",
      arn,
      "--format",
      "nitro",
      "-c",
      "a=b",
    ], { cwd: dir, home, env });
    failsWith(withContext, "USAGE", "-c with nitro");
    assert.equal(withContext.code, 2);
    assert.match(withContext.stderr, /cannot pass an encryption context/);
    failsWith(
      await runCli(["encrypt", script, "-o", join(dir, "l.enc"), "-k", "local:/x", "--format", "nitro"], {
        cwd: dir,
        home,
        env,
      }),
      "USAGE",
      "a local key with nitro",
    );
    failsWith(
      await runCli(["encrypt", script, "-o", join(dir, "n.enc"), "--format", "nitro"], { cwd: dir, home, env }),
      "USAGE",
      "no key with nitro",
    );
    // Stdin has no name for the one zip entry the enclave would unzip.
    failsWith(
      await runCli(["encrypt", "-o", join(dir, "s.enc"), "-k", arn, "--format", "nitro"], {
        cwd: dir,
        home,
        env,
        stdin: new TextEncoder().encode("print(1)\n"),
      }),
      "USAGE",
      "stdin with nitro",
    );
    assert.deepEqual((await listing(dir)).filter((n) => n.endsWith(".enc")), []);
  }));

Deno.test("nitro: --data-key (the Fernet key text) decrypts; extract-key writes the raw blob; inspect reads the header", () =>
  withSetup(async ({ dir, home, env, alias }) => {
    const app = join(dir, "application");
    await makeAppTree(app);
    ok(await runCli(["encrypt", "-d", app, "-k", alias, "--format", "nitro"], { cwd: dir, home, env }), "encrypt");
    const file = join(dir, "application_code.zip.encrypted");

    ok(await runCli(["extract-key", file], { cwd: dir, home, env }), "extract-key");
    const blob = await Deno.readFile(join(dir, "data_key.encrypted"));
    assert.deepEqual(blob, splitNitro(await Deno.readFile(file)).blob);
    failsWith(await runCli(["extract-key", file], { cwd: dir, home, env }), "OUTPUT_EXISTS", "extract-key twice");

    // The Fernet key is the standard base64 of the key KMS opens the blob to.
    const key = await runPyInline(
      `import boto3,base64,sys; print(base64.b64encode(boto3.client("kms").decrypt(CiphertextBlob=open(sys.argv[1],"rb").read())["Plaintext"]).decode())`,
      [join(dir, "data_key.encrypted")],
      dir,
      home,
      env,
    );
    ok(key, "boto3 decrypt of the extracted blob");
    const out = join(dir, "with-key");
    ok(
      await runCli(["decrypt", file, "-d", out, "--data-key", key.out.trim()], { cwd: dir, home, env: {} }),
      "decrypt --data-key, no KMS",
    );
    assert.deepEqual(await tree(out), await tree(app));

    const info = await runCli(["inspect", file, "--json"], { cwd: dir, home, env });
    ok(info, "inspect");
    const parsed = JSON.parse(info.out);
    assert.equal(parsed.format, "nitro-enclave");
    assert.equal(parsed.wrappedBytes, blob.length);
    assert.deepEqual(parsed.context, {});
    assert.match(parsed.tokenTime, /^\d{4}-\d\d-\d\dT/);
  }));

Deno.test("nitro: convert verifies the source and writes an envelope file that decrypts to the same zip", () =>
  withSetup(async (ctx) => {
    const { dir, home, env } = ctx;
    const { app, file } = await pythonEncrypted(ctx);
    const converted = join(dir, "app.zip.envl");
    ok(await runCli(["convert", file, "-o", converted], { cwd: dir, home, env }), "convert");
    const out = join(dir, "out");
    // The envelope file opens with the default local key (no KMS needed any more).
    ok(await runCli(["decrypt", converted, "-d", out], { cwd: dir, home, env: {} }), "decrypt the converted file");
    assert.deepEqual(await tree(out), await tree(app));

    // A tampered source: nothing is written.
    const bytes = await Deno.readFile(file);
    bytes[bytes.length - 10] ^= 1;
    const tampered = join(dir, "tampered.encrypted");
    await Deno.writeFile(tampered, bytes);
    failsWith(
      await runCli(["convert", tampered, "-o", join(dir, "t.envl")], { cwd: dir, home, env }),
      "TOKEN_INVALID",
      "convert a tampered file",
    );
    assert.ok(!(await listing(dir)).some((n) => n.startsWith("t.envl") || n.startsWith(".t.envl")));
  }));

Deno.test("nitro: bad input fails with a typed code and leaves no output", () =>
  withSetup(async ({ dir, home, env, alias }) => {
    const app = join(dir, "application");
    await makeAppTree(app);
    const src = join(dir, "src");
    await Deno.mkdir(src);
    ok(await runCli(["encrypt", "-d", app, "-k", alias, "--format", "nitro"], { cwd: src, home, env }), "encrypt");
    const good = await Deno.readFile(join(src, "application_code.zip.encrypted"));
    const { blob, token } = splitNitro(good);
    const n = blob.length;

    const cases: [string, Uint8Array, string][] = [];
    // A length prefix larger than the file (the rest looks like a token at a plausible offset would not).
    const big = good.slice(0, 4 + n + 200);
    new DataView(big.buffer).setUint32(0, 6000);
    cases.push(["length over the file", big, "COMPAT_INVALID"]);
    // A token with a bad HMAC: change one character of the MAC's base64.
    const badMac = good.slice();
    const at = good.length - 6;
    badMac[at] = badMac[at] === 0x41 ? 0x42 : 0x41;
    cases.push(["bad HMAC", badMac, "TOKEN_INVALID"]);
    // A truncated token.
    cases.push(["truncated token", good.slice(0, 4 + n + Math.floor(token.length / 2)), "TOKEN_INVALID"]);
    // A token with a character outside base64url.
    const pct = good.slice();
    pct[4 + n + 20] = 0x25;
    cases.push(["token with %", pct, "TOKEN_INVALID"]);

    const work = join(dir, "work");
    await Deno.mkdir(work);
    for (const [name, bytes, code] of cases) {
      const input = join(dir, `${name.replace(/\W+/g, "-")}.encrypted`);
      await Deno.writeFile(input, bytes);
      failsWith(await runCli(["decrypt", input, "-o", join(work, "out.zip")], { cwd: work, home, env }), code, name);
      failsWith(
        await runCli(["decrypt", input, "-d", join(work, "outdir")], { cwd: work, home, env }),
        code,
        `${name} (-d)`,
      );
      assert.deepEqual(await listing(work), [], `${name} left something behind`);
    }

    // A length header naming more bytes than the file has, where the file is all header: COMPAT_INVALID from extract-key.
    const short = good.slice(0, 4 + 10);
    const shortPath = join(dir, "short.encrypted");
    await Deno.writeFile(shortPath, short);
    failsWith(
      await runCli(["extract-key", shortPath, "-o", join(work, "k")], { cwd: work, home, env }),
      "COMPAT_INVALID",
      "extract-key of a short file",
    );
    assert.deepEqual(await listing(work), []);
    // inspect says so too, for a file cut inside the wrapped key or a few characters into the token (it listed them
    // with a negative or tiny token size, exit 0).
    const cutToken = join(dir, "cut-token.encrypted");
    await Deno.writeFile(cutToken, good.slice(0, 4 + n + 40));
    for (const [path, what] of [[shortPath, "cut in the wrapped key"], [cutToken, "cut in the token"]]) {
      const r = await runCli(["inspect", path], { cwd: work, home, env });
      failsWith(r, "COMPAT_INVALID", `inspect of a file ${what}`);
    }

    // Something that is not a Nitro file at all.
    const text = join(dir, "notes.txt");
    await Deno.writeTextFile(text, "plain text, not a Nitro file\n");
    failsWith(
      await runCli(["extract-key", text, "-o", join(work, "k")], { cwd: work, home, env }),
      "FORMAT_UNKNOWN",
      "extract-key of text",
    );
    assert.deepEqual(await listing(work), []);

    // -c on decrypt: the file has no context, so any required context mismatches.
    failsWith(
      await runCli(["decrypt", join(src, "application_code.zip.encrypted"), "-o", join(work, "c.zip"), "-c", "a=b"], {
        cwd: work,
        home,
        env,
      }),
      "CONTEXT_MISMATCH",
      "decrypt -c",
    );
    // A wrong data key: the HMAC does not verify.
    failsWith(
      await runCli([
        "decrypt",
        join(src, "application_code.zip.encrypted"),
        "-o",
        join(work, "k.zip"),
        "--data-key",
        btoa("x".repeat(32)),
      ], { cwd: work, home, env }),
      "TOKEN_INVALID",
      "a wrong --data-key",
    );
    assert.deepEqual(await listing(work), []);
  }));

async function runPyInline(code: string, args: string[], cwd: string, home: string, env: Record<string, string> = {}) {
  const child = new Deno.Command("python3", {
    args: ["-c", code, ...args],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home, ...env },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  return {
    code: out.code,
    stdout: out.stdout,
    out: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function zipNames(path: string, cwd: string, home: string): Promise<string[]> {
  const r = await runPyInline(
    `import zipfile,sys,json; print(json.dumps([i.filename for i in zipfile.ZipFile(sys.argv[1]).infolist()]))`,
    [path],
    cwd,
    home,
  );
  ok(r, "listing a zip");
  return JSON.parse(r.out);
}
