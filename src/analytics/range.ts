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

/**
 * How a range's totals are read at the least cost (src/analytics/sql/range-totals.ts):
 * whole days as the difference of two running totals (analytics_total), the
 * partial hours and minutes at its edges from the hour and minute rollups. The
 * buckets counted are the same as reading every bucket of the range's
 * granularity: those that start in [from, to). `totals.to` null: up to now (no
 * rollup lies in the future, so the latest running total is the end).
 */
export interface Tiles {
  totals: { from: Date; to: Date | null } | null
  rows: { grain: 'minute' | 'hour'; from: Date; to: Date }[]
}

const COARSER = { minute: 'hour', hour: 'day' } as const

const ceilTo = (at: Date, grain: Grain): Date => {
  const t = truncate(at, grain)
  return t.getTime() === at.getTime() ? t : new Date(t.getTime() + STEP_MS[grain])
}

export function tile(range: Range, now = new Date()): Tiles {
  const tiles: Tiles = { totals: null, rows: [] }
  // the end of the last bucket counted; null when the range runs to now
  const end = range.to.getTime() >= now.getTime() ? null : ceilTo(range.to, range.granularity)
  const walk = (from: Date, to: Date | null, grain: Grain): void => {
    if (to !== null && from >= to) return
    if (grain === 'day') {
      if (from <= now) tiles.totals = { from, to }
      return
    }
    const coarser = COARSER[grain]
    const inner = ceilTo(from, coarser)
    const innerEnd = to === null ? null : truncate(to, coarser)
    if (to !== null && innerEnd !== null && inner >= innerEnd) {
      tiles.rows.push({ grain, from, to })
      return
    }
    if (from < inner) tiles.rows.push({ grain, from, to: inner })
    walk(inner, innerEnd, coarser)
    if (innerEnd !== null && to !== null && innerEnd < to) tiles.rows.push({ grain, from: innerEnd, to })
  }
  // minutes and hours in the future have no rows: an open end reads up to the next day, then the running totals
  walk(range.from, end, range.granularity)
  return tiles
}
