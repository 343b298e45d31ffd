/**
 * System helpers for the tests that need special files or mounts: FIFOs,
 * device nodes, tmpfs mounts, and the rule for tests that need root (in CI,
 * where CI=true and the job runs as root, a missing privilege fails the test;
 * elsewhere it is skipped with a printed reason).
 *
 * @module
 */

/** Runs a system command; throws with its stderr when it fails. */
export async function sh(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Makes a FIFO at `path`. */
export function mkfifo(path: string): Promise<void> {
  return sh("mkfifo", path);
}

/** Makes a character device node at `path` (root only): 1,3 is null, 1,5 is zero. */
export function mknodChar(path: string, major: number, minor: number): Promise<void> {
  return sh("mknod", path, "c", String(major), String(minor));
}

/**
 * True when this process is root. Otherwise: in CI (`CI=true`) throws, so
 * the test fails instead of passing unseen; elsewhere prints why `what` is
 * skipped and returns false.
 */
export function needRoot(what: string): boolean {
  if (Deno.uid() === 0) return true;
  if (Deno.env.get("CI") === "true") throw new Error(`${what} needs root (mknod, mount); CI must run it as root`);
  console.log(`skipping ${what}: it needs root (mknod, mount)`);
  return false;
}

/** The file type of `path` without following a link: "file", "dir", "symlink", "fifo", "char", "other". */
export function kindOf(path: string): string {
  const st = Deno.lstatSync(path);
  if (st.isSymlink) return "symlink";
  if (st.isFile) return "file";
  if (st.isDirectory) return "dir";
  if (st.isFifo) return "fifo";
  if (st.isCharDevice) return "char";
  return "other";
}

/** Reads everything a writer sends through the FIFO at `path` (opening it waits for the writer). */
export async function readFifo(path: string): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  const parts: Uint8Array[] = [];
  for await (const c of f.readable) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

/** Writes `data` into the FIFO at `path` (opening it waits for a reader). */
export async function writeFifo(path: string, data: Uint8Array): Promise<void> {
  const f = await Deno.open(path, { write: true });
  const w = f.writable.getWriter();
  await w.write(data);
  await w.close();
}

/** SHA-256 of `data` as hex. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}
