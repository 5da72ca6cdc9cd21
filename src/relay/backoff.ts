/** Each retry waits this many times longer than the one before. */
const FACTOR = 4
/** ±20 %: relays that failed together do not retry together. */
const JITTER = 0.2

/**
 * Delay before retry `retry` (1-based): base × 4^(retry-1), jittered.
 * With the default base of 10 s: ~10 s, ~40 s, ~2 min 40 s.
 */
export function retryDelayMs(retry: number, baseMs: number, random = Math.random): number {
  const delay = baseMs * FACTOR ** Math.max(0, retry - 1)
  return Math.round(delay * (1 - JITTER + 2 * JITTER * random()))
}
