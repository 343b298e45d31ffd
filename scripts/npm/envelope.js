#!/usr/bin/env node
// The `envelope` command of the npm package (written by scripts/build_npm.ts
// from scripts/npm/envelope.js). Deno runs the CLI from mod.ts's
// `import.meta.main` block; Node runs it from here.
import process from "node:process";
import { main } from "../src/cli/main.js";

const code = await main(process.argv.slice(2));
// Let what the CLI wrote reach a pipe or file before exiting (process.exit
// does not wait for pending asynchronous writes); exit explicitly so an open
// handle (an SDK's keep-alive socket) cannot keep the process alive.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((done) => s.write("", done))));
process.exit(code);
