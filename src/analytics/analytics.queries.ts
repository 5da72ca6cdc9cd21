import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { causeCounts, type FailureCause } from './failure-cause.ts'
import { merge, quantile } from './histogram.ts'
import { buckets, tile, type Range } from './range.ts'
import { readTotalParts, type PluginSet } from './sql/range-totals.ts'
import type { Grain } from './rollup.ts'

const TABLES: Record<Grain, string> = { minute: 'analytics_minute', hour: 'analytics_hour', day: 'analytics_day' }
const APP_TABLES: Record<Grain, string> = { minute: 'analytics_app_minute', hour: 'analytics_app_hour', day: 'analytics_app_day' }

/** Counts and histograms of some attempts, as a rollup row or a sum of them. */
export interface Tally {
  attempts: number
  sent: number
  retried: number
  failed: number
  latency: number[]
  e2e: number[]
  causes: number[]
}

export const emptyTally = (): Tally => ({ attempts: 0, sent: 0, retried: 0, failed: 0, latency: [], e2e: [], causes: [] })

export function addTally(into: Tally, t: Tally): Tally {
  into.attempts += t.attempts
  into.sent += t.sent
  into.retried += t.retried
  into.failed += t.failed
  merge(into.latency, t.latency)
  merge(into.e2e, t.e2e)
  merge(into.causes, t.causes)
  return into
}

export interface Numbers {
  attempts: number
  sent: number
  retried: number
  failed: number
  /** sent ÷ (sent + failed): deliveries that settled; null while none did */
  success_rate: number | null
  p50_ms: number | null
  p95_ms: number | null
  p99_ms: number | null
  e2e_p50_ms: number | null
  e2e_p95_ms: number | null
  e2e_p99_ms: number | null
  failures: Record<FailureCause, number>
}

export function numbers(t: Tally): Numbers {
  return {
    attempts: t.attempts,
    sent: t.sent,
    retried: t.retried,
    failed: t.failed,
    success_rate: t.sent + t.failed > 0 ? t.sent / (t.sent + t.failed) : null,
    p50_ms: quantile(t.latency, 0.5),
    p95_ms: quantile(t.latency, 0.95),
    p99_ms: quantile(t.latency, 0.99),
    e2e_p50_ms: quantile(t.e2e, 0.5),
    e2e_p95_ms: quantile(t.e2e, 0.95),
    e2e_p99_ms: quantile(t.e2e, 0.99),
    failures: causeCounts(t.causes),
  }
}

interface TallyRow extends Tally {
  key: string
  bucket: Date
}

/** An integer array sent as text ("3,0,1"): parsed by split, several times faster than the driver's array parser. */
const ints = (text: string): number[] => (text === '' ? [] : text.split(',').map(Number))

/**
 * Rollup rows of one range, with `key` the event type: one plugin's (primary key
 * (plugin_id, bucket, …)) or one app's across its installations (analytics_app_*,
 * primary key (app_id, bucket, …)). Reads only the rows of the range: the cost
 * follows the range asked, not the history stored. The histograms are added
 * here, not in SQL: an element-wise sum in SQL (analytics_sum) costs a function
 * call per row, ten times what this loop does.
 */
async function tallies(db: Database, source: { pluginId: string } | { appId: string }, range: Range): Promise<TallyRow[]> {
  const which =
    'pluginId' in source
      ? sql`from ${sql.table(TABLES[range.granularity])} r where r.plugin_id = ${source.pluginId}::uuid`
      : sql`from ${sql.table(APP_TABLES[range.granularity])} r where r.app_id = ${source.appId}::uuid`
  const { rows } = await sql<{ key: string; bucket: Date; attempts: number; sent: number; retried: number; failed: number; latency: string; e2e: string; causes: string }>`
    select r.event_type as key, r.bucket, r.attempts, r.sent, r.retried, r.failed,
           array_to_string(r.latency, ',') as latency, array_to_string(r.e2e, ',') as e2e, array_to_string(r.causes, ',') as causes
      ${which}
       and r.bucket >= ${range.from}::timestamptz and r.bucket < ${range.to}::timestamptz
  `.execute(db)
  return rows.map((r) => ({ ...r, latency: ints(r.latency), e2e: ints(r.e2e), causes: ints(r.causes) }))
}

export interface SeriesPoint extends Numbers {
  at: string
}

export interface PluginAnalytics {
  from: string
  to: string
  granularity: Grain
  totals: Numbers
  series: SeriesPoint[]
  by_event_type: (Numbers & { event: string })[]
}

/** One plugin over a range: every bucket (empty ones as zeros), totals, and totals per event type. */
export function pluginAnalytics(db: Database, pluginId: string, range: Range): Promise<PluginAnalytics> {
  return rangeAnalytics(db, { pluginId }, range)
}

/** One app over a range, across all its installations (the app rollups): the same numbers as a plugin's. */
export function appAnalytics(db: Database, appId: string, range: Range): Promise<PluginAnalytics> {
  return rangeAnalytics(db, { appId }, range)
}

