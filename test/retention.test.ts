import t from 'tap'
import { sql } from 'kysely'
import { createDatabase } from '../src/db/database.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin } from '../src/plugins/plugin.repository.ts'
import { runMaintenance } from '../src/relay/maintenance.ts'
import { testDatabase } from './helpers/db.ts'
import { waitFor } from './helpers/wait.ts'

/** `count` events of `daysOld` days ago (the statement, to run or to use as a CTE). */
const events = (count: number, daysOld: number) => sql`
  insert into events (id, tenant_id, type, body, created_at)
  select gen_random_uuid(), ${DEFAULT_TENANT}::uuid, 'product.created', '{}', now() - ${daysOld}::integer * interval '1 day'
    from generate_series(1, ${count}::int)
  returning id, created_at`

/** `count` events of `daysOld` days ago, each with one delivery sent to `pluginId`: all retention's. */
const sentDeliveries = (count: number, daysOld: number, pluginId: string) => sql`
  with e as (${events(count, daysOld)})
  insert into deliveries (tenant_id, event_id, plugin_id, status, attempts, next_attempt_at, created_at, sent_at)
  select ${DEFAULT_TENANT}::uuid, e.id, ${pluginId}::uuid, 'sent', 1, e.created_at, e.created_at, e.created_at from e`

/**
 * Retention's cost follows what it deletes, not what it must keep (issue 13). Old
 * events still referred to by a delivery (a paused plugin's parked ones) sit at the
 * front of the events' created_at order; the sweep steps over them once per run.
 * Checked without a clock: the index entries of events a run reads.
 */
t.test('retention reads each old event once per run, however many old events are kept in front of the deletable ones', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const paused = await insertPlugin(db, DEFAULT_TENANT, { slug: 'paused', name: 'Paused', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  const live = await insertPlugin(db, DEFAULT_TENANT, { slug: 'live', name: 'Live', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  await sql`update plugins set status = 'paused' where id = ${paused.id}`.execute(db)
  const kept = 3000
  const bare = 4000
  const sent = 2500
  // the oldest: events whose deliveries are parked (paused plugin), to be kept, with them
  await sql`
    with e as (${events(kept, 45)})
    insert into deliveries (tenant_id, event_id, plugin_id, next_attempt_at, created_at)
    select ${DEFAULT_TENANT}::uuid, e.id, ${paused.id}::uuid, 'infinity', e.created_at from e
  `.execute(db)
  // then events no plugin subscribed to, and events whose one delivery was sent: all retention's
  await events(bare, 40).execute(db)
  await sentDeliveries(sent, 35, live.id).execute(db)
  // and recent ones, which stay
  await events(50, 0).execute(db)

  // one connection, so its statistics can be flushed before they are read
  const handle = createDatabase(database.url, 1)
  t.teardown(() => handle.destroy())
  const indexReads = async () => {
    await sql`select pg_stat_force_next_flush()`.execute(handle.db)
    await sql`select 1`.execute(handle.db)
    const { rows } = await sql<{ index_read: number; seq_scans: number; settled_read: number }>`
      select (select idx_tup_read from pg_stat_user_indexes where indexrelname = 'events_created_id')::integer as index_read,
             (select seq_scan from pg_stat_user_tables where relname = 'events')::integer as seq_scans,
             (select idx_tup_read from pg_stat_user_indexes where indexrelname = 'deliveries_settled_id')::integer as settled_read
    `.execute(db)
    return rows[0]!
  }

  const before = await indexReads()
  const first = await runMaintenance(handle.db, 30, { duty: 1 })
  const after = await indexReads()
  t.equal(first.deliveriesDeleted, sent, 'the sent deliveries are deleted')
  const old = kept + bare + sent
  const read = after.index_read - before.index_read
  // each window reads its 1,000 entries and the sweep ends past the last: one pass over
  // the old events. Stepping over the kept ones in every batch read 20,000 and more.
  t.ok(read <= old + 20, `one run read ${read} entries of the events index for ${old} old events`)
  t.equal(after.seq_scans, before.seq_scans, 'and never scanned the events table')
  const settled = after.settled_read - before.settled_read
  t.ok(settled <= sent + 20, `its deletes of deliveries read ${settled} entries of deliveries_settled_id for ${sent} settled rows`)

  // what the first run's sweep passed before their deliveries were deleted goes in the next
  let eventsDeleted = first.eventsDeleted
  for (let run = 0; run < 3; run++) eventsDeleted += (await runMaintenance(handle.db, 30, { duty: 1 })).eventsDeleted
  t.equal(eventsDeleted, bare + sent, 'every old event no delivery refers to is deleted')
  const left = await sql<{ events: number; parked: number; orphans: number }>`
    select (select count(*)::int from events) as events,
           (select count(*)::int from deliveries where plugin_id = ${paused.id}) as parked,
           (select count(*)::int from deliveries d where not exists (select 1 from events e where e.id = d.event_id)) as orphans
  `.execute(db)
  t.same(left.rows[0], { events: kept + 50, parked: kept, orphans: 0 }, 'the parked deliveries keep their events, and the recent events stay')
})

/**
 * Retention is paced (its duty, RETENTION_DUTY_PERCENT in a relay): after each batch it rests several times what
 * the batch took, so a delete of millions never takes the relays' CPU for long. With
 * a duty of 1/1000 the rest after the first batch is a thousand times that batch; the
 * test waits for that batch's rows to be gone, stops the run, and finds no second
 * batch deleted. Checked on the rows, not on a clock.
 */
t.test('retention rests between its batches, and a relay stopping ends the run there', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const live = await insertPlugin(db, DEFAULT_TENANT, { slug: 'live', name: 'Live', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  const sent = 3500
  await sentDeliveries(sent, 40, live.id).execute(db)
  const count = async () => (await sql<{ n: number }>`select count(*)::int as n from deliveries`.execute(db)).rows[0]!.n

  await t.rejects(runMaintenance(db, 30, { duty: 0 }), RangeError, 'a duty of 0 is refused')
  const stop = new AbortController()
  const run = runMaintenance(db, 30, { duty: 0.001, signal: stop.signal })
  await waitFor(async () => (await count()) <= sent - 1000, { intervalMs: 5, message: "the first batch's rows to be gone" })
  stop.abort()
  const result = await run
  t.equal(result.deliveriesDeleted, 1000, 'one batch was deleted before the run rested')
  t.equal(await count(), sent - 1000, 'and nothing after it: the stop ended the run during its rest')

  const rest = await runMaintenance(db, 30, { duty: 1 })
  t.equal(rest.deliveriesDeleted, sent - 1000, 'a run with a duty of 1 deletes the rest back to back')
  t.equal(await count(), 0)
})
