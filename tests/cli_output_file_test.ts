/**
 * Atomic outputs of the CLI run as a user runs it (src/cli/output_file.ts, src/cli/temp_files.ts):
 * no output file and no temporary file remain after any failure, nor after SIGINT, SIGTERM or SIGHUP.
 */
import assert from "node:assert/strict";
import { cliArgv, cliEnv, leftovers, pathExists, randomBytes, show, workspace } from "./support/cli.ts";
import { assertFailed, assertOk, inspectJson, writeKey } from "./support/cli_asserts.ts";

/** Offsets in a header whose context is exactly `{ app: "x" }`. */
const SALT_OFFSET = 14;
const TAG_OFFSET = 8 + 1 + 1 + 4 + 32 + (2 + 2 + 3 + 2 + 1) + 32;

Deno.test("cli: no output file and no temporary file remain after any failure", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  await writeKey(ws.path("B.key"));
  const secretsOf = async (name: string) => (await Deno.readTextFile(ws.path(name))).trim().split(":")[1];
  const secrets = [await secretsOf("A.key"), await secretsOf("B.key")];
  // 3 MiB and a bit: 49 chunks, so a tampered last chunk fails after 3 MiB were written to the temporary file.
  const data = randomBytes(3 * 1024 * 1024 + 123);
  await Deno.writeFile(ws.path("plain"), data);
  let r = await ws.run(["encrypt", "plain", "-k", "local:A.key", "-c", "app=x", "-o", "good.envl"]);
  assertOk(r);
  const good = await Deno.readFile(ws.path("good.envl"));
  const headerLength = (await inspectJson(ws, "good.envl")).headerLength as number;
  const flip = (at: number) => {
    const t = good.slice();
    t[at] ^= 0x01;
    return t;
  };
  const full = 65536 + 16;

  const cases: { name: string; file: Uint8Array; args?: string[]; code: string }[] = [
    { name: "a flipped byte in the last chunk", file: flip(good.length - 5), code: "PAYLOAD_AUTH_FAILED" },
    { name: "a flipped byte in the first chunk", file: flip(headerLength + 10), code: "PAYLOAD_AUTH_FAILED" },
    { name: "a flipped byte in the salt", file: flip(SALT_OFFSET + 3), code: "KEY_COMMITMENT_MISMATCH" },
    { name: "a flipped byte in the header tag", file: flip(TAG_OFFSET + 7), code: "HEADER_AUTH_FAILED" },
    { name: "truncated at a chunk boundary", file: good.slice(0, headerLength + 10 * full), code: "TRUNCATED" },
    { name: "truncated inside a chunk", file: good.slice(0, good.length - 60), code: "PAYLOAD_AUTH_FAILED|TRUNCATED" },
    { name: "truncated inside the header", file: good.slice(0, 60), code: "TRUNCATED|HEADER_INVALID" },
    { name: "a wrong key", file: good, args: ["-k", "local:B.key"], code: "NO_KEY_MATCHED" },
    { name: "a wrong context", file: good, args: ["-k", "local:A.key", "-c", "app=y"], code: "CONTEXT_MISMATCH" },
    { name: "a missing key file", file: good, args: ["-k", "local:missing.key"], code: "INVALID_KEY" },
  ];
  for (const [i, c] of cases.entries()) {
    const input = `case-${i}.envl`;
    await Deno.writeFile(ws.path(input), c.file);
    r = await ws.run(["decrypt", input, ...(c.args ?? ["-k", "local:A.key"])]);
    assertFailed(r, c.code);
    for (const secret of secrets) assert.ok(!r.stderr.includes(secret), `${c.name}: stderr quotes key material`);
    assert.equal(await pathExists(ws.path(`case-${i}`)), false, `${c.name}: the output exists`);
    assert.deepEqual(await leftovers(ws.dir), [], `${c.name}: temporary files remain`);
  }

  // An existing output: refused without --force and left as it was; with
  // --force a failing decrypt still leaves it as it was; a good one replaces it.
  await Deno.writeTextFile(ws.path("out"), "precious");
  r = await ws.run(["decrypt", "good.envl", "-k", "local:A.key", "-o", "out"]);
  assertFailed(r, "OUTPUT_EXISTS");
  assert.equal(await Deno.readTextFile(ws.path("out")), "precious");
  r = await ws.run(["decrypt", "case-0.envl", "-k", "local:A.key", "-o", "out", "--force"]);
  assertFailed(r, "PAYLOAD_AUTH_FAILED");
  assert.equal(await Deno.readTextFile(ws.path("out")), "precious", "a failed decrypt replaced the file");
  r = await ws.run(["decrypt", "good.envl", "-k", "local:A.key", "-o", "out", "--force"]);
  assertOk(r);
  assert.deepEqual(await Deno.readFile(ws.path("out")), data);

  // Encrypt refuses an existing output the same way.
  r = await ws.run(["encrypt", "plain", "-k", "local:A.key", "-o", "good.envl"]);
  assertFailed(r, "OUTPUT_EXISTS");
  assert.deepEqual(await Deno.readFile(ws.path("good.envl")), good);
  // An output folder that does not exist.
  r = await ws.run(["decrypt", "good.envl", "-k", "local:A.key", "-o", "no/such/dir/out"]);
  assertFailed(r, "IO_FAILED");
  assert.equal(await pathExists(ws.path("no")), false);
  // To stdout, verified chunks stream out; a tampered last chunk still ends in exit 1 and an error.
  r = await ws.run(["decrypt", "-", "-k", "local:A.key"], { stdin: flip(good.length - 5) });
  assert.equal(r.code, 1, show({ ...r, stdout: "" }));
  assert.match(r.stderr, /^error: .*\[PAYLOAD_AUTH_FAILED\]$/m);
  assert.ok(r.stdoutBytes.length < data.length, "the output ends early");
  assert.deepEqual(r.stdoutBytes, data.subarray(0, r.stdoutBytes.length), "what was released had verified");
  // A folder without -d, and an output that is a folder.
  await Deno.mkdir(ws.path("folder"));
  r = await ws.run(["encrypt", "folder", "-k", "local:A.key"]);
  assertFailed(r, "IO_FAILED");
  assert.match(r.stderr, /-d/, "the hint suggests -d");
  r = await ws.run(["decrypt", "good.envl", "-k", "local:A.key", "-o", "folder"]);
  assertFailed(r, "OUTPUT_EXISTS|IO_FAILED");
  assert.deepEqual([...Deno.readDirSync(ws.path("folder"))], []);
  // An input that does not exist.
  r = await ws.run(["encrypt", "absent", "-k", "local:A.key"]);
  assertFailed(r, "IO_FAILED");
  assert.equal(await pathExists(ws.path("absent.envl")), false);
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("cli: an interrupted decrypt (SIGINT, SIGTERM, SIGHUP; file or -d) leaves no output and no temporary file", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("A.key"));
  const data = randomBytes(2 * 1024 * 1024);
  await Deno.writeFile(ws.path("plain"), data);
  // A zip is as good a plaintext as any: -d only looks at it after it verified.
  assertOk(await ws.run(["encrypt", "plain", "-k", "local:A.key", "-o", "good.envl"]));
  const good = await Deno.readFile(ws.path("good.envl"));
  const runs = [["SIGINT", "-o"], ["SIGTERM", "-o"], ["SIGHUP", "-o"], ["SIGINT", "-d"]] as const;
  for (const [signal, how] of runs) {
    // Half the message on stdin, then the CLI waits for the rest with its
    // temporary output (a file, or with -d the folder holding the archive) open.
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgv(["decrypt", "-", "-k", "local:A.key", how, `out-${signal}`]),
      cwd: ws.dir,
      clearEnv: true,
      env: await cliEnv(ws.home),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(good.subarray(0, good.length >> 1));
    const deadline = Date.now() + 30_000;
    while ((await leftovers(ws.dir)).length === 0) {
      assert.ok(Date.now() < deadline, "the temporary output never appeared");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill(signal);
    const out = await child.output();
    await w.close().catch(() => {});
    assert.notEqual(out.code, 0, `${signal} ${how}: the CLI reported success`);
    assert.equal(await pathExists(ws.path(`out-${signal}`)), false);
    assert.deepEqual(
      await leftovers(ws.dir),
      [],
      `${signal} ${how}: a temporary file with part of the plaintext remains`,
    );
  }
});

