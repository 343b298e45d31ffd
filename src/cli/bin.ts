/**
 * The `envelope` command as Deno runs it, without the library: the entry of
 * `deno install` (from a checkout: `deno install -g -A -n envelope --config
 * deno.json --frozen=false src/cli/bin.ts`; from JSR:
 * `jsr:@envelope/envelope/cli`) and of `deno task envelope`.
 *
 * `deno run -A mod.ts` runs the same CLI, but `mod.ts` first loads the whole
 * library that it exports (the ESM graph loads before its body runs), which
 * a run of the command pays for at every start: `deno task bench:startup`
 * has both columns. Node's `envelope` is the npm package's `bin/envelope.js`
 * (`scripts/npm/envelope.js`), which also flushes its output before exiting.
 *
 * @module
 */
import { args, exit } from "../host/process.ts";
import { main } from "./main.ts";

if (import.meta.main) exit(await main(args()));
