import { sql } from 'kysely'
import { emptyTally, numbers, outcomeSeries, pluginTotals } from '../analytics/analytics.queries.ts'
import { resolveRange } from '../analytics/range.ts'
import type { Database } from '../db/database.ts'

/** Minutes of history in the per-minute chart. */
export const SERIES_MINUTES = 60

const MINUTE_MS = 60_000

export interface PluginStats {
  plugin: string
  last_hour: number
  last_day: number
  sent: number
  failed: number
  /** sent ÷ settled (sent + failed) over the last day; null while nothing settled */
  success_rate: number | null
  p50_ms: number | null
  p95_ms: number | null
  last_error: string | null
  last_error_at: string | null
}

/**
 * Per live plugin, over the last day: attempts, outcomes, attempt latency and the
 * latest error. Read from the rollups (src/analytics/), never from the delivery
 * rows: the last hour from minute rollups, the day from hourly ones (the day starts
 * at the top of the hour 24 hours ago), the latest error from the alert state the
 * aggregator keeps. Numbers lag the relay by up to ANALYTICS_INTERVAL_MS.
 */
export async function pluginStats(db: Database, tenantId: string, now = new Date()): Promise<PluginStats[]> {
  const [plugins, hour, day] = await Promise.all([
    sql<{ id: string; slug: string; last_error: string | null; last_error_at: Date | null }>`
      select p.id, p.slug, a.last_error, a.last_failure_at as last_error_at
        from plugins p left join plugin_alerts a on a.plugin_id = p.id
       where p.tenant_id = ${tenantId}::uuid and p.status <> 'deleted'
       order by p.created_at, p.id
    `.execute(db),
    pluginTotals(db, tenantId, resolveRange({ from: new Date(now.getTime() - SERIES_MINUTES * MINUTE_MS).toISOString(), to: now.toISOString(), granularity: 'minute' }, now), { histograms: false }),
    pluginTotals(db, tenantId, resolveRange({ from: new Date(now.getTime() - 24 * 60 * MINUTE_MS).toISOString(), to: now.toISOString(), granularity: 'hour' }, now), { e2e: false }),
  ])
  return plugins.rows.map((p) => {
    const d = numbers(day.get(p.id) ?? emptyTally())
    return {
      plugin: p.slug,
      last_hour: (hour.get(p.id) ?? emptyTally()).attempts,
      last_day: d.attempts,
      sent: d.sent,
      failed: d.failed,
      success_rate: d.success_rate,
      p50_ms: d.p50_ms,
      p95_ms: d.p95_ms,
      last_error: p.last_error,
      last_error_at: p.last_error_at?.toISOString() ?? null,
    }
  })
}

export interface MinuteCount {
  minute: string
  sent: number
  retry: number
  failed: number
}

/**
 * Attempts per minute over the last SERIES_MINUTES minutes, by outcome: `sent`,
 * `retry` (failed, another attempt follows) and `failed` (the delivery's last
 * attempt, and it gave up). Every minute is present, empty ones as zeros.
 */
export async function minuteSeries(db: Database, tenantId: string, plugin?: string, now = new Date()): Promise<MinuteCount[]> {
  let pluginId: string | null = null
  if (plugin !== undefined) {
    const { rows } = await sql<{ id: string }>`
      select id from plugins where tenant_id = ${tenantId}::uuid and slug = ${plugin} and status <> 'deleted'
    `.execute(db)
    // an unknown slug has no attempts: every minute empty
    pluginId = rows[0]?.id ?? '00000000-0000-0000-0000-000000000000'
  }
  const to = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS
  const from = new Date(to - SERIES_MINUTES * MINUTE_MS)
  const series = await outcomeSeries(db, tenantId, { from, to: new Date(to), granularity: 'minute' }, pluginId)
  return series.map(({ at, sent, retried, failed }) => ({ minute: at.toISOString(), sent, retry: retried, failed }))
}
