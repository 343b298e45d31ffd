/**
 * Retries with capped exponential backoff and full jitter, and a timeout on
 * every attempt, for KMS calls.
 *
 * @module
 */

/** How a KMS call is retried. */
export interface RetryOptions {
  /** Attempts in all, including the first (default 5). */
  readonly attempts?: number;
  /** Backoff base in milliseconds (default 100): attempt n waits up to base * 2^n. */
  readonly baseDelayMs?: number;
  /** Cap on one wait in milliseconds (default 5000). */
  readonly maxDelayMs?: number;
  /** Timeout of one attempt in milliseconds (default 30000). */
  readonly timeoutMs?: number;
  /** Source of jitter in [0, 1); injectable for tests (default Math.random). */
  readonly random?: () => number;
}

/** Thrown into the attempt's signal, and by {@linkcode withRetry}, when an attempt runs out of time. */
export class AttemptTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The call did not answer within ${timeoutMs} ms`);
    this.name = "AttemptTimeout";
  }
}

/**
 * Runs `attempt` until it succeeds, `retryable` says an error is final, or the
 * attempts run out; the last error is thrown. Each attempt gets an
 * `AbortSignal` that fires after `timeoutMs`; a timed-out attempt counts as
 * retryable.
 */
export async function withRetry<T>(
  attempt: (signal: AbortSignal, n: number) => Promise<T>,
  retryable: (err: unknown) => boolean,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = Math.max(1, whole(options.attempts, "attempts") ?? 5);
  const base = whole(options.baseDelayMs, "baseDelayMs") ?? 100;
  const cap = whole(options.maxDelayMs, "maxDelayMs") ?? 5000;
  const timeoutMs = whole(options.timeoutMs, "timeoutMs") ?? 30000;
  const random = options.random ?? Math.random;
  for (let n = 0;; n++) {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new AttemptTimeout(timeoutMs);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      return await Promise.race([attempt(controller.signal, n), timeout]);
    } catch (err) {
      const again = err instanceof AttemptTimeout || retryable(err);
      if (!again || n + 1 >= attempts) throw err;
      const wait = Math.floor(random() * Math.min(cap, base * 2 ** n));
      await new Promise((r) => setTimeout(r, wait));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `value` when it is a whole number of at least 0 (or undefined); a RangeError names `name` otherwise (NaN retried forever). */
function whole(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`retry option ${name} must be a whole number of at least 0, not ${value}`);
  }
  return value;
}
