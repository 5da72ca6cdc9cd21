/**
 * Latency histograms with fixed log-spaced buckets: bucket 0 holds 0–1 ms, bucket
 * i ≥ 1 holds (γ^(i-1), γ^i] ms with γ = 1.1. Every histogram has the same
 * buckets, so hours add up to days by adding counts, and a percentile read as the
 * bucket's geometric middle is within √γ − 1 ≈ 4.9 % of the true value (whatever
 * the range: 3 ms or 3 days). Stored without trailing empty buckets: an attempt
 * under 10 s fits in 97 buckets, a delivery a day late in 193.
 */
export const GAMMA = 1.1
const LOG_GAMMA = Math.log(GAMMA)
/** Longer than any latency we record (a year in ms is bucket 331). */
export const MAX_BUCKET = 400

export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0
  return Math.min(MAX_BUCKET, Math.ceil(Math.log(ms) / LOG_GAMMA - 1e-9))
}

/** The value a bucket stands for: the geometric middle of its bounds. */
export function bucketValue(i: number): number {
  if (i <= 0) return 1
  return GAMMA ** (i - 0.5)
}

/** Adds `ms` to a histogram in place (it grows as needed). */
export function record(histogram: number[], ms: number): void {
  const i = bucketOf(ms)
  while (histogram.length <= i) histogram.push(0)
  histogram[i]! += 1
}

export function merge(into: number[], from: readonly number[]): number[] {
  while (into.length < from.length) into.push(0)
  from.forEach((n, i) => (into[i]! += n))
  return into
}

export function count(histogram: readonly number[]): number {
  return histogram.reduce((a, b) => a + b, 0)
}

/** The q-quantile (0 < q ≤ 1) in ms, rounded; null for an empty histogram. */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = count(histogram)
  if (total === 0) return null
  // the rank of the q-quantile among total values (nearest-rank definition)
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!
    if (seen >= rank) return Math.round(bucketValue(i))
  }
  return Math.round(bucketValue(histogram.length - 1))
}

/** A histogram as a PostgreSQL array literal, for unnest($n::text[])::integer[]. */
export function toPgArray(histogram: readonly number[]): string {
  return `{${histogram.join(',')}}`
}
