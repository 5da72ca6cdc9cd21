/** Each retry waits this many times longer than the one before. */
const FACTOR = 4
/** ±20 %: relays that failed together do not retry together. */
const JITTER = 0.2
/**
 * No retry waits longer than a day. Without a cap, 4^(retry-1) outgrows any
 * column: retry 10 at the default 10 s base is ~2.6·10⁹ ms, past PostgreSQL's
 * `integer`, and a retry policy allows 15 retries (WEBHOOK_MAX_RETRIES 20).
 */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000

/**
 * Delay before retry `retry` (1-based): base × 4^(retry-1), jittered, at most
 * MAX_RETRY_DELAY_MS. With the default base of 10 s: ~10 s, ~40 s, ~2 min 40 s.
 */
export function retryDelayMs(retry: number, baseMs: number, random = Math.random): number {
  const delay = Math.min(MAX_RETRY_DELAY_MS, baseMs * FACTOR ** Math.max(0, retry - 1))
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(delay * (1 - JITTER + 2 * JITTER * random())))
}
