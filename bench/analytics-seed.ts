import { sql, type RawBuilder } from 'kysely'
import type { Database } from '../src/db/database.ts'
import { GAMMA } from '../src/analytics/histogram.ts'
import { causeIndex } from '../src/analytics/failure-cause.ts'
import { TENANT } from './seed.ts'

/**
 * The issue's analytics store, written set-based: `deliveries` deliveries of one
 * store (100 plugins, each subscribed to 2 event types, every event delivered to
 * every plugin) spread evenly over the last 90 days, their attempts, and the
 * rollups those attempts make, in one statement per chunk of events. 98 % are
 * sent at the first attempt, 1 % after a 500, 1 % fail for good (a timeout, then
 * a 500); attempt durations are log-spread over 5 ms–2 s; each plugin also has
 * `backlogPerPlugin` pending deliveries due an hour ago (the overview's backlog).
 *
 * The rollups are what src/analytics/aggregator.ts would write for these
 * attempts (same buckets: histogram.ts's log-spaced index computed in SQL, the
 * same outcome and cause rules), summed by SQL instead of folded slice by slice
 * in JS, so ten million attempts take minutes: minute rows for the last two
 * days (they are kept two), hour and day rows for all 90. The attempts get a
 * null txid, as rows older than the aggregator have: no aggregator folds them
 * twice.
 */
export const ANALYTICS_PLUGINS = 100
export const ANALYTICS_TYPES = ['product.created', 'order.paid'] as const
const DAYS = 90
/** events per statement: each makes 100 deliveries */
const CHUNK_EVENTS = 2_000

const GRAINS = [
  { grain: 'day', table: 'analytics_day', since: `${DAYS + 1} days` },
  { grain: 'hour', table: 'analytics_hour', since: `${DAYS + 1} days` },
  { grain: 'minute', table: 'analytics_minute', since: '2 days' },
] as const

/** The histogram index of `ms` (src/analytics/histogram.ts bucketOf), in SQL. */
const bucketOf = (ms: RawBuilder<unknown>) =>
  sql`case when ${ms} <= 1 then 0 else least(400, ceil(ln(${ms}) / ln(${GAMMA}::float8) - 1e-9))::integer end`

/**
 * One grain's rollups of the attempts in `obs`, added into its table: `<grain>_k`
 * counts attempts by cell, histogram and index (outcome 0 sent, 1 retried, 2
 * failed counts as a histogram too), the insert `<grain>_r` turns each cell's
 * counts into arrays in one grouping (no join: the CTEs have no statistics).
 */
function rollupCtes(g: (typeof GRAINS)[number]) {
  const k = sql.raw(`${g.grain}_k`)
  const b = sql`date_trunc(${g.grain}, o.at)`
  const inRange = sql`o.at > now() - ${g.since}::interval`
  const per = (histogram: string, column: string, where = sql`true`) =>
    sql`select o.plugin_id, o.type, ${b} as bucket, ${histogram} as histogram, o.${sql.ref(column)} as i, count(*)::integer as n
          from obs o where ${inRange} and ${where} group by 1, 2, 3, 5`
  // a histogram as an array: counts by index, zeros between, none after the last non-empty bucket
  const array = (histogram: string, length: RawBuilder<unknown> | null = null) => {
    const m = sql`jsonb_object_agg(i, n) filter (where histogram = ${histogram})`
    const top = length ?? sql`coalesce(max(i) filter (where histogram = ${histogram}), -1)`
    return sql`array(select coalesce((${m} ->> s::text)::integer, 0) from generate_series(0, ${top}) s order by s)`
  }
  const count = (i: number) => sql`coalesce(sum(n) filter (where histogram = 'outcome' and i = ${i}::integer), 0)::integer`
  return sql`
    ${k} as (
      ${per('outcome', 'outcome_i')}
      union all ${per('latency', 'latency_i')}
      union all ${per('e2e', 'e2e_i', sql`o.e2e_i is not null`)}
      union all ${per('causes', 'cause_i', sql`o.cause_i is not null`)}
    ),
    ${sql.raw(`${g.grain}_r`)} as (
      insert into ${sql.table(g.table)} as r (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
      select ${TENANT}::uuid, plugin_id, type, bucket, ${count(0)} + ${count(1)} + ${count(2)}, ${count(0)}, ${count(1)}, ${count(2)},
             ${array('latency')}, ${array('e2e')}, ${array('causes', sql`9`)}
        from ${k}
       group by plugin_id, type, bucket
      on conflict (plugin_id, bucket, event_type) do update
         set attempts = r.attempts + excluded.attempts, sent = r.sent + excluded.sent,
             retried = r.retried + excluded.retried, failed = r.failed + excluded.failed,
             latency = analytics_add(r.latency, excluded.latency), e2e = analytics_add(r.e2e, excluded.e2e),
             causes = analytics_add(r.causes, excluded.causes)
    )`
}

