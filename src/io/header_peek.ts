/**
 * Reading the first bytes of a stream (to recognise its format and parse the
 * header) while handing on a stream that still yields every byte.
 *
 * @module
 */

/** The first bytes read, and a stream that starts again from byte 0. */
export interface Peeked {
  readonly head: Uint8Array;
  readonly stream: ReadableStream<Uint8Array>;
  readonly ended: boolean;
}

/**
 * Reads from `source` until `enough(head)` says the head suffices or the
 * input ends, then returns the head and a stream of the whole input.
 */
export async function peek(source: ReadableStream<Uint8Array>, enough: (head: Uint8Array) => boolean): Promise<Peeked> {
  const reader = source.getReader();
  let head = new Uint8Array(0);
  let ended = false;
  while (!enough(head)) {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    const next = new Uint8Array(head.length + value.length);
    next.set(head);
    next.set(value, head.length);
    head = next;
  }
  const stream = rejoin(head, reader);
  return { head, stream, ended };
}

/**
 * An input read whole (`cli/files.ts`), as {@linkcode peek} with `enough`
 * would give it: all of it as the head, `ended` when `enough` never held
 * (so a decision taken on "the input ended" is the same either way), and
 * its stream made by `stream` only when asked for.
 */
export function peekedWhole(
  bytes: Uint8Array,
  stream: () => ReadableStream<Uint8Array>,
  enough: (head: Uint8Array) => boolean,
): Peeked {
  return {
    head: bytes,
    ended: !enough(bytes),
    get stream() {
      return stream();
    },
  };
}

/**
 * A stream of `first` followed by whatever `reader` still yields, pulled one
 * read at a time (so memory follows the consumer); cancelling it cancels the
 * reader. An empty `first` is not enqueued.
 */
export function rejoin(first: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let sent = first.length === 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(first);
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