Deno.test("output file: chunks of any size, gathered into larger writes, land in order, even when the writer reuses its buffer", async () => {
  const { writeOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-gather-" });
  try {
    const sizes = [1, 65_552, 1 << 20, 3, (2 << 20) + 5, 70_000, 262_143, 196_600, 65_536, 1_048_575, 2, 4096];
    const expected = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    crypto.getRandomValues(expected.subarray(0, 65_536));
    for (let i = 65_536; i < expected.length; i++) expected[i] = (i * 31) & 0xff;
    // One buffer, refilled for every chunk once the previous write resolved, as a recycling producer does.
    const scratch = new Uint8Array(Math.max(...sizes));
    let at = 0;
    let k = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (k === sizes.length) return controller.close();
        const n = sizes[k++];
        scratch.set(expected.subarray(at, at + n));
        at += n;
        controller.enqueue(scratch.subarray(0, n));
      },
    }, { highWaterMark: 0 });
    await writeOutput(source, `${dir}/out`, { force: false });
    const got = await Deno.readFile(`${dir}/out`);
    assert.equal(got.length, expected.length);
    assert.ok(got.every((b, i) => b === expected[i]), "the bytes differ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("input file: a regular file that grows while it is read is read to its end", async () => {
  const { fileHandleStream } = await import("../src/cli/files.ts");
  const { open } = await import("../src/host/fs.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-grow-" });
  try {
    const path = `${dir}/log`;
    await Deno.writeTextFile(path, "0123456789");
    const reader = fileHandleStream(await open(path, "r"), 0, path, 10).getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), "0123456789");
    await Deno.writeTextFile(path, "abcde", { append: true });
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.equal(rest, "abcde");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("input file: a file whose size says less than it holds (/proc says 0) is read whole", async () => {
  if (Deno.build.os !== "linux") return;
  const { openInput } = await import("../src/cli/files.ts");
  const st = await Deno.stat("/proc/self/status");
  assert.equal(st.size, 0, "procfs reports size 0");
  const input = await openInput("/proc/self/status");
  const text = new TextDecoder().decode(await new Response(input.stream).arrayBuffer());
  assert.match(text, /^Name:/m);
  assert.ok(text.length > 100, `read ${text.length} bytes`);
});

