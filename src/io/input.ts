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
  /**
   * Its bytes from the start (or from the offset asked for). For an input
   * read whole ({@linkcode Input.bytes}) it is made when first asked for.
   */
  readonly stream: ReadableStream<Uint8Array>;
  /** Its size in bytes, when known. */
  readonly size?: number;
  /**
   * All of it, when it was read whole at open (a small regular file, asked
   * for by the caller): then nothing needs the stream.
   */
  readonly bytes?: Uint8Array;
  /**
   * For an input whose reading may wait (stdin, under Deno): reads it whole
   * now if it ends within `limit` bytes, giving an input with
   * {@linkcode Input.bytes}, else one that streams on from what was read.
   * Nothing is read until it is called (nor until {@linkcode Input.stream}
   * is first asked for), so a caller runs its checks first.
   */
  readonly readWhole?: (limit: number) => Promise<Input>;
}
