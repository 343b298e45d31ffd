/**
 * The core's shared vectors (`tests/vectors/core/`, generated from Python's
 * `cryptography` and the specifications; see `tests/vectors/README.md`), for
 * every test that runs them through a part of the library.
 *
 * @module
 */
import assert from "node:assert/strict";

const DIR = new URL("../vectors/core/", import.meta.url);

/** One AES-GCM vector (hex): the ciphertext and the tag apart. */
export interface GcmVector {
  key: string;
  iv: string;
  aad: string;
  pt: string;
  ct: string;
  tag: string;
  case?: number;
}

/** The vectors of `name` (a JSON array in tests/vectors/core/), which must not be empty. */
export async function loadCoreVectors<T>(name: string): Promise<T[]> {
  const v = JSON.parse(await Deno.readTextFile(new URL(name, DIR))) as T[];
  assert.ok(v.length > 0, `${name} is empty`);
  return v;
}
