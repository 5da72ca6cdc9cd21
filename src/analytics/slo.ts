import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { quantile } from './histogram.ts'
import { addTally, emptyTally, type Tally } from './analytics.queries.ts'

/** A plugin's objective (plugins.slo): the share of attempts that succeed, and optionally a p95 duration. */
export interface Slo {
  success_rate: number
  latency_p95_ms?: number | null
}

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
 * A plugin's SLO now: its error budget over the last 30 days (daily rollups) and
 * its burn rate over each window (minute rollups: at most 360 rows per event type).
 */
export async function sloState(db: Database, pluginId: string, slo: Slo, now = new Date()): Promise<SloState> {
  const { rows: period } = await sql<Tally>`
    select coalesce(sum(attempts), 0)::integer as attempts, coalesce(sum(sent), 0)::integer as sent,
           coalesce(sum(retried), 0)::integer as retried, coalesce(sum(failed), 0)::integer as failed,
           analytics_sum(latency) as latency, '{}'::integer[] as e2e, '{}'::integer[] as causes
      from analytics_day
     where plugin_id = ${pluginId}::uuid and bucket >= date_trunc('day', ${now}::timestamptz) - ${SLO_PERIOD_DAYS - 1}::integer * interval '1 day'
  `.execute(db)
  const { rows: minutes } = await sql<{ minute_ago: number; attempts: number; sent: number }>`
    select floor(extract(epoch from ${now}::timestamptz - bucket) / 60)::integer as minute_ago,
           sum(attempts)::integer as attempts, sum(sent)::integer as sent
      from analytics_minute
     where plugin_id = ${pluginId}::uuid and bucket > ${now}::timestamptz - interval '6 hours'
     group by bucket
  `.execute(db)
  const budgetRate = Math.max(1e-9, 1 - slo.success_rate)
  const burn = {} as Record<Window, number>
  for (const [w, span] of Object.entries(WINDOWS) as [Window, number][]) {
    const t = minutes.filter((m) => m.minute_ago < span).reduce((a, m) => ({ attempts: a.attempts + m.attempts, sent: a.sent + m.sent }), { attempts: 0, sent: 0 })
    burn[w] = t.attempts === 0 ? 0 : round((t.attempts - t.sent) / t.attempts / budgetRate)
  }
  const p = addTally(emptyTally(), period[0] ?? emptyTally())
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
