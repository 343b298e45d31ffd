/**
 * Small inputs, which `encrypt` and `decrypt` read whole and seal or open as bytes (`encryptOne`, `decryptOne`), and the
 * sizes around the limit of that path, which take the stream pipeline: the same round trip either way, with the
 * options that change the message (chunk size, context, signature), and a `/proc` file whose size says 0.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { open } from "../src/host/fs.ts";
import { openInput, readWhole } from "../src/cli/files.ts";
import { cliEnv, REPO, show, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, writeKey } from "./support/cli_asserts.ts";

Deno.test("cli encrypt: inputs at and around the whole-file limit (64 KiB) round-trip, with chunk size, context and --sign", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const sizes = [0, 1, 4096, 65535, 65536, 65537, 300_000];
  const options: string[][] = [[], ["--chunk-size", "16KiB"], ["-c", "team=ops"], ["--sign"]];
  for (const size of sizes) {
    const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const whole = new Uint8Array(size);
    for (let o = 0; o < size; o += data.length) whole.set(data.subarray(0, Math.min(data.length, size - o)), o);
    await Deno.writeFile(ws.path(`f${size}`), whole);
    for (const extra of options) {
      const name = `f${size}${extra.join("").replace(/[^a-z0-9]/gi, "")}`;
      const sealed = await ws.run(["encrypt", "-k", "local:A.key", ...extra, `f${size}`, "-o", `${name}.envl`]);
      assertOk(sealed);
      const context = extra[0] === "-c" ? ["-c", "team=ops"] : [];
      const back = await ws.run(["decrypt", "-k", "local:A.key", ...context, `${name}.envl`, "-o", `${name}.out`]);
      assertOk(back);
      assert.deepEqual(await Deno.readFile(ws.path(`${name}.out`)), whole, `${size} bytes, ${extra.join(" ")}`);
      const info = await ws.run(["inspect", "--json", `${name}.envl`]);
      assertOk(info);
      const doc = JSON.parse(info.stdout);
      if (extra[0] === "--chunk-size") assert.equal(doc.chunkSize, 16384, show(info));
      if (extra[0] === "-c") assert.deepEqual(doc.context, { team: "ops" }, show(info));
    }
  }
});

Deno.test("cli encrypt: a /proc file whose size says 0 is encrypted whole", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  assertOk(await ws.run(["encrypt", "-k", "local:A.key", "/proc/self/status", "-o", "status.envl"]));
  assertOk(await ws.run(["decrypt", "-k", "local:A.key", "status.envl", "-o", "status.txt"]));
  const text = await Deno.readTextFile(ws.path("status.txt"));
  assert.match(text, /^Name:\t/, "the file's first line");
  assert.match(text, /\nVmRSS:/, "and lines far past its start");
});

Deno.test("cli decrypt: a small message and a large one with a byte changed fail alike, and leave no output", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  for (const size of [100, 300_000]) {
    // Random bytes for the small one; the large one is a pattern (getRandomValues gives at most 64 KiB at a time).
    const data = size <= 65536 ? crypto.getRandomValues(new Uint8Array(size)) : new Uint8Array(size).fill(7);
    await Deno.writeFile(ws.path(`p${size}`), data);
    assertOk(await ws.run(["encrypt", "-k", "local:A.key", `p${size}`, "-o", `p${size}.envl`]));
    const sealed = await Deno.readFile(ws.path(`p${size}.envl`));
    sealed[sealed.length - 20] ^= 1; // inside the final chunk
    await Deno.writeFile(ws.path(`bad${size}.envl`), sealed);
    const r = await ws.run(["decrypt", "-k", "local:A.key", `bad${size}.envl`, "-o", `bad${size}.out`]);
    assertFailed(r, "PAYLOAD_AUTH_FAILED");
    assert.equal(await Deno.stat(ws.path(`bad${size}.out`)).then(() => true, () => false), false, show(r));
  }
});

Deno.test("openInput: a small regular file is read whole, a larger one or one that says 0 bytes is streamed", async () => {
  await using ws = await workspace();
  const data = crypto.getRandomValues(new Uint8Array(5000));
  await Deno.writeFile(ws.path("f"), data);
  const small = await openInput(ws.path("f"), { whole: 5000 });
  assert.deepEqual(small.bytes, data);
  assert.equal(small.size, 5000);
  assert.deepEqual(
    new Uint8Array(await new Response(small.stream).arrayBuffer()),
    data,
    "its stream has the same bytes",
  );
  const over = await openInput(ws.path("f"), { whole: 4999 });
  assert.equal(over.bytes, undefined);
  assert.deepEqual(new Uint8Array(await new Response(over.stream).arrayBuffer()), data);
  const proc = await openInput("/proc/self/status", { whole: 65536 });
  assert.equal(proc.bytes, undefined, "a file whose size says 0 is never read whole");
  assert.match(await new Response(proc.stream).text(), /^Name:\t/);
  assert.equal((await openInput(ws.path("f"))).bytes, undefined, "whole is asked for, never assumed");
});

Deno.test("openInput: a file that grew after its size was taken is streamed with every byte, one that shrank is read whole", async () => {
  await using ws = await workspace();
  const data = crypto.getRandomValues(new Uint8Array(60_000));
  await Deno.writeFile(ws.path("f"), data);
  // The size a stat gave before the file changed: smaller (it grew since) or larger (it shrank).
  for (const said of [1, 4096, 59_999]) {
    const grew = await readWhole(await open(ws.path("f"), "r"), "f", said);
    assert.equal(grew.bytes, undefined, `said ${said}`);
    assert.deepEqual(new Uint8Array(await new Response(grew.stream).arrayBuffer()), data, `said ${said}`);
  }
  const shrank = await readWhole(await open(ws.path("f"), "r"), "f", 70_000);
  assert.deepEqual(shrank.bytes, data);
});

Deno.test("cli: a small input's encrypt (file or stdin), decrypt (to a file or stdout), rewrap and inspect make no web stream; a large one's do", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const data = crypto.getRandomValues(new Uint8Array(3000));
  await Deno.writeFile(ws.path("small"), data);
  await Deno.writeFile(ws.path("large"), new Uint8Array(300_000).fill(5));
  const env = await cliEnv(ws.dir);
  const run = async (args: string[], stdin?: Uint8Array) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        join(REPO, "deno.json"),
        join(REPO, "tests/support/cli_without_streams.ts"),
        ...args,
      ],
      cwd: ws.dir,
      clearEnv: true,
      env,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin) {
      const w = child.stdin.getWriter();
      await w.write(stdin);
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stdoutBytes: out.stdout, stderr: dec.decode(out.stderr) };
  };
  const k = ["-k", "local:A.key"];
  assertOk(await run(["encrypt", ...k, "small", "-o", "small.envl"]));
  const toStdout = await run(["encrypt", ...k, "small", "-o", "-"]);
  assertOk(toStdout);
  await Deno.writeFile(ws.path("small2.envl"), toStdout.stdoutBytes);
  assertOk(await run(["decrypt", ...k, "small.envl", "-o", "small.out"]));
  assert.deepEqual(await Deno.readFile(ws.path("small.out")), data);
  const back = await run(["decrypt", ...k, "small2.envl", "-o", "-"]);
  assertOk(back);
  assert.deepEqual(back.stdoutBytes, data, "the message written to stdout opens to the same bytes");
  // From stdin (a piped secret) to stdout; decrypted from a file here (decrypt reads stdin as a stream, acting on the
  // header as soon as it arrives).
  const piped = await run(["encrypt", ...k, "-o", "-"], data);
  assertOk(piped);
  await Deno.writeFile(ws.path("piped.envl"), piped.stdoutBytes);
  const unpiped = await run(["decrypt", ...k, "piped.envl", "-o", "-"]);
  assertOk(unpiped);
  assert.deepEqual(unpiped.stdoutBytes, data, "a message piped in through stdin");
  // rewrap of a small file, in place, adding a second key.
  await writeKey(ws.path("B.key"));
  assertOk(await run(["rewrap", "small.envl", "-k", "local:B.key", "-u", "local:A.key"]));
  const byB = await run(["decrypt", "-k", "local:B.key", "small.envl", "-o", "-"]);
  assertOk(byB);
  assert.deepEqual(byB.stdoutBytes, data, "the rewrapped message opens with the added key");
  const info = await run(["inspect", "--json", "small.envl"]);
  assertOk(info);
  assert.equal(JSON.parse(info.stdout).format, "envelope", show(info));
  // The control: past the whole-file limit the stream pipeline runs, and so the stand-ins throw.
  const large = await run(["encrypt", ...k, "large", "-o", "large.envl"]);
  assert.notEqual(large.code, 0, show(large));
  assert.match(large.stderr, /a (Readable|Writable|Transform)Stream was made/, show(large));
});

Deno.test("openInput: stdin under Deno is read only when asked, whole up to the limit, and streamed on past it", async () => {
  const child = () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { openInput } = await import(${JSON.stringify(new URL("../src/cli/files.ts", import.meta.url).href)});
         const opened = await openInput("-", { whole: 1000 });
         if (opened.bytes !== undefined) throw new Error("stdin was read at open");
         const i = await opened.readWhole(1000);
         const all = new Uint8Array(await new Response(i.stream).arrayBuffer());
         console.log(JSON.stringify({ whole: i.bytes !== undefined, length: all.length, sum: all.reduce((a, b) => a + b, 0) }));`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
  for (const n of [0, 1, 1000, 1001, 300_000]) {
    const data = new Uint8Array(n).map((_, i) => i % 251);
    const c = child();
    const w = c.stdin.getWriter();
    await w.write(data);
    await w.close();
    const out = JSON.parse(new TextDecoder().decode((await c.output()).stdout));
    assert.deepEqual(out, { whole: n <= 1000, length: n, sum: data.reduce((a, b) => a + b, 0) }, `${n} bytes`);
  }
});

Deno.test("cli: with stdin still open, encrypt refuses an existing output and decrypt a key it cannot load at once", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await Deno.writeTextFile(ws.path("exists"), "keep me");
  await Deno.writeFile(ws.path("small"), new Uint8Array([1, 2, 3]));
  assertOk(await ws.run(["encrypt", "-k", "local:A.key", "small", "-o", "small.envl"]));
  const env = await cliEnv(ws.dir);
  /** Runs the CLI with `first` on stdin and the pipe held open: it must end by itself, long before the 20 s bound. */
  const openStdin = async (args: string[], first: Uint8Array) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), join(REPO, "src/cli/bin.ts"), ...args],
      cwd: ws.dir,
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(first);
    const started = performance.now();
    const out = await child.output();
    const ms = performance.now() - started;
    await w.close().catch(() => {});
    const r = { code: out.code, stdout: "", stdoutBytes: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
    assert.ok(ms < 15_000, `it waited for stdin to end (${Math.round(ms)} ms)\n${show(r)}`);
    return r;
  };
  assertFailed(await openStdin(["encrypt", "-k", "local:A.key", "-o", "exists"], new Uint8Array([7])), "OUTPUT_EXISTS");
  assert.equal(await Deno.readTextFile(ws.path("exists")), "keep me");
  const sealed = await Deno.readFile(ws.path("small.envl"));
  assertFailed(await openStdin(["decrypt", "-k", "local:missing.key", "-o", "-"], sealed), "INVALID_KEY");
});
