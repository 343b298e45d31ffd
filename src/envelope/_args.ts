/**
 * The checks every public entry point of the envelope layer makes on its
 * arguments' JavaScript types before it reads or writes anything: a wrong
 * type is the caller's bug and a `TypeError` (src/errors.ts), never an
 * `EnvelopeError` and never a native "cannot read properties of undefined".
 *
 * @module
 */

/** The type of `value` as a caller would name it in a message. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof ArrayBuffer) return "an ArrayBuffer";
  const t = typeof value;
  if (t === "object") {
    return (value as object).constructor?.name ? `a ${(value as object).constructor.name}` : "an object";
  }
  return t === "undefined" ? "undefined" : `a ${t}`;
}

/** Throws a TypeError unless `value` is a Uint8Array; `what` names the argument ("encrypt() takes the plaintext"). */
export function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} as a Uint8Array, not ${typeName(value)}`);
}

/** Throws a TypeError unless `options` is an object (`fn` names the function: "encrypt()"). */
export function requireOptions(options: unknown, fn: string): asserts options is object {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${fn} takes an options object (with \`keys\`), not ${typeName(options)}`);
  }
}
