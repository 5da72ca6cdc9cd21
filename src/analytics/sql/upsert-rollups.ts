import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'
import { toPgArray } from '../histogram.ts'
import type { Grain, Rollup } from '../rollup.ts'

const TABLES: Record<Grain, string> = { minute: 'analytics_minute', hour: 'analytics_hour', day: 'analytics_day' }

/** Adds rollups into their table: one statement, counts added, histograms added bucket by bucket. */
export async function upsertRollups(trx: Database, grain: Grain, rollups: readonly Rollup[]): Promise<void> {
  if (rollups.length === 0) return
  const table = sql.table(TABLES[grain])
  const col = <K extends keyof Rollup>(k: K) => rollups.map((r) => r[k])
  await sql`
    insert into ${table} as r (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
    select u.tenant_id, u.plugin_id, u.event_type, u.bucket, u.attempts, u.sent, u.retried, u.failed,
           u.latency::integer[], u.e2e::integer[], u.causes::integer[]
      from unnest(${col('tenant_id')}::uuid[], ${col('plugin_id')}::uuid[], ${col('event_type')}::text[],
                  ${col('bucket')}::timestamptz[], ${col('attempts')}::integer[], ${col('sent')}::integer[],
                  ${col('retried')}::integer[], ${col('failed')}::integer[],
                  ${rollups.map((r) => toPgArray(r.latency))}::text[], ${rollups.map((r) => toPgArray(r.e2e))}::text[],
                  ${rollups.map((r) => toPgArray(r.causes))}::text[])
        as u (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
    on conflict (plugin_id, bucket, event_type) do update
       set attempts = r.attempts + excluded.attempts,
           sent = r.sent + excluded.sent,
           retried = r.retried + excluded.retried,
           failed = r.failed + excluded.failed,
           latency = analytics_add(r.latency, excluded.latency),
           e2e = analytics_add(r.e2e, excluded.e2e),
           causes = analytics_add(r.causes, excluded.causes)
  `.execute(trx)
}

/**
 * Deletes rollups past their keeping, in small batches: minutes after two days
 * (the minute view covers the last 24 hours), hours after `hourDays`, days after
 * `dayDays`. The deliveries' own retention does not touch them.
 */
export async function pruneRollups(db: Database, hourDays: number, dayDays: number): Promise<number> {
  let deleted = 0
  for (const [table, days] of [['analytics_minute', 2], ['analytics_hour', hourDays], ['analytics_day', dayDays]] as const) {
    const result = await sql`
      delete from ${sql.table(table)}
       where ctid = any (array(select ctid from ${sql.table(table)}
                                where bucket < now() - ${days}::integer * interval '1 day'
                                limit 5000))
    `.execute(db)
    deleted += Number(result.numAffectedRows ?? 0)
  }
  return deleted
}
