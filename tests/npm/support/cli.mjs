// Running the installed `envelope` command the way users do: `npx envelope`
// in the install folder (or its node_modules/.bin/envelope, which npx runs), with a temporary HOME (so the default local key is
// made there) and a scratch folder, both removed after the file's tests.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

/** The install folder: the tests are copied to its top. */
export const INSTALL_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A temporary HOME and work folder for one test file, and `npx` bound to them. */
export function cliSandbox() {
  const home = mkdtempSync(join(tmpdir(), "envelope-npm-home-"));
  const work = mkdtempSync(join(tmpdir(), "envelope-npm-cli-"));
  after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
  const env = {
    ...process.env,
    HOME: home,
    USERPROFILE: home,
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    // The bin is local: npx needs no registry (and is seconds faster without looking).
    npm_config_offline: "true",
  };
  delete env.ENVELOPE_LOCAL_KEY;
  /** `npx --no -- envelope ARGS` (--no: never download; the local bin must be found). */
  const npx = (args, { input } = {}) => {
    const r = spawnSync("npx", ["--no", "--", "envelope", ...args], {
      cwd: INSTALL_DIR,
      env,
      encoding: "utf8",
      input,
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return r;
  };
  /** The installed bin directly (node_modules/.bin/envelope): what npx runs, without npm's start-up. */
  const bin = (args, { input } = {}) => {
    const r = spawnSync(join(INSTALL_DIR, "node_modules", ".bin", "envelope"), args, {
      cwd: INSTALL_DIR,
      env,
      encoding: "utf8",
      input,
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return r;
  };
  return { home, work, env, npx, bin };
}