Deno.test("output file: committing before the stream closed is refused and leaves nothing (the gathered bytes would be lost)", async () => {
  const { atomicOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-commit-" });
  try {
    const out = await atomicOutput(`${dir}/out`, { force: false });
    const writer = out.stream.getWriter();
    await writer.write(new TextEncoder().encode("all of the plaintext"));
    const err = await out.commit().then(() => undefined, (e) => e);
    assert.equal(err?.code, "IO_FAILED", String(err));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "no output and no temporary file");
    await writer.abort().catch(() => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output file: a large output is data-synced as it grows (several syncs at a small interval), and lands whole and identical", async () => {
  const { atomicOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-syncs-" });
  try {
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const out = await atomicOutput(`${dir}/out`, { force: false, syncEvery: 128 * 1024 });
    const writer = out.stream.getWriter();
    // Chunks of every kind: smaller than the gathering buffer (gathered) and larger (written directly).
    const sizes = [1, 65_552, 300_000, 7, 1_048_576, 65_552];
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = Math.min(sizes[i % sizes.length], data.length - at);
      // A copy, reused afterwards: the writer may not keep the caller's buffer.
      const chunk = data.slice(at, at + n);
      await writer.write(chunk);
      chunk.fill(0);
      at += n;
      // A moment for the sync in flight (at most one at a time; one due meanwhile waits for the next write).
      if (n >= 65_552) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await writer.close();
    await out.commit();
    assert.ok(out.syncs >= 2, `${out.syncs} data syncs while 3 MiB were written 128 KiB apart`);
    assert.deepEqual(await Deno.readFile(`${dir}/out`), data);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out"], "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output file: a scratch output (decrypt -d's archive) is never synced, and still lands whole", async () => {
  const { atomicOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-scratch-" });
  const proto = Deno.FsFile.prototype;
  const { sync, syncData } = proto;
  const calls: string[] = [];
  proto.sync = function (this: Deno.FsFile) {
    calls.push("sync");
    return sync.call(this);
  };
  proto.syncData = function (this: Deno.FsFile) {
    calls.push("syncData");
    return syncData.call(this);
  };
  try {
    const data = randomBytes(1024 * 1024 + 17);
    const write = async (name: string, scratch: boolean) => {
      const out = await atomicOutput(`${dir}/${name}`, { force: false, syncEvery: 128 * 1024, scratch });
      const writer = out.stream.getWriter();
      for (let at = 0; at < data.length; at += 300_000) {
        await writer.write(data.slice(at, at + 300_000));
        await new Promise((resolve) => setTimeout(resolve, 5)); // a moment for a data sync, were one due
      }
      await writer.close();
      await out.commit();
      return out.syncs;
    };
    assert.equal(await write("scratch", true), 0);
    assert.equal(calls.join(", "), "", "a scratch output called fsync or fdatasync");
    assert.deepEqual(await Deno.readFile(`${dir}/scratch`), data);
    // The same writes to a kept output are synced: the spy sees what it should.
    await write("kept", false);
    assert.ok(calls.includes("sync"), `a kept output was not fsynced (${calls.join(", ")})`);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["kept", "scratch"]);
  } finally {
    proto.sync = sync;
    proto.syncData = syncData;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output file: a failure while data syncs are under way leaves no output and no temporary file", async () => {
  const { atomicOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-syncs-abort-" });
  try {
    const out = await atomicOutput(`${dir}/out`, { force: false, syncEvery: 64 * 1024 });
    const writer = out.stream.getWriter();
    for (let i = 0; i < 16; i++) await writer.write(randomBytes(300_000));
    await writer.abort(new Error("the message failed to verify"));
    await out.abort();
    assert.ok(out.syncs >= 1, `${out.syncs} data syncs before the failure`);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output file: when the temporary path no longer names the file being written, no data sync runs elsewhere and the write still ends with its fsync", async () => {
  const { atomicOutput } = await import("../src/cli/output_file.ts");
  const dir = await Deno.makeTempDir({ prefix: "envelope-syncs-swapped-" });
  try {
    const out = await atomicOutput(`${dir}/out`, { force: false, syncEvery: 64 * 1024 });
    // Something else at the temporary path (a folder writer swapped it): the syncer must refuse it.
    await Deno.rename(out.tempPath, `${dir}/moved`);
    await Deno.writeFile(out.tempPath, new Uint8Array(3));
    const writer = out.stream.getWriter();
    for (let i = 0; i < 4; i++) await writer.write(randomBytes(300_000));
    await writer.close();
    assert.equal(out.syncs, 0, "no sync through a descriptor of another file");
    assert.equal((await Deno.stat(`${dir}/moved`)).size, 1_200_000, "every byte went to the file being written");
    await out.abort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
