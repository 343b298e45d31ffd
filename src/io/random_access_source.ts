/**
 * The contract of a seekable source, shared by the sources (`io/`, `s3/`)
 * and their reader (`envelope/random_access.ts`), so a source never imports
 * the message layer above it.
 *
 * @module
 */

/** A source that can read any byte range: bytes, a Blob, a file, an HTTP resource. */
export interface RandomAccessSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the source (a file handle); optional. */
  close?(): Promise<void>;
}
