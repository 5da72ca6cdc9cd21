import { sql } from 'kysely'
import type { Database } from '../db/database.ts'

/** Minutes of history in the per-minute chart. */
export const SERIES_MINUTES = 60

/**
 * The tenant's deliveries of the last day. Ids grow with time, so the id of the
 * newest delivery older than a day bounds every scan below to the last day's
 * rows (through the (tenant_id, id) index), however long the history grows.
 */
const recent = (tenantId: string) => sql`
  with cutoff as (
    select coalesce((select id from deliveries
                      where tenant_id = ${tenantId} and created_at < now() - interval '1 day'
                      order by id desc limit 1), 0) as id
  ),
  recent as (
    select d.id, d.plugin_id, d.status, d.attempts, d.created_at, d.updated_at, d.last_error
      from deliveries d, cutoff
     where d.tenant_id = ${tenantId} and d.id > cutoff.id
  )
`

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

/** Per live plugin, over the last day: volume, outcomes, attempt latency and the latest error. */
export async function pluginStats(db: Database, tenantId: string): Promise<PluginStats[]> {
  const { rows } = await sql<{
    plugin: string
    last_hour: number
    last_day: number
    sent: number
    failed: number
    p50: number | null
    p95: number | null
    last_error: string | null
    last_error_at: Date | null
  }>`
    ${recent(tenantId)},
    latency as (
      select r.plugin_id,
             percentile_cont(0.5) within group (order by a.duration_ms) as p50,
             percentile_cont(0.95) within group (order by a.duration_ms) as p95
        from recent r join delivery_attempts a on a.delivery_id = r.id
       group by r.plugin_id
    )
    select p.slug as plugin,
           count(r.id) filter (where r.created_at > now() - interval '1 hour') as last_hour,
           count(r.id) as last_day,
           count(r.id) filter (where r.status = 'sent') as sent,
           count(r.id) filter (where r.status = 'failed') as failed,
           max(l.p50) as p50,
           max(l.p95) as p95,
           (array_agg(r.last_error order by r.updated_at desc) filter (where r.last_error is not null))[1] as last_error,
           max(r.updated_at) filter (where r.last_error is not null) as last_error_at
      from plugins p
      left join recent r on r.plugin_id = p.id
      left join latency l on l.plugin_id = p.id
     where p.tenant_id = ${tenantId} and p.status <> 'deleted'
     group by p.id
     order by p.created_at, p.id
  `.execute(db)
  return rows.map((r) => ({
    plugin: r.plugin,
    last_hour: r.last_hour,
    last_day: r.last_day,
    sent: r.sent,
    failed: r.failed,
    success_rate: r.sent + r.failed > 0 ? r.sent / (r.sent + r.failed) : null,
    p50_ms: r.p50 === null ? null : Math.round(r.p50),
    p95_ms: r.p95 === null ? null : Math.round(r.p95),
    last_error: r.last_error,
    last_error_at: r.last_error_at?.toISOString() ?? null,
  }))
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
export async function minuteSeries(db: Database, tenantId: string, plugin?: string): Promise<MinuteCount[]> {
  const { rows } = await sql<{ minute: Date; sent: number; retry: number; failed: number }>`
    ${recent(tenantId)},
    counted as (
      select date_trunc('minute', a.created_at) as minute,
             count(*) filter (where a.error is null) as sent,
             count(*) filter (where a.error is not null and (a.attempt < r.attempts or r.status <> 'failed')) as retry,
             count(*) filter (where a.error is not null and a.attempt >= r.attempts and r.status = 'failed') as failed
        from recent r
        join delivery_attempts a on a.delivery_id = r.id
        join plugins p on p.id = r.plugin_id
       where a.created_at >= date_trunc('minute', now()) - ${SERIES_MINUTES - 1} * interval '1 minute'
         and (${plugin ?? null}::text is null or p.slug = ${plugin ?? null}::text)
       group by 1
    )
    select m.minute, coalesce(c.sent, 0) as sent, coalesce(c.retry, 0) as retry, coalesce(c.failed, 0) as failed
      from generate_series(date_trunc('minute', now()) - ${SERIES_MINUTES - 1} * interval '1 minute',
                           date_trunc('minute', now()), interval '1 minute') as m (minute)
      left join counted c on c.minute = m.minute
     order by m.minute
  `.execute(db)
  return rows.map((r) => ({ minute: r.minute.toISOString(), sent: r.sent, retry: r.retry, failed: r.failed }))
}
