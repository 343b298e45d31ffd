/**
 * What `decrypt` releases from the compatibility formats, through the real
 * CLI (issues 12 and 15): no plaintext of a tampered Alibaba or Nitro file
 * reaches stdout; the stdin spool is removed on SIGTERM and SIGINT and is
 * bounded by `--max-size` (INPUT_TOO_LARGE); `--format` refuses the weaker
 * formats on request and auto mode warns about them. Keys are given with
 * `--data-key`, so no KMS is needed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sealAliyunStream } from "../src/compat/aliyun_gcm.ts";
import { sealNitro } from "../src/compat/nitro.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { encodeBase64 } from "../src/encoding/base64.ts";
import { failsWith, listing, ok, runCli, scratch } from "./support/compat_cli.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function aliyunFile(pt: Uint8Array, key: Uint8Array, context = '{"a":"b"}'): Promise<Uint8Array> {
  const seal = await sealAliyunStream({ dataKey: key, blob: "QkxPQg==", context });
  return new Uint8Array(await new Response(ReadableStream.from([pt]).pipeThrough(seal)).arrayBuffer());
}

/** `file` with the ciphertext character at `at` changed (still base64). */
function tamper(file: Uint8Array, at: number): Uint8Array {
  const bad = file.slice();
  bad[at] = bad[at] === 0x41 ? 0x42 : 0x41;
  return bad;
}

async function withDir(fn: (dir: string, home: string) => Promise<void>): Promise<void> {
  const dir = await scratch("release");
  try {
    const home = join(dir, "home");
    await Deno.mkdir(home);
    await fn(dir, home);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("decrypt -o - of a tampered Alibaba or Nitro file writes no byte to stdout", () =>
  withDir(async (dir, home) => {
    const key = randomBytes(32);
    const pt = randomBytes(300_000);
    const ali = await aliyunFile(pt, key);
    const cases: [string, Uint8Array, string, string][] = [
      ["alibaba, early byte", tamper(ali, 100), encodeBase64(key), "PAYLOAD_AUTH_FAILED"],
      ["alibaba, late byte", tamper(ali, 390_000), encodeBase64(key), "PAYLOAD_AUTH_FAILED"],
    ];
    const nitro = await sealNitro(pt, key, randomBytes(200));
    const badNitro = nitro.slice();
    badNitro[204 + 1000] ^= 0x01;
    cases.push(["nitro", badNitro, encodeBase64(key), "TOKEN_INVALID"]);
    for (const [name, bytes, dataKey, code] of cases) {
      const file = join(dir, "bad.txt");
      await Deno.writeFile(file, bytes);
      for (const viaStdin of [false, true]) {
        const args = ["decrypt", viaStdin ? "-" : file, "--data-key", dataKey, "-o", "-"];
        const r = await runCli(args, { cwd: dir, home, stdin: viaStdin ? bytes : undefined });
        failsWith(r, code, `${name}${viaStdin ? " from stdin" : ""}`);
        assert.equal(r.stdout.length, 0, `${name}: ${r.stdout.length} bytes reached stdout before the failure`);
      }
    }
    // The untampered file still streams to stdout, whole.
    const good = join(dir, "good.txt");
    await Deno.writeFile(good, ali);
    const r = await runCli(["decrypt", good, "--data-key", encodeBase64(key), "-o", "-"], { cwd: dir, home });
    ok(r, "decrypt the good file to stdout");
    assert.deepEqual(r.stdout, pt);
    // A file output: the temporary file is removed, nothing appears.
    await Deno.writeFile(join(dir, "bad.txt"), tamper(ali, 100));
    const out = join(dir, "out");
    await Deno.mkdir(out);
    failsWith(
      await runCli(["decrypt", join(dir, "bad.txt"), "--data-key", encodeBase64(key), "-o", join(out, "x")], {
        cwd: out,
        home,
      }),
      "PAYLOAD_AUTH_FAILED",
      "tampered to a file",
    );
    assert.deepEqual(await listing(out), []);
  }));

async function folderBytes(path: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(path)) if (e.isFile) n += (await Deno.stat(join(path, e.name))).size;
  return n;
}

function cliEnv(home: string, tmp: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    TMPDIR: tmp,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno"),
    NO_COLOR: "1",
  };
}

Deno.test("a signal removes the stdin spool: SIGTERM and SIGINT during a large Alibaba or Nitro decrypt", () =>
  withDir(async (dir, home) => {
    const key = randomBytes(32);
    const pt = randomBytes(4 << 20);
    const files: [string, Uint8Array, string][] = [
      ["aliyun", await aliyunFile(pt, key), "envelope-aliyun-"],
      ["nitro", await sealNitro(pt, key, randomBytes(100)), "envelope-nitro-"],
    ];
    for (const [format, bytes, prefix] of files) {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const tmp = join(dir, `tmp-${format}-${signal}`);
        await Deno.mkdir(tmp);
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "mod.ts"), "decrypt", "-"].concat(
            ["--data-key", encodeBase64(key), "-o", join(dir, `out-${format}-${signal}`)],
          ),
          cwd: dir,
          clearEnv: true,
          env: cliEnv(home, tmp),
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = child.stdin.getWriter();
        // Half the file: the run then waits for more with its spool open.
        await w.write(bytes.subarray(0, bytes.length >> 1));
        let spooled = 0;
        for (let i = 0; i < 600 && spooled < 1 << 20; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const names = await listing(tmp);
          assert.ok(names.every((n) => n.startsWith(prefix)), `${names}`);
          if (names.length === 1) {
            spooled = await folderBytes(join(tmp, names[0]));
          }
        }
        assert.ok(spooled >= 1 << 20, `${format}: the spool never filled (${spooled} bytes)`);
        child.kill(signal);
        const out = await child.output();
        await w.close().catch(() => {});
        assert.notEqual(out.code, 0, `${format} ${signal}: the run should have been ended`);
        assert.deepEqual(await listing(tmp), [], `${format} ${signal}: the spool was left behind`);
        assert.ok(!(await listing(dir)).some((n) => n.startsWith(`out-${format}`)), "no output");
      }
    }
  }));

