/** `envelope`, `envelope help` and `envelope help CMD`: help on stdout, exit 0 (issue 13). */
import assert from "node:assert/strict";
import { show, workspace } from "./support/cli.ts";

Deno.test("cli: envelope alone and envelope help print the overview and exit 0; help CMD prints that command's help", async () => {
  await using ws = await workspace();
  for (const args of [[], ["help"]]) {
    const r = await ws.run(args);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Commands:$/m);
    assert.equal(r.stderr, "");
  }
  for (const c of ["encrypt", "decrypt", "rewrap"]) {
    const [a, b] = await Promise.all([ws.run(["help", c]), ws.run([c, "--help"])]);
    assert.equal(a.code, 0, show(a));
    assert.equal(a.stdout, b.stdout, `help ${c} is ${c} --help`);
    assert.match(a.stdout, new RegExp(`^Usage: envelope ${c}`));
  }
  const bad = await ws.run(["help", "nonsense"]);
  assert.equal(bad.code, 2, show(bad));
  assert.match(bad.stderr, /\[USAGE\]/);
});