/** Events [from, to) of `total`, their deliveries, attempts and rollups, in one statement. */
async function seedChunk(db: Database, from: number, to: number, total: number): Promise<void> {
  // minute rows are kept two days: only the chunks that reach into them make any
  const reachesMinutes = to / total > 1 - 2.1 / DAYS
  const grains = GRAINS.filter((g) => g.grain !== 'minute' || reachesMinutes)
  await sql`
    with e as (
      insert into events (id, tenant_id, type, body, created_at)
      -- ascending ids: the events' and deliveries' uuid indexes grow at their end, as with time-ordered ids
      select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, ${TENANT}::uuid, (${[...ANALYTICS_TYPES]}::text[])[1 + i % 2],
             '{"bench":"analytics"}', now() - interval '${sql.raw(String(DAYS))} days' + (i + random()) * (interval '${sql.raw(String(DAYS))} days' / ${total}::integer)
        from generate_series(${from}::integer, ${to - 1}::integer) i
      returning id, type, created_at
    ),
    x as (
      -- u decides the outcome: < 0.98 sent at once, < 0.99 sent after a 500, else failed for good
      select e.id as event_id, e.type, e.created_at, p.id as plugin_id, random() as u
        from e cross join plugins p
       where p.tenant_id = ${TENANT}::uuid and p.kind = 'plugin'
    ),
    d as (
      insert into deliveries (tenant_id, event_id, plugin_id, status, attempts, next_attempt_at, last_status_code, created_at, updated_at, sent_at)
      select ${TENANT}::uuid, x.event_id, x.plugin_id, case when x.u < 0.99 then 'sent' else 'failed' end,
             case when x.u < 0.98 then 1 else 2 end, x.created_at, case when x.u < 0.99 then 200 else 500 end,
             x.created_at, x.created_at, case when x.u < 0.99 then x.created_at + interval '2 seconds' end
        from x
      returning id, event_id, plugin_id, status, attempts, created_at
    ),
    a as (
      insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms, created_at, txid, outcome)
      select d.id, k,
             case when d.status = 'failed' and k = 1 then null when k < d.attempts or d.status = 'failed' then 500 else 200 end,
             case when d.status = 'failed' and k = 1 then 'timeout after 10000 ms'
                  when k < d.attempts or d.status = 'failed' then 'HTTP 500' end,
             (5 * exp(random() * 6))::integer, d.created_at + k * interval '1 second', null,
             case when k < d.attempts then 'retry' when d.status = 'failed' then 'failed' else 'sent' end
        from d cross join generate_series(1, d.attempts) k
      returning delivery_id, attempt, status_code, error, duration_ms, created_at
    ),
    obs as (
      select d.plugin_id, x.type, a.created_at as at,
             case when a.error is null then 0 when d.status = 'failed' and a.attempt >= d.attempts then 2 else 1 end as outcome_i,
             ${bucketOf(sql`a.duration_ms::float8`)} as latency_i,
             case when a.error is null then ${bucketOf(sql`extract(epoch from a.created_at - x.created_at)::float8 * 1000`)} end as e2e_i,
             case when a.error is null then null when a.error like 'timeout%' then ${causeIndex('timeout')}::integer
                  else ${causeIndex('http_5xx')}::integer end as cause_i
        from a join d on d.id = a.delivery_id join x on x.event_id = d.event_id and x.plugin_id = d.plugin_id
    ),
    ${sql.join(grains.map(rollupCtes))}
    select 1
  `.execute(db)
}

