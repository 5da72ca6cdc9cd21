/** Summaries of repeated measurements: the median is the headline, the range shows the noise. */

export interface Summary {
  median: number
  min: number
  max: number
  runs: number
}

export function summarise(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: percentile(sorted, 50), min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN, runs: sorted.length }
}

/** `p` of an ascending array, interpolated between neighbours (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  const a = sorted[low]!
  const b = sorted[high]!
  return a + (b - a) * (rank - low)
}

export interface Percentiles {
  p50: number
  p95: number
  p99: number
  max: number
  count: number
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, count: sorted.length }
}

/** Wall-clock milliseconds on the system-wide monotonic clock, comparable between processes of one machine. */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6
