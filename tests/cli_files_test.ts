/**
 * The CLI's files (src/cli/files.ts, output_file.ts, temp_files.ts,
 * io_errors.ts) and key files (src/keys/local_file.ts): devices, FIFOs and
 * /dev/stdout as outputs, links, no replacement in a race, the umask,
 * temporaries left by killed runs, typed disk errors, FIFO inputs, bounded
 * key-file reads and the library's permission hook. Issue 12.
 */
import assert from "node:assert/strict";
import { decrypt } from "../src/envelope/decrypt.ts";
import { encrypt } from "../src/envelope/encrypt.ts";
import { atomicOutput, ioError } from "../src/cli/files.ts";
import { temporaryOwner } from "../src/cli/temp_files.ts";
import { isEnvelopeError } from "../src/errors.ts";
import type { FileHandle } from "../src/host/fs.ts";
import { LocalKey } from "../src/keys/local.ts";
import { createLocalKeyFile, loadLocalKeyFile, loadOrCreateLocalKey } from "../src/keys/local_file.ts";
import { cliArgv, cliEnv, type CliResult, leftovers, randomBytes, show, workspace } from "./support/cli.ts";
import { kindOf, mkfifo, mknodChar, needRoot, readFifo, writeFifo } from "./support/system.ts";

function assertFailed(r: CliResult, code: string): void {
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), show(r));
  assert.match(r.stderr, /^hint: \S/m, show(r));
}

async function writeKey(path: string): Promise<LocalKey> {
  const key = await LocalKey.generate();
  await Deno.writeTextFile(path, key.toText(), { mode: 0o600 });
  return key;
}