Deno.test("--max-size bounds what a Nitro or Alibaba input and its spool may hold: INPUT_TOO_LARGE", () =>
  withDir(async (dir, home) => {
    const key = randomBytes(32);
    const pt = randomBytes(20_000);
    const tmp = join(dir, "tmp");
    await Deno.mkdir(tmp);
    const out = join(dir, "out");
    await Deno.mkdir(out);
    for (
      const [format, bytes] of [["aliyun", await aliyunFile(pt, key)], [
        "nitro",
        await sealNitro(pt, key, randomBytes(50)),
      ]] as const
    ) {
      const file = join(dir, `${format}.in`);
      await Deno.writeFile(file, bytes);
      for (const viaStdin of [false, true]) {
        const what = `${format}${viaStdin ? " from stdin" : ""}`;
        const args = ["decrypt", viaStdin ? "-" : file, "--data-key", encodeBase64(key), "-o", join(out, "x")];
        const r = await runCli([...args, "--max-size", "1024"], {
          cwd: out,
          home,
          env: { TMPDIR: tmp },
          stdin: viaStdin ? bytes : undefined,
        });
        failsWith(r, "INPUT_TOO_LARGE", what);
        assert.deepEqual(await listing(out), [], `${what}: output left`);
        assert.deepEqual(await listing(tmp), [], `${what}: spool left`);
        const fine = await runCli([...args, "--max-size", String(bytes.length)], {
          cwd: out,
          home,
          env: { TMPDIR: tmp },
          stdin: viaStdin ? bytes : undefined,
        });
        ok(fine, `${what} at exactly its size`);
        assert.deepEqual(await Deno.readFile(join(out, "x")), pt);
        await Deno.remove(join(out, "x"));
      }
    }
  }));

Deno.test("decrypt --format: envelope refuses Nitro and Alibaba files, a wrong format is refused, auto warns", () =>
  withDir(async (dir, home) => {
    const key = randomBytes(32);
    const dk = encodeBase64(key);
    const pt = randomBytes(5000);
    const nitro = join(dir, "app.nitro");
    await Deno.writeFile(nitro, await sealNitro(pt, key, randomBytes(80)));
    const ali = join(dir, "doc.aliyun");
    await Deno.writeFile(ali, await aliyunFile(pt, key));
    const plain = join(dir, "plain.bin");
    await Deno.writeFile(plain, pt);
    ok(await runCli(["encrypt", plain, "-o", join(dir, "plain.envl")], { cwd: dir, home }), "encrypt");
    const out = join(dir, "out");
    await Deno.mkdir(out);
    const run = (args: string[]) => runCli(["decrypt", ...args, "-o", join(out, "x")], { cwd: out, home });
    for (
      const [args, code] of [
        [[nitro, "--data-key", dk, "--format", "envelope"], "FORMAT_UNKNOWN"],
        [[ali, "--data-key", dk, "--format", "envelope"], "FORMAT_UNKNOWN"],
        [[nitro, "--data-key", dk, "--format", "aliyun"], "FORMAT_UNKNOWN"],
        [[ali, "--data-key", dk, "--format", "nitro"], "FORMAT_UNKNOWN"],
        [[join(dir, "plain.envl"), "--format", "nitro"], "FORMAT_UNKNOWN"],
        [[nitro, "--data-key", dk, "--format", "fernet"], "USAGE"],
      ] as const
    ) {
      failsWith(await run([...args]), code, args.join(" "));
      assert.deepEqual(await listing(out), [], `${args.join(" ")} left output`);
    }
    const accepted: [string[], boolean][] = [
      [[nitro, "--data-key", dk], true],
      [[nitro, "--data-key", dk, "--format", "auto"], true],
      [[nitro, "--data-key", dk, "--format", "nitro"], false],
      [[ali, "--data-key", dk], true],
      [[ali, "--data-key", dk, "--format", "aliyun"], false],
      [[ali, "--data-key", dk, "-c", "a=b"], false],
      [[join(dir, "plain.envl"), "--format", "envelope"], false],
      [[join(dir, "plain.envl")], false],
    ];
    for (const [args, warns] of accepted) {
      const r = await run(args);
      ok(r, args.join(" "));
      assert.deepEqual(await Deno.readFile(join(out, "x")), pt);
      await Deno.remove(join(out, "x"));
      assert.equal(/^warning: .*no key commitment/m.test(r.stderr), warns, `${args.join(" ")}: ${r.stderr}`);
    }
  }));
