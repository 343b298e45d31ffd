// Module customization hooks (module.register) for the laziness tests: every
// specifier the process resolves is appended to $ENVELOPE_HOOK_LOG (one per
// line, written synchronously so it is complete before the import settles),
// and with $ENVELOPE_DENY set, resolving a specifier that starts with it
// throws, as if the package were not installed at all.
import { appendFileSync } from "node:fs";
import process from "node:process";

const log = process.env.ENVELOPE_HOOK_LOG;
const deny = process.env.ENVELOPE_DENY;

export function resolve(specifier, context, next) {
  if (log) appendFileSync(log, specifier + "\n");
  if (deny && specifier.startsWith(deny)) {
    const err = new Error(`denied by sdk_hooks.mjs: ${specifier}`);
    err.code = "ERR_DENIED_BY_TEST_HOOK";
    throw err;
  }
  return next(specifier, context);
}