Deno.test("output: a character device made with mknod is written directly, never replaced, with or without --force", async () => {
  if (!needRoot("writing a device node")) return;
  await using ws = await workspace();
  const key = await writeKey(ws.path("k"));
  await Deno.writeFile(ws.path("data"), randomBytes(100_000));
  const k = ["-k", "local:k"];
  await mknodChar(ws.path("null"), 1, 3); // what /dev/null is, in our own folder
  let r = await ws.run(["encrypt", "data", ...k, "-o", "null"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(kindOf(ws.path("null")), "char", "the device became something else");
  r = await ws.run(["encrypt", "data", ...k, "-o", "null", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(kindOf(ws.path("null")), "char", "--force renamed a file over the device");
  await Deno.writeFile(ws.path("data.envl"), await encrypt(await Deno.readFile(ws.path("data")), { keys: key }));
  r = await ws.run(["decrypt", "data.envl", ...k, "-o", "null", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(kindOf(ws.path("null")), "char");
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("output: a FIFO is written directly and stays a FIFO", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  const data = randomBytes(300_000);
  await Deno.writeFile(ws.path("data"), data);
  assert.equal((await ws.run(["encrypt", "data", "-k", "local:k"])).code, 0);
  await mkfifo(ws.path("pipe"));
  const reading = readFifo(ws.path("pipe"));
  const r = await ws.run(["decrypt", "data.envl", "-k", "local:k", "-o", "pipe"]);
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await reading, data, "the reader got the plaintext");
  assert.equal(kindOf(ws.path("pipe")), "fifo");
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("output: /dev/stdout and /dev/fd/1 need no --force, and the result line stays out of the data", async () => {
  await using ws = await workspace();
  const key = await writeKey(ws.path("k"));
  const data = randomBytes(70_000);
  await Deno.writeFile(ws.path("data"), data);
  for (const out of ["/dev/stdout", "/dev/fd/1"]) {
    const r = await ws.run(["encrypt", "data", "-k", "local:k", "-o", out]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await decrypt(r.stdoutBytes, { keys: key }), data, `${out}: stdout holds exactly the message`);
    assert.match(r.stderr, new RegExp(`encrypted to ${out}`), "the result line went to stderr");
  }
});

Deno.test("output: a link is written through to its target and stays a link; a dangling link is refused", async () => {
  await using ws = await workspace();
  const key = await writeKey(ws.path("k"));
  const other = await writeKey(ws.path("k2"));
  const data = randomBytes(50_000);
  await Deno.writeFile(ws.path("data"), data);
  await Deno.mkdir(ws.path("real"));
  await Deno.writeTextFile(ws.path("real/target.envl"), "old");
  await Deno.symlink("real/target.envl", ws.path("link.envl"));

  let r = await ws.run(["encrypt", "data", "-k", "local:k", "-o", "link.envl"]);
  assertFailed(r, "OUTPUT_EXISTS");
  r = await ws.run(["encrypt", "data", "-k", "local:k", "-o", "link.envl", "--force"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(kindOf(ws.path("link.envl")), "symlink", "the link was replaced by a file");
  assert.deepEqual(await decrypt(await Deno.readFile(ws.path("real/target.envl")), { keys: key }), data);

  // rewrap in place through the link: the target is rewritten beside itself, the link kept.
  await Deno.chmod(ws.path("real/target.envl"), 0o640);
  r = await ws.run(["rewrap", "link.envl", "-u", "local:k", "-k", "local:k2"]);
  assert.equal(r.code, 0, show(r));
  assert.equal(kindOf(ws.path("link.envl")), "symlink", "rewrap replaced the link by a file");
  assert.equal(Deno.statSync(ws.path("real/target.envl")).mode! & 0o777, 0o640);
  assert.deepEqual(await decrypt(await Deno.readFile(ws.path("real/target.envl")), { keys: other }), data);
  assert.deepEqual(await leftovers(ws.dir), []);
  assert.deepEqual(await leftovers(ws.path("real")), []);

  await Deno.symlink("nowhere/x", ws.path("dangling"));
  for (const force of [[], ["--force"]]) {
    r = await ws.run(["decrypt", "link.envl", "-k", "local:k", "-o", "dangling", ...force]);
    assertFailed(r, "OUTPUT_UNSAFE");
    assert.equal(kindOf(ws.path("dangling")), "symlink");
  }
  assert.equal(Deno.readLinkSync(ws.path("dangling")), "nowhere/x");
});

Deno.test("commit: a file that appears after atomicOutput() is kept and the write fails with OUTPUT_EXISTS", async () => {
  await using ws = await workspace();
  const target = ws.path("out");
  const out = await atomicOutput(target, { force: false });
  assert.match(out.tempPath, new RegExp(`/\\.out\\.envelope-${Deno.pid}-[0-9a-f]{12}\\.part$`));
  assert.equal(temporaryOwner(out.tempPath.split("/").pop()!, false), Deno.pid);
  const w = out.stream.getWriter();
  await w.write(new TextEncoder().encode("ours"));
  await w.close();
  await Deno.writeTextFile(target, "precious"); // someone else's file, in the window
  const err = await out.commit().catch((e) => e);
  assert.ok(isEnvelopeError(err, "OUTPUT_EXISTS"), String(err));
  assert.equal(await Deno.readTextFile(target), "precious");
  assert.deepEqual(await leftovers(ws.dir), []);
  // With force, a regular file is replaced.
  const forced = await atomicOutput(target, { force: true });
  await forced.stream.getWriter().close();
  await forced.commit();
  assert.equal(await Deno.readTextFile(target), "");
});

/** Runs the CLI under `sh -c 'umask MASK; exec deno ...'`. */
async function runUnderUmask(mask: string, args: string[], cwd: string, home: string): Promise<CliResult> {
  const argv = [Deno.execPath(), ...cliArgv(args)].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const out = await new Deno.Command("sh", {
    args: ["-c", `umask ${mask}; exec ${argv}`],
    cwd,
    clearEnv: true,
    env: await cliEnv(home),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stdoutBytes: out.stdout, stderr: text.decode(out.stderr) };
}

Deno.test("umask: outputs honour it (0600 under 077, 0644 under 022); rewrap in place keeps the file's mode", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  await writeKey(ws.path("k2"));
  await Deno.writeFile(ws.path("data"), randomBytes(1000));
  const mode = (p: string) => Deno.statSync(ws.path(p)).mode! & 0o777;
  let r = await runUnderUmask("077", ["encrypt", "data", "-k", "local:k"], ws.dir, ws.home);
  assert.equal(r.code, 0, show(r));
  assert.equal(mode("data.envl"), 0o600);
  r = await runUnderUmask("077", ["decrypt", "data.envl", "-k", "local:k", "-o", "plain77"], ws.dir, ws.home);
  assert.equal(r.code, 0, show(r));
  assert.equal(mode("plain77"), 0o600, "plaintext readable by others under umask 077");
  r = await runUnderUmask("022", ["decrypt", "data.envl", "-k", "local:k", "-o", "plain22"], ws.dir, ws.home);
  assert.equal(r.code, 0, show(r));
  assert.equal(mode("plain22"), 0o644);
  await Deno.chmod(ws.path("data.envl"), 0o640);
  r = await runUnderUmask("077", ["rewrap", "data.envl", "-u", "local:k", "-k", "local:k2"], ws.dir, ws.home);
  assert.equal(r.code, 0, show(r));
  assert.equal(mode("data.envl"), 0o640);
});

Deno.test("killed runs: temporaries of a dead process are swept with a note; live and look-alike files are kept", async () => {
  await using ws = await workspace();
  await writeKey(ws.path("k"));
  await Deno.writeFile(ws.path("data"), randomBytes(1000));
  const done = await new Deno.Command("true").spawn();
  const deadPid = done.pid;
  await done.status;
  const stale = `.data.envl.envelope-${deadPid}-0123456789ab.part`;
  const live = `.data.envl.envelope-${Deno.pid}-0123456789ab.part`;
  const lookAlikes = [".data.envl.0123456789ab.part", `data.envelope-${deadPid}-0123456789ab.part`, "notes.part"];
  for (const name of [stale, live, ...lookAlikes]) await Deno.writeTextFile(ws.path(name), "partial plaintext");
  const r = await ws.run(["encrypt", "data", "-k", "local:k"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, new RegExp(`^note: removed 1 temporary file.*${stale.replaceAll(".", "\\.")}`, "m"));
  const names = [...Deno.readDirSync(ws.dir)].map((e) => e.name);
  assert.ok(!names.includes(stale), "the stale temporary is still there");
  for (const keep of [live, ...lookAlikes]) assert.ok(names.includes(keep), `${keep} was removed`);
});

Deno.test("killed runs: a folder's first entries are swept by every run, the rest of a large one by a share of runs", async () => {
  const { sweepChance, sweepStale, SWEEP_ALWAYS_BYTES } = await import("../src/cli/temp_files.ts");
  assert.equal(sweepChance(0), 1);
  assert.equal(sweepChance(SWEEP_ALWAYS_BYTES), 1);
  assert.equal(sweepChance(4 * SWEEP_ALWAYS_BYTES), 0.25);
  const done = await new Deno.Command("true").spawn();
  await done.status;
  const staleName = (i: number) => `.data${i}.envl.envelope-${done.pid}-0123456789ab.part`;
  await using ws = await workspace();
  /** A folder of `files` empty files (48-byte names, so 1,000 of them pass SWEEP_ALWAYS_BYTES on ext4) and `stale` stale temporaries. */
  const folder = async (name: string, files: number, stale: number) => {
    const dir = ws.path(name);
    await Deno.mkdir(dir);
    for (let i = 0; i < files; i++) await Deno.writeFile(`${dir}/${String(i).padStart(48, "0")}`, new Uint8Array(0));
    for (let i = 0; i < stale; i++) await Deno.writeTextFile(`${dir}/${staleName(i)}`, "partial plaintext");
    return dir;
  };
  const left = (dir: string) => [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".envelope-")).length;
  const never = () => 0.99; // a draw over every chance under 1
  // A small folder is read whole whatever the draw.
  const small = await folder("small", 10, 3);
  assert.equal((await sweepStale(small, { draw: never, always: 20 })).length, 3);
  assert.equal(left(small), 0);
  // A large folder on a draw over its chance: only the entries read first are looked at (here 10 of 1,040).
  const large = await folder("large", 1000, 40);
  const size = Deno.statSync(large).size;
  assert.ok(size > SWEEP_ALWAYS_BYTES, `the folder's size ${size} did not pass ${SWEEP_ALWAYS_BYTES}`);
  const some = await sweepStale(large, { draw: never, always: 10 });
  assert.ok(some.length <= 10, `${some.length} removed from the first 10 entries`);
  assert.equal(left(large), 40 - some.length);
  // On a draw under its chance the whole folder is read.
  const taken = await folder("taken", 1000, 40);
  assert.equal((await sweepStale(taken, { draw: () => 0, always: 10 })).length, 40);
  assert.equal(left(taken), 0);
  // Large on disk but nearly empty (ext4 folders never shrink): read whole, whatever the draw.
  const shrunk = await folder("shrunk", 1000, 0);
  for (const e of [...Deno.readDirSync(shrunk)]) await Deno.remove(`${shrunk}/${e.name}`);
  await Deno.writeTextFile(`${shrunk}/${staleName(0)}`, "partial plaintext");
  assert.ok(Deno.statSync(shrunk).size > SWEEP_ALWAYS_BYTES, "the emptied folder shrank");
  assert.deepEqual(await sweepStale(shrunk, { draw: never, always: 10 }), [staleName(0)]);
});

Deno.test("typed errors: ENOSPC and EDQUOT are NO_SPACE, EROFS is READ_ONLY, each with a hint naming the folder", () => {
  const fail = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
  for (const [code, want] of [["ENOSPC", "NO_SPACE"], ["EDQUOT", "NO_SPACE"], ["EROFS", "READ_ONLY"]] as const) {
    const e = ioError("Writing", "/mnt/full/out.bin", fail(code));
    assert.equal(e.code, want);
    assert.match(e.message, /^Writing \/mnt\/full\/out\.bin failed: /);
    assert.match(e.hint!, /\/mnt\/full/);
  }
  assert.equal(ioError("Writing", "/x/y", fail("ENOSPC")).hint, "free space on /x or write elsewhere");
});

Deno.test("inputs: a FIFO is read sequentially (encrypt and decrypt)", async () => {
  await using ws = await workspace();
  const key = await writeKey(ws.path("k"));
  const data = randomBytes(700_000);
  await mkfifo(ws.path("in"));
  // A failed run closes the FIFO early: the writer's error is the run's, not the test's.
  let feeding = writeFifo(ws.path("in"), data).catch(() => {});
  let r = await ws.run(["encrypt", "in", "-k", "local:k", "-o", "sealed"]);
  await feeding;
  assert.equal(r.code, 0, show(r));
  const sealed = await Deno.readFile(ws.path("sealed"));
  assert.deepEqual(await decrypt(sealed, { keys: key }), data);
  feeding = writeFifo(ws.path("in"), sealed).catch(() => {});
  r = await ws.run(["decrypt", "in", "-k", "local:k", "-o", "plain"]);
  await feeding;
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(await Deno.readFile(ws.path("plain")), data);
});

Deno.test("key files: a FIFO, a device and a huge sparse file are refused before they are read", async () => {
  await using ws = await workspace();
  await Deno.writeFile(ws.path("data"), randomBytes(100));
  await mkfifo(ws.path("fifo.key"));
  const f = await Deno.open(ws.path("sparse.key"), { write: true, create: true, mode: 0o600 });
  await f.truncate(3 * 1024 ** 3);
  f.close();
  const cases: [string, RegExp][] = [["fifo.key", /not a regular file/], ["sparse.key", /too large/]];
  if (needRoot("a key file that is a device")) {
    await mknodChar(ws.path("zero.key"), 1, 5);
    cases.push(["zero.key", /not a regular file/]);
  }
  for (const [name, why] of cases) {
    const started = Date.now();
    const r = await ws.run(["encrypt", "data", "-k", `local:${name}`], { timeoutMs: 30_000 });
    assertFailed(r, "INVALID_KEY");
    assert.match(r.stderr, why, show(r));
    assert.ok(Date.now() - started < 20_000, `${name}: refusing took ${Date.now() - started} ms`);
  }
});

Deno.test("key files: the library reports a key file others can read as the hook says", async () => {
  await using ws = await workspace();
  const path = ws.path("local.key");
  const made = await createLocalKeyFile(path);
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  assert.equal((await loadLocalKeyFile(path, { onInsecurePermissions: "throw" })).keyId, made.keyId);
  await Deno.chmod(path, 0o604);
  const warned: unknown[] = [];
  const real = console.warn;
  console.warn = (...args: unknown[]) => void warned.push(args.join(" "));
  try {
    await loadLocalKeyFile(path);
    await loadLocalKeyFile(path, { onInsecurePermissions: "ignore" });
  } finally {
    console.warn = real;
  }
  assert.equal(warned.length, 1, "the default warns once per load, ignore is silent");
  assert.match(String(warned[0]), /local\.key.*0604.*chmod 600/);
  const err = await loadLocalKeyFile(path, { onInsecurePermissions: "throw" }).catch((e) => e);
  assert.ok(isEnvelopeError(err, "INVALID_KEY"));
  assert.match(err.hint ?? "", /chmod 600/);
  const seen: number[] = [];
  await loadLocalKeyFile(path, { onInsecurePermissions: (_p, mode) => seen.push(mode) });
  assert.deepEqual(seen, [0o604]);
});

Deno.test("key files: keygen writes whole keys through a temporary file and leaves none behind", async () => {
  await using ws = await workspace();
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, () => createLocalKeyFile(ws.path("keys", "one.key"))),
  );
  const made = results.filter((r) => r.status === "fulfilled");
  assert.equal(made.length, 1, "exactly one concurrent create succeeds");
  for (const r of results) {
    if (r.status === "rejected") assert.ok(isEnvelopeError(r.reason, "OUTPUT_EXISTS"), String(r.reason));
  }
  const loaded = await loadLocalKeyFile(ws.path("keys", "one.key"));
  assert.equal(loaded.keyId, (made[0] as PromiseFulfilledResult<LocalKey>).value.keyId);
  assert.deepEqual([...Deno.readDirSync(ws.path("keys"))].map((e) => e.name), ["one.key"]);
});

Deno.test("key files: concurrent first uses all get the one key, never a half-written file", async () => {
  await using ws = await workspace();
  for (let round = 0; round < 20; round++) {
    const path = ws.path(`round-${round}`, "local.key");
    let created = 0;
    const keys = await Promise.all(
      Array.from({ length: 10 }, () => loadOrCreateLocalKey(path, () => created++, { onInsecurePermissions: "throw" })),
    );
    assert.equal(created, 1, `round ${round}: one caller creates the key`);
    assert.equal(new Set(keys.map((k) => k.keyId)).size, 1, `round ${round}: the callers got different keys`);
  }
});

Deno.test("key files: keygen --force replaces a key file through a link, never a device or FIFO", async () => {
  await using ws = await workspace();
  const first = await createLocalKeyFile(ws.path("real.key"));
  await Deno.symlink("real.key", ws.path("link.key"));
  const second = await createLocalKeyFile(ws.path("link.key"), { force: true });
  assert.equal(kindOf(ws.path("link.key")), "symlink");
  assert.notEqual(first.keyId, second.keyId);
  assert.equal((await loadLocalKeyFile(ws.path("real.key"))).keyId, second.keyId);
  await mkfifo(ws.path("fifo"));
  const r = await ws.run(["keygen", "-o", "fifo", "--force"]);
  assertFailed(r, "OUTPUT_UNSAFE");
  assert.equal(kindOf(ws.path("fifo")), "fifo");
  assert.deepEqual(await leftovers(ws.dir), []);
});

Deno.test("inputs: a file read with its size known gives every byte, also when it grew after the size was taken", async () => {
  const { fileHandleStream } = await import("../src/cli/files.ts");
  const { open } = await import("node:fs/promises");
  const dir = await Deno.makeTempDir();
  try {
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    const path = `${dir}/f`;
    await Deno.writeFile(path, data);
    for (const size of [0, 1, 4096, 59_999, 60_000]) {
      const got = new Uint8Array(
        await new Response(fileHandleStream(await open(path, "r"), 0, "f", size)).arrayBuffer(),
      );
      assert.deepEqual(got, data, `size ${size}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The host's file handle, with its synchronous reads counted. */
function countingSyncReads(real: FileHandle): { handle: FileHandle; readonly syncReads: number } {
  let syncReads = 0;
  const handle: FileHandle = {
    ...real,
    readSync: real.readSync && ((...a: Parameters<NonNullable<FileHandle["readSync"]>>) => {
      syncReads++;
      return real.readSync!(...a);
    }),
  };
  return {
    handle,
    get syncReads() {
      return syncReads;
    },
  };
}

Deno.test("inputs: a file that says it is empty is never read on the JavaScript thread (/proc/kmsg waits in read)", async () => {
  const { fileHandleStream } = await import("../src/cli/files.ts");
  const { open } = await import("../src/host/fs.ts");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    // A kmsg-like file reports size 0 yet has (or waits for) bytes: its reads must go to the thread pool, where a
    // wait stops nothing else.
    const empty = countingSyncReads(await open(path, "r"));
    const got = new Uint8Array(await new Response(fileHandleStream(empty.handle, 0, "f", 0)).arrayBuffer());
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    assert.equal(empty.syncReads, 0, "a size-0 file was read synchronously");
    // The control: a small file that says its size is read on the JavaScript thread under Deno.
    const sized = countingSyncReads(await open(path, "r"));
    assert.deepEqual(new Uint8Array(await new Response(fileHandleStream(sized.handle, 0, "f", 3)).arrayBuffer()), got);
    assert.ok(sized.syncReads > 0, "the small-file path did not read synchronously at all");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
