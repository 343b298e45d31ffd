/**
 * An input as the commands read it, whatever it came from (a file, stdin, an
 * object in a store): shared by `cli/files.ts` and `cli/object_io.ts`, so
 * neither imports the other for it.
 *
 * @module
 */

/** An input: its bytes as a stream, and its size when known. */
export interface Input {
  /** What to call it in messages: a path, `stdin` or a URL. */
  readonly name: string;
  /** Its bytes from the start (or from the offset asked for). */
  readonly stream: ReadableStream<Uint8Array>;
  /** Its size in bytes, when known. */
  readonly size?: number;
}