async function rangeAnalytics(db: Database, source: { pluginId: string } | { appId: string }, range: Range): Promise<PluginAnalytics> {
  const rows = await tallies(db, source, range)
  const perBucket = new Map<number, Tally>()
  const perType = new Map<string, Tally>()
  const total = emptyTally()
  for (const row of rows) {
    const t = row.bucket.getTime()
    if (!perBucket.has(t)) perBucket.set(t, emptyTally())
    addTally(perBucket.get(t)!, row)
    if (!perType.has(row.key)) perType.set(row.key, emptyTally())
    addTally(perType.get(row.key)!, row)
    addTally(total, row)
  }
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    granularity: range.granularity,
    totals: numbers(total),
    series: buckets(range).map((b) => ({ at: b.toISOString(), ...numbers(perBucket.get(b.getTime()) ?? emptyTally()) })),
    by_event_type: [...perType].sort(([a], [b]) => a.localeCompare(b)).map(([event, t]) => ({ event, ...numbers(t) })),
  }
}

/** Adds `sign` × t into a tally (a running total's start is subtracted). */
function addSigned(into: Tally, t: Tally, sign: number): void {
  into.attempts += sign * t.attempts
  into.sent += sign * t.sent
  into.retried += sign * t.retried
  into.failed += sign * t.failed
  for (const k of ['latency', 'e2e', 'causes'] as const) {
    const h = into[k]
    while (h.length < t[k].length) h.push(0)
    t[k].forEach((n, i) => (h[i]! += sign * n))
  }
}

/**
 * Each plugin's totals over a range, by plugin id: whole days as the difference
 * of two running totals (analytics_total), the edges from hour and minute
 * rollups (range.ts tile). A store's 30 or 90 days cost two rows per plugin, the
 * same as one day. `histograms: false` for counts alone; `e2e: false` leaves out
 * the commit → delivered histogram (the overview does not show it).
 */
export async function pluginTotals(
  db: Database,
  plugins: string | PluginSet,
  range: Range,
  options: { histograms?: boolean; e2e?: boolean } = {},
  now = new Date(),
): Promise<Map<string, Tally>> {
  const histograms = options.histograms !== false
  const parts = await readTotalParts(db, typeof plugins === 'string' ? { tenantId: plugins } : plugins, tile(range, now), {
    latency: histograms,
    e2e: histograms && options.e2e !== false,
    causes: histograms,
  })
  const totals = new Map<string, Tally>()
  for (const part of parts) {
    let total = totals.get(part.plugin_id)
    if (!total) totals.set(part.plugin_id, (total = emptyTally()))
    addSigned(total, { ...part, latency: ints(part.latency), e2e: ints(part.e2e), causes: ints(part.causes) }, part.sign)
  }
  return totals
}

/** Attempts per bucket of a range for the tenant or one plugin, by outcome (counts only). */
export async function outcomeSeries(db: Database, tenantId: string, range: Range, pluginId: string | null) {
  const { rows } = await sql<{ bucket: Date; sent: number; retried: number; failed: number }>`
    select r.bucket, sum(r.sent)::integer as sent, sum(r.retried)::integer as retried, sum(r.failed)::integer as failed
      from ${sql.table(TABLES[range.granularity])} r
     where r.tenant_id = ${tenantId}::uuid
       and (${pluginId}::uuid is null or r.plugin_id = ${pluginId}::uuid)
       and r.bucket >= ${range.from}::timestamptz and r.bucket < ${range.to}::timestamptz
     group by r.bucket
  `.execute(db)
  const perBucket = new Map(rows.map((r) => [r.bucket.getTime(), r]))
  return buckets(range).map((at) => {
    const r = perBucket.get(at.getTime())
    return { at, sent: r?.sent ?? 0, retried: r?.retried ?? 0, failed: r?.failed ?? 0 }
  })
}

export interface Backlog {
  due: number
  oldest_due_age_ms: number | null
}

/**
 * Each live plugin's due deliveries (counted up to `cap`) and the oldest's age.
 * Only plugins of the ready set (db/0008 plugin_ready) whose due_at has passed are
 * probed, through the partial indexes of claimable rows (deliveries_plugin_pending,
 * deliveries_plugin_retry): at most `cap` index entries each, whatever the
 * history; the others have nothing due.
 */
export async function backlogs(db: Database, tenantId: string, cap = 1000): Promise<Map<string, Backlog>> {
  const { rows } = await sql<{ id: string; due: number; oldest: Date | null }>`
    select p.id,
           (select count(*)::integer from (select 1 from deliveries d
                                            where d.plugin_id = p.id and d.status = 'pending' and d.next_attempt_at <= now()
                                            limit ${cap}::integer) c)
         + (select count(*)::integer from (select 1 from deliveries d
                                            where d.plugin_id = p.id and d.status = 'retry' and d.next_attempt_at <= now()
                                            limit ${cap}::integer) c) as due,
           least((select min(d.next_attempt_at) from deliveries d
                   where d.plugin_id = p.id and d.status = 'pending' and d.next_attempt_at <= now()),
                 (select min(d.next_attempt_at) from deliveries d
                   where d.plugin_id = p.id and d.status = 'retry' and d.next_attempt_at <= now())) as oldest
      from plugins p
      join plugin_ready r on r.plugin_id = p.id and r.due_at <= now()
     where p.tenant_id = ${tenantId}::uuid and p.status <> 'deleted'
  `.execute(db)
  const now = Date.now()
  return new Map(rows.map((r) => [r.id, { due: Math.min(cap, r.due), oldest_due_age_ms: r.oldest ? Math.max(0, now - r.oldest.getTime()) : null }]))
}
