/**
 * Help and completion: every flag a command's parser accepts is in its help
 * text and so in the completion scripts (which are made from it); bash
 * completes commands and flags for real; `help --all` holds every command.
 */
import assert from "node:assert/strict";
import { COMMON_FLAGS, type FlagSpec } from "../src/cli/args.ts";
import { commandTable, flagsOf } from "../src/cli/commands/completions.ts";
import { USAGE } from "../src/cli/usage.ts";
import { show, workspace } from "./support/cli.ts";

const MODULES: Record<string, string> = {
  encrypt: "encrypt",
  decrypt: "decrypt",
  inspect: "inspect",
  rewrap: "rewrap",
  cat: "cat",
  keygen: "keygen",
  "key-id": "key_id",
  convert: "convert",
  "extract-key": "extract_key",
  "data-key": "data_key",
  "serve-keys": "serve_keys",
  "s3-cleanup": "s3_cleanup",
  policy: "policy",
  completions: "completions",
};

Deno.test("help: every flag each command's parser takes is listed in its help, with its short form", async () => {
  assert.deepEqual(
    commandTable().map((c) => c.name).sort(),
    Object.keys(MODULES).sort(),
    "the overview lists every command",
  );
  for (const [command, file] of Object.entries(MODULES)) {
    const mod = await import(`../src/cli/commands/${file}.ts`) as { FLAGS: readonly FlagSpec[] };
    const listed = new Map(flagsOf(command).map((f) => [f.long, f]));
    for (const spec of [...mod.FLAGS, ...COMMON_FLAGS]) {
      const f = listed.get(spec.name);
      assert.ok(f, `envelope ${command} --help does not list --${spec.name}`);
      assert.equal(f.short, spec.short, `envelope ${command} --help: the short form of --${spec.name}`);
      assert.equal(
        f.takesValue,
        spec.kind !== "boolean",
        `envelope ${command} --help: whether --${spec.name} takes a value`,
      );
    }
    for (const f of listed.keys()) {
      assert.ok(
        [...mod.FLAGS, ...COMMON_FLAGS].some((s) => s.name === f),
        `${command} --help lists --${f}, unknown to it`,
      );
    }
  }
});

Deno.test("completions: bash completes commands, a command's flags and help's topics; zsh and fish scripts name them", async () => {
  await using ws = await workspace();
  let r = await ws.run(["completions", "bash"]);
  assert.equal(r.code, 0, show(r));
  await Deno.writeTextFile(ws.path("envelope.bash"), r.stdout);
  const complete = async (...words: string[]) => {
    const script = `source ${ws.path("envelope.bash")}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}
_envelope; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = await new Deno.Command("bash", { args: ["-c", script], cwd: ws.dir, stdout: "piped", stderr: "piped" })
      .output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").sort();
  };
  assert.deepEqual(await complete("envelope", "de"), ["decrypt"]);
  assert.deepEqual(await complete("envelope", "encrypt", "--ar"), ["--armor"]);
  assert.ok((await complete("envelope", "decrypt", "--")).includes("--require-signed"));
  assert.deepEqual(await complete("envelope", "help", "key"), ["key-id", "keygen"]);
  await Deno.writeTextFile(ws.path("notes.txt"), "x");
  assert.deepEqual(await complete("envelope", "encrypt", "note"), ["notes.txt"], "files after the flags");

  r = await ws.run(["completions", "zsh"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^#compdef envelope$/m);
  assert.match(r.stdout, /encrypt\) _arguments -s .*'--armor\[/);
  r = await ws.run(["completions", "fish"]);
  assert.match(r.stdout, /^complete -c envelope -n '__fish_seen_subcommand_from encrypt' -l armor -s a -d /m);
  r = await ws.run(["completions", "tcsh"]);
  assert.equal(r.code, 2, show(r));
});

Deno.test("help --all: the overview and every command's help in one text", async () => {
  await using ws = await workspace();
  const r = await ws.run(["help", "--all"]);
  assert.equal(r.code, 0, show(r));
  for (const name of Object.keys(USAGE)) {
    const first = USAGE[name].split("\n")[0];
    assert.ok(r.stdout.includes(first), `help --all lacks ${name || "the overview"}`);
  }
});

Deno.test("help: each command lists only the key forms it accepts", async () => {
  await using ws = await workspace();
  const section = (text: string) => text.slice(text.indexOf("\nKeys"));
  assert.doesNotMatch(section(USAGE.encrypt), /kmstool:PATH/, "encrypt cannot wrap through kmstool");
  assert.match(section(USAGE.encrypt), /age1\.\.\./);
  assert.doesNotMatch(section(USAGE.decrypt), /^ {2}age1/m, "decrypt -k takes no age recipient");
  assert.match(section(USAGE.decrypt), /kmstool:PATH/);
  assert.match(section(USAGE.rewrap), /Keys to add \(-k\)[\s\S]*age1[\s\S]*\(-u\)[\s\S]*kmstool/);
  // And the commands behave as their help says.
  await Deno.writeTextFile(ws.path("f"), "x");
  let r = await ws.run(["encrypt", "f", "-k", "kmstool:/bin/false"]);
  assert.equal(r.code === 0, false, show(r));
  r = await ws.run(["keygen", "--age", "-o", "id.txt"]);
  const recipient = r.stdout.trim();
  r = await ws.run(["encrypt", "f", "-k", recipient]);
  assert.equal(r.code, 0, show(r));
  r = await ws.run(["decrypt", "f.envl", "-k", recipient, "-o", "g"]);
  assert.notEqual(r.code, 0, show(r));
  r = await ws.run(["decrypt", "f.envl", "-i", "id.txt", "-o", "g"]);
  assert.equal(r.code, 0, show(r));
});
