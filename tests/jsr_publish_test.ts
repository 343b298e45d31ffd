/**
 * The JSR route (`deno install -g -A -n envelope jsr:@envelope/envelope/cli`, `deno add jsr:@envelope/envelope`): JSR
 * cannot be reached from the development machine, so this checks what can be checked here, `deno publish --dry-run`:
 * the package passes JSR's checks (slow types, imports), ships the library, the CLI, the docs and the license, and
 * leaves out the tests, the web page and the lockfiles.
 */
import assert from "node:assert/strict";
import { REPO } from "./support/cli.ts";

Deno.test("jsr: deno publish --dry-run passes and lists the library, the CLI and the docs, not the tests", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /Dry run complete/);
  const files = text.split("\n").filter((line) => line.trim().startsWith(`file://${REPO}/`));
  const listed = (path: string) => text.includes(`${REPO}/${path} `);
  for (
    const f of [
      "mod.ts",
      "src/cli/bin.ts",
      "src/cli/main.ts",
      "src/import_later.ts",
      "src/kms/aws.ts",
      "docs/FORMAT.md",
      "README.md",
    ]
  ) {
    assert.ok(listed(f), `${f} is published`);
  }
  assert.ok(files.length > 50, `only ${files.length} files listed`);
  assert.ok(!text.includes(`${REPO}/tests/`), "no test file is published");
  assert.ok(!text.includes(`${REPO}/src/web/`), "the web page is not published");
  assert.ok(!text.includes(`${REPO}/deno.dev.lock`) && !text.includes(`${REPO}/deno.lock`), "no lockfile");
  // The one expected warning: importLater's import, which JSR cannot analyze (its targets are published files).
  const warnings = [...text.matchAll(/warning\[([a-z-]+)\]/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(warnings)], warnings.length ? ["unanalyzable-dynamic-import"] : []);
});
