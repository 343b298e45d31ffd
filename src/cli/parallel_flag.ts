/**
 * `--parallelism N` of `encrypt` and `decrypt`: how many threads work on the
 * message, the main one included (N - 1 workers seal or open chunks;
 * envelope/parallel.ts). The default is the number of cores; 1 keeps every
 * chunk on the main thread.
 *
 * @module
 */
import { usageError } from "./args.ts";

/** The flag, for a command's flag table. */
export const PARALLEL_FLAG = { name: "parallelism", kind: "string" } as const;

/** The value of `--parallelism`, or undefined for the default. */
export function readParallelism(flags: Record<string, unknown>, command: string): number | undefined {
  const text = flags.parallelism as string | undefined;
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 256) {
    throw usageError(command, `Reading --parallelism failed: "${text}" is not a whole number from 1 to 256`);
  }
  return Number(text);
}
