// `node --import ./register_sdk_hooks.mjs ...` installs sdk_hooks.mjs before
// the program's own imports run (Node 20.6+: module.register).
import { register } from "node:module";

register("./sdk_hooks.mjs", import.meta.url);
