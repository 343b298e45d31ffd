/**
 * Provisions what `deno task test` needs before the suite starts, so the
 * README's test command passes on a fresh machine by itself:
 *
 * - Debian's Chromium (`/usr/bin/chromium`) for the browser tests: installed
 *   with apt-get when running as root, else one line saying how to get it.
 * - python3 with `cryptography`, `boto3` and `moto` (the independent Fernet
 *   and GCM peer, and the AWS KMS stand-in): checked, and a missing one
 *   reported with the command that installs it (machines of this project's
 *   kind come with all three).
 *
 * Under CI (`CI=true`) anything still missing is an error, so the suite fails
 * rather than skipping; on a developer machine it is a warning and the tests
 * that need it fail with their own message.
 *
 * @module
 */

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const ci = Deno.env.get("CI") === "true";
const problems: string[] = [];

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "piped" }).output();
    if (!out.success) console.error(new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n"));
    return out.success;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const isRoot = Deno.uid?.() === 0;

if (!(await exists(CHROMIUM))) {
  if (isRoot && CHROMIUM === "/usr/bin/chromium") {
    console.error("test setup: Chromium is missing; installing Debian's chromium with apt-get (once, a few minutes)");
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const ok = await run("apt-get", ["update", "-qq"], env) &&
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], env);
    if (!ok || !(await exists(CHROMIUM))) problems.push("apt-get install chromium failed");
  } else {
    problems.push(
      `Chromium is missing at ${CHROMIUM}: run \`sudo apt-get install chromium\` (Debian) or set CHROMIUM_PATH`,
    );
  }
}

if (!(await run("python3", ["-c", "import cryptography, boto3, moto"]))) {
  problems.push(
    "python3 with cryptography, boto3 and moto is missing: `pip install cryptography boto3 'moto[server]'`",
  );
}

for (const p of problems) console.error(`test setup: ${ci ? "error" : "warning"}: ${p}`);
if (ci && problems.length > 0) Deno.exit(1);
