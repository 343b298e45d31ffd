/**
 * Debian's `age` binary (1.1.x: X25519 only) as the independent peer of the
 * age tests. `ageBinary()` finds it; when it is missing and this process is
 * root it runs `apt-get install -y age`; otherwise it throws, so a test never
 * passes without its peer (in CI or not).
 *
 * @module
 */

const PATH = Deno.env.get("AGE_PATH") ?? "/usr/bin/age";

async function present(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

let found: Promise<string> | undefined;

/** The path of a working `age` binary; installs Debian's package as root when it is missing. */
export function ageBinary(): Promise<string> {
  return found ??= (async () => {
    if (await present(PATH)) return PATH;
    if (Deno.uid() === 0) {
      const out = await new Deno.Command("apt-get", {
        args: ["install", "-y", "--no-install-recommends", "age"],
        env: { DEBIAN_FRONTEND: "noninteractive" },
        stdout: "null",
        stderr: "piped",
      }).output();
      if (out.success && await present(PATH)) return PATH;
      throw new Error(`installing age with apt-get failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    throw new Error(`the age tests need ${PATH} (apt-get install age, or set AGE_PATH)`);
  })();
}

/** Runs `age ARGS` with `stdin`; returns its stdout, or throws with its stderr. */
export async function runAge(args: readonly string[], stdin: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
  const child = new Deno.Command(await ageBinary(), {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(stdin);
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`age ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** A new X25519 identity made by `age-keygen` (beside the age binary): the file text and its recipient. */
export async function ageKeygen(): Promise<{ text: string; recipient: string }> {
  const keygen = (await ageBinary()).replace(/age$/, "age-keygen");
  const out = await new Deno.Command(keygen, { stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`age-keygen failed: ${new TextDecoder().decode(out.stderr)}`);
  const text = new TextDecoder().decode(out.stdout);
  const recipient = text.match(/^# public key: (age1\S+)$/m)?.[1];
  if (!recipient) throw new Error("age-keygen printed no public key");
  return { text, recipient };
}