/** The store: plugins, `deliveries` delivered over 90 days with their rollups, and a small due backlog per plugin. */
export async function seedAnalyticsStore(
  db: Database,
  deliveries: number,
  options: { backlogPerPlugin?: number; log?: (m: string) => void } = {},
): Promise<void> {
  await sql`
    insert into plugins (tenant_id, slug, name, webhook_url, events, slo)
    select ${TENANT}::uuid, 'plugin-' || i, 'Plugin ' || i, 'https://plugin-' || i || '.example.com/hook', ${[...ANALYTICS_TYPES]}::text[],
           '{"success_rate": 0.99, "latency_p95_ms": 1000}'::jsonb
      from generate_series(1, ${ANALYTICS_PLUGINS}::integer) i
  `.execute(db)
  // bulk rows: the history tables are unlogged (no WAL; the calls measured read them the same way), foreign keys
  // are checked by no trigger (the rows are consistent by construction), two chunks at a time: minutes, not an hour, for 10 M
  await sql`alter table delivery_attempts set unlogged`.execute(db)
  await sql`alter table deliveries set unlogged`.execute(db)
  await sql`alter table events set unlogged`.execute(db)
  const events = Math.max(1, Math.round(deliveries / ANALYTICS_PLUGINS))
  let next = 0
  let done = 0
  let lastLog = Date.now()
  const worker = async () => {
    while (next < events) {
      const from = next
      next = Math.min(events, from + CHUNK_EVENTS)
      await db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx)
        await seedChunk(trx, from, Math.min(events, from + CHUNK_EVENTS), events)
      })
      done += Math.min(events, from + CHUNK_EVENTS) - from
      if (options.log && Date.now() - lastLog > 30_000) {
        lastLog = Date.now()
        options.log(`analytics seed: ${((done / events) * 100).toFixed(0)} % of ${deliveries.toLocaleString('en-US')} deliveries`)
      }
    }
  }
  await Promise.all([worker(), worker()])
  // the running totals the aggregator keeps beside the day rollups (db/0017's backfill, set-based)
  await sql`
    insert into analytics_total (tenant_id, plugin_id, day, attempts, sent, retried, failed, latency, e2e, causes)
    select tenant_id, plugin_id, bucket, sum(attempts) over w, sum(sent) over w, sum(retried) over w, sum(failed) over w,
           analytics_sum(latency) over w, analytics_sum(e2e) over w, analytics_sum(causes) over w
      from (select tenant_id, plugin_id, bucket, sum(attempts) as attempts, sum(sent) as sent, sum(retried) as retried,
                   sum(failed) as failed, analytics_sum(latency::bigint[]) as latency, analytics_sum(e2e::bigint[]) as e2e,
                   analytics_sum(causes::bigint[]) as causes
              from analytics_day where tenant_id = ${TENANT}::uuid group by tenant_id, plugin_id, bucket) d
    window w as (partition by plugin_id order by bucket rows between unbounded preceding and current row)
  `.execute(db)
  const backlog = options.backlogPerPlugin ?? 200
  if (backlog > 0) {
    await sql`
      with e as (
        insert into events (id, tenant_id, type, body, created_at)
        select gen_random_uuid(), ${TENANT}::uuid, 'product.created', '{"bench":"backlog"}', now() - interval '1 hour'
          from generate_series(1, ${backlog}::integer)
        returning id, created_at
      )
      insert into deliveries (tenant_id, event_id, plugin_id, status, next_attempt_at, created_at, updated_at)
      select ${TENANT}::uuid, e.id, p.id, 'pending', e.created_at, e.created_at, e.created_at
        from e cross join plugins p where p.tenant_id = ${TENANT}::uuid
    `.execute(db)
    await sql`insert into plugin_ready (plugin_id, due_at) select id, now() - interval '1 hour' from plugins on conflict do nothing`.execute(db)
  }
}
