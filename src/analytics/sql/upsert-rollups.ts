import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'
import { toPgArray } from '../histogram.ts'
import type { Grain, Rollup } from '../rollup.ts'

const TABLES: Record<Grain, string> = { minute: 'analytics_minute', hour: 'analytics_hour', day: 'analytics_day' }
const APP_TABLES: Record<Grain, string> = { minute: 'analytics_app_minute', hour: 'analytics_app_hour', day: 'analytics_app_day' }

/** An upsert's update of a rollup row `r`: counts added, histograms added bucket by bucket. */
const ADD_EXCLUDED = sql`
       set attempts = r.attempts + excluded.attempts,
           sent = r.sent + excluded.sent,
           retried = r.retried + excluded.retried,
           failed = r.failed + excluded.failed,
           latency = analytics_add(r.latency, excluded.latency),
           e2e = analytics_add(r.e2e, excluded.e2e),
           causes = analytics_add(r.causes, excluded.causes)`

/** Adds rollups into their table: one statement, counts added, histograms added bucket by bucket. */
export async function upsertRollups(trx: Database, grain: Grain, rollups: readonly Rollup[]): Promise<void> {
  if (rollups.length === 0) return
  const table = sql.table(TABLES[grain])
  await sql`
    insert into ${table} as r (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
    select u.tenant_id, u.plugin_id, u.event_type, u.bucket, u.attempts, u.sent, u.retried, u.failed,
           u.latency::integer[], u.e2e::integer[], u.causes::integer[]
      from ${unnestRollups(rollups)}
    on conflict (plugin_id, bucket, event_type) do update ${ADD_EXCLUDED}
  `.execute(trx)
}

/** Adds app rollups (rollUpApps: plugin_id holds the app) into the app tables. */
export async function upsertAppRollups(trx: Database, grain: Grain, rollups: readonly Rollup[]): Promise<void> {
  if (rollups.length === 0) return
  await sql`
    insert into ${sql.table(APP_TABLES[grain])} as r (app_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
    select u.plugin_id, u.event_type, u.bucket, u.attempts, u.sent, u.retried, u.failed,
           u.latency::integer[], u.e2e::integer[], u.causes::integer[]
      from ${unnestRollups(rollups)}
    on conflict (app_id, bucket, event_type) do update ${ADD_EXCLUDED}
  `.execute(trx)
}

/**
 * Adds each plugin's day (dayTotals) into the running totals (analytics_total):
 * to its rows of that day and after, and a row for the day where it has none
 * (the latest row before it, plus the day). One day at a time, oldest first, so
 * a slice that spans midnight adds each day once to each later row. Only one
 * aggregator runs at a time (the watermark's lock), so nothing races the insert.
 */
export async function addToTotals(trx: Database, days: readonly Rollup[]): Promise<void> {
  const byDay = new Map<number, Rollup[]>()
  for (const d of days) byDay.set(d.bucket.getTime(), [...(byDay.get(d.bucket.getTime()) ?? []), d])
  for (const [, rollups] of [...byDay].sort(([a], [b]) => a - b)) {
    const u = unnestRollups(rollups)
    await sql`
      update analytics_total t
         set attempts = t.attempts + u.attempts, sent = t.sent + u.sent, retried = t.retried + u.retried, failed = t.failed + u.failed,
             latency = analytics_add(t.latency, u.latency::bigint[]), e2e = analytics_add(t.e2e, u.e2e::bigint[]),
             causes = analytics_add(t.causes, u.causes::bigint[])
        from ${u}
       where t.plugin_id = u.plugin_id and t.day >= u.bucket
    `.execute(trx)
    await sql`
      insert into analytics_total (tenant_id, plugin_id, day, attempts, sent, retried, failed, latency, e2e, causes)
      select u.tenant_id, u.plugin_id, u.bucket, coalesce(p.attempts, 0) + u.attempts, coalesce(p.sent, 0) + u.sent,
             coalesce(p.retried, 0) + u.retried, coalesce(p.failed, 0) + u.failed,
             analytics_add(p.latency, u.latency::bigint[]), analytics_add(p.e2e, u.e2e::bigint[]), analytics_add(p.causes, u.causes::bigint[])
        from ${u}
        left join lateral (select * from analytics_total t where t.plugin_id = u.plugin_id and t.day < u.bucket order by t.day desc limit 1) p on true
       where not exists (select 1 from analytics_total t where t.plugin_id = u.plugin_id and t.day = u.bucket)
    `.execute(trx)
  }
}

function unnestRollups(rollups: readonly Rollup[]) {
  const col = <K extends keyof Rollup>(k: K) => rollups.map((r) => r[k])
  return sql`unnest(${col('tenant_id')}::uuid[], ${col('plugin_id')}::uuid[], ${col('event_type')}::text[],
                  ${col('bucket')}::timestamptz[], ${col('attempts')}::integer[], ${col('sent')}::integer[],
                  ${col('retried')}::integer[], ${col('failed')}::integer[],
                  ${rollups.map((r) => toPgArray(r.latency))}::text[], ${rollups.map((r) => toPgArray(r.e2e))}::text[],
                  ${rollups.map((r) => toPgArray(r.causes))}::text[])
        as u (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)`
}

/**
 * Deletes rollups past their keeping, in small batches: minutes after two days
 * (the minute view covers the last 24 hours), hours after `hourDays`, days after
 * `dayDays`. The deliveries' own retention does not touch them.
 */
export async function pruneRollups(db: Database, hourDays: number, dayDays: number): Promise<number> {
  let deleted = 0
  const tables = [
    ['analytics_minute', 2],
    ['analytics_hour', hourDays],
    ['analytics_day', dayDays],
    ['analytics_app_minute', 2],
    ['analytics_app_hour', hourDays],
    ['analytics_app_day', dayDays],
  ] as const
  for (const [table, days] of tables) {
    const result = await sql`
      delete from ${sql.table(table)}
       where ctid = any (array(select ctid from ${sql.table(table)}
                                where bucket < now() - ${days}::integer * interval '1 day'
                                limit 5000))
    `.execute(db)
    deleted += Number(result.numAffectedRows ?? 0)
  }
  // running totals: a plugin's newest row before the cutoff stays (ranges inside the keeping subtract it)
  const totals = await sql`
    delete from analytics_total
     where ctid = any (array(select t.ctid from analytics_total t
                              where t.day < now() - ${dayDays}::integer * interval '1 day'
                                and exists (select 1 from analytics_total n
                                             where n.plugin_id = t.plugin_id and n.day > t.day
                                               and n.day < now() - ${dayDays}::integer * interval '1 day')
                              limit 5000))
  `.execute(db)
  deleted += Number(totals.numAffectedRows ?? 0)
  return deleted
}
