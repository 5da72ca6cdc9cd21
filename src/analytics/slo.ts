import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { quantile } from './histogram.ts'
import { emptyTally, pluginTotals, type Tally } from './analytics.queries.ts'
import { truncate } from './rollup.ts'

/** A plugin's objective (plugins.slo): the share of attempts that succeed, and optionally a p95 duration. */
export interface Slo {
  success_rate: number
  latency_p95_ms?: number | null
}

const MINUTE_MS = 60_000

/** The error budget's period. */
export const SLO_PERIOD_DAYS = 30

/**
 * Multi-window burn-rate rules (Google SRE workbook, ch. 5): page when both the
 * 1 h and 5 min error rates burn the budget faster than 14.4× (2 % of a 30-day
 * budget in an hour), ticket when both 6 h and 30 min burn faster than 6× (5 % in
 * 6 hours). The short window makes the alert stop soon after the burning does.
 */
export const BURN_RULES = [
  { severity: 'page', long: '1h', short: '5m', factor: 14.4 },
  { severity: 'ticket', long: '6h', short: '30m', factor: 6 },
] as const
export const WINDOWS = { '5m': 5, '30m': 30, '1h': 60, '6h': 360 } as const
export type Window = keyof typeof WINDOWS
export type Severity = (typeof BURN_RULES)[number]['severity']

export interface SloState {
  objective: { success_rate: number; latency_p95_ms: number | null }
  /** attempts over the period; success = sent ÷ attempts */
  success_rate: number | null
  /** share of the period's error budget left: 1 untouched, 0 spent, negative overspent */
  budget_remaining: number
  p95_ms: number | null
  latency_met: boolean | null
  burn_rates: Record<Window, number>
  /** ok, or the burn-rate rule that holds */
  state: 'ok' | Severity
}

/** Ratios to 4 decimals: 100 rather than 99.99999999999991. */
const round = (x: number) => Math.round(x * 10_000) / 10_000

/**
 * Plugins' SLOs now, in two statements whatever their number: the error budget
 * over the last 30 days (running totals, two index probes per plugin: src/analytics/sql/range-totals.ts)
 * and the burn rate over each window, exactly, from hour rollups for the whole
 * hours a window holds and minute rollups for the rest (the partial hour at its
 * start): at most 7 hour and 120 minute rows per plugin and event type, not the
 * 360 minute rows of 6 hours.
 */
export async function sloStates(db: Database, plugins: readonly { id: string; slo: Slo }[], now = new Date()): Promise<Map<string, SloState>> {
  if (plugins.length === 0) return new Map()
  const ids = plugins.map((p) => p.id)
  const periodStart = new Date(truncate(now, 'day').getTime() - (SLO_PERIOD_DAYS - 1) * 86_400_000)
  // a window counts the buckets that start after its beginning: an hour row when its hour does (all its
  // minutes do), a minute row when it does and it lies before the window's first whole hour
  const start = (span: number) => new Date(now.getTime() - span * MINUTE_MS)
  const firstHour = (span: number) => new Date(truncate(start(span), 'hour').getTime() + 60 * MINUTE_MS)
  const longest = Math.max(...Object.values(WINDOWS))
  const [period, windows] = await Promise.all([
    pluginTotals(db, { ids }, { from: periodStart, to: now, granularity: 'day' }, { e2e: false }, now),
    sql<{ plugin_id: string } & Record<`attempts_${Window}` | `sent_${Window}`, number>>`
      select plugin_id,
             ${sql.join(
               (Object.entries(WINDOWS) as [Window, number][]).map(([w, span]) => {
                 const counted = sql`bucket > ${start(span)}::timestamptz and (grain = 'hour' or bucket < ${firstHour(span)}::timestamptz)`
                 return sql`coalesce(sum(attempts) filter (where ${counted}), 0)::integer as ${sql.ref(`attempts_${w}`)},
                            coalesce(sum(sent) filter (where ${counted}), 0)::integer as ${sql.ref(`sent_${w}`)}`
               }),
             )}
        from (select plugin_id, bucket, attempts, sent, 'minute' as grain from analytics_minute
               where plugin_id = any (${ids}::uuid[]) and bucket > ${start(longest)}::timestamptz
                 and (bucket > ${start(60)}::timestamptz or bucket < ${firstHour(longest)}::timestamptz)
              union all
              select plugin_id, bucket, attempts, sent, 'hour' from analytics_hour
               where plugin_id = any (${ids}::uuid[]) and bucket > ${start(longest)}::timestamptz) x
       group by plugin_id
    `.execute(db),
  ])
  const byPlugin = new Map(windows.rows.map((r) => [r.plugin_id, r]))
  return new Map(plugins.map((p) => [p.id, sloFrom(p.slo, period.get(p.id) ?? emptyTally(), byPlugin.get(p.id))]))
}

/** One plugin's SLO now (the plugin's analytics call). */
export async function sloState(db: Database, pluginId: string, slo: Slo, now = new Date()): Promise<SloState> {
  return (await sloStates(db, [{ id: pluginId, slo }], now)).get(pluginId)!
}

function sloFrom(slo: Slo, p: Tally, w: (Record<`attempts_${Window}` | `sent_${Window}`, number>) | undefined): SloState {
  const budgetRate = Math.max(1e-9, 1 - slo.success_rate)
  const burn = {} as Record<Window, number>
  for (const win of Object.keys(WINDOWS) as Window[]) {
    const attempts = w?.[`attempts_${win}`] ?? 0
    const sent = w?.[`sent_${win}`] ?? 0
    burn[win] = attempts === 0 ? 0 : round((attempts - sent) / attempts / budgetRate)
  }
  const errorRate = p.attempts === 0 ? 0 : (p.attempts - p.sent) / p.attempts
  const p95 = quantile(p.latency, 0.95)
  const objectiveP95 = slo.latency_p95_ms ?? null
  const rule = BURN_RULES.find((r) => burn[r.long] > r.factor && burn[r.short] > r.factor)
  return {
    objective: { success_rate: slo.success_rate, latency_p95_ms: objectiveP95 },
    success_rate: p.attempts === 0 ? null : p.sent / p.attempts,
    budget_remaining: round(1 - errorRate / budgetRate),
    p95_ms: p95,
    latency_met: objectiveP95 === null || p95 === null ? null : p95 <= objectiveP95,
    burn_rates: burn,
    state: rule?.severity ?? 'ok',
  }
}
