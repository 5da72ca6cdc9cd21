import { ValidationError } from '../errors.ts'
import type { Grain } from './rollup.ts'
import { truncate } from './rollup.ts'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS

export const STEP_MS: Record<Grain, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS }
/** The longest range each granularity answers: its points stay a few thousand at most. */
export const MAX_RANGE_MS: Record<Grain, number> = { minute: DAY_MS, hour: 92 * DAY_MS, day: 3660 * DAY_MS }

export interface Range {
  /** inclusive, truncated to the granularity */
  from: Date
  /** exclusive */
  to: Date
  granularity: Grain
}

/**
 * The range asked for: `to` defaults to now, `from` to a day before `to`; the
 * granularity, when not given, is the finest that keeps the points few. Minutes
 * exist for the last 24 hours only (their rollups are kept two days).
 */
export function resolveRange(query: { from?: string; to?: string; granularity?: Grain }, now = new Date()): Range {
  const to = query.to ? new Date(query.to) : now
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - DAY_MS)
  if (Number.isNaN(to.getTime()) || Number.isNaN(from.getTime())) throw new ValidationError('INVALID_RANGE', '`from` and `to` must be date-times')
  if (from >= to) throw new ValidationError('INVALID_RANGE', '`from` must be before `to`')
  const span = to.getTime() - from.getTime()
  const granularity = query.granularity ?? (span <= 6 * HOUR_MS ? 'minute' : span <= 14 * DAY_MS ? 'hour' : 'day')
  if (span > MAX_RANGE_MS[granularity]) {
    throw new ValidationError('INVALID_RANGE', `granularity=${granularity} answers ranges of at most ${MAX_RANGE_MS[granularity] / DAY_MS} days; ask a coarser one`)
  }
  if (granularity === 'minute' && from.getTime() < now.getTime() - DAY_MS - HOUR_MS) {
    throw new ValidationError('INVALID_RANGE', 'granularity=minute covers the last 24 hours only; ask hour or day for older ranges')
  }
  return { from: truncate(from, granularity), to, granularity }
}

/** Every bucket start of the range, oldest first. */
export function buckets(range: Range): Date[] {
  const out: Date[] = []
  for (let t = range.from.getTime(); t < range.to.getTime(); t += STEP_MS[range.granularity]) out.push(new Date(t))
  return out
}
