import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import { notifyChangesSql } from '../live/changes.ts'
import { unparkDeliveries } from './sql/unpark.ts'

/** Rows deleted per statement: small, so retention never holds long locks or bloats one transaction. */
const RETENTION_BATCH = 1000
/**
 * A run deletes for at most this long; the next run (a minute later, MAINTENANCE_INTERVAL_MS
 * in relay.ts) goes on. Each batch is its own short transaction, so a backlog of millions
 * of settled rows is worked off in bounded steps beside the deliveries, never in one
 * long lock.
 */
const RETENTION_RUN_MS = 50_000
export interface MaintenanceOptions {
  /**
   * The share of a run's time retention's statements may take: after a batch that
   * took t ms it rests t × (1 − duty) / duty ms. 1 (the default) runs them back to
   * back; the relay passes RETENTION_DUTY_PERCENT (5 by default, src/config.ts).
   * Unpaced, on 2 cores, back-to-back batches deleted ~50,000 rows/s and took the
   * relays' CPU (a drain beside them ran at 0.33–0.79 of its rate); at a fifth,
   * 0.66–0.85; at a twentieth 0.86–1.14, still deleting 1,500–3,900 rows a second per
   * relay (docs/performance.md): far more than a platform settles on average.
   */
  duty?: number
  /** ends a run between two batches (the relay stopping) */
  signal?: AbortSignal
}

/**
 * Runs one retention statement with sorts priced out, in its own short transaction.
 * Each takes the oldest rows of one index in that index's order under a limit; with
 * no statistics or stale ones (a table autovacuum has not analyzed since a burst),
 * PostgreSQL preferred a bitmap scan of every old row and a sort: a batch of 1,000
 * read all 9,500 old events of test/retention.test.ts, and would read millions.
 */
function inOrderedScan<T>(db: Database, fn: (trx: Database) => Promise<T>): Promise<T> {
  return inTransaction(db, async (trx) => {
    await sql`set local enable_sort = off; set local enable_incremental_sort = off`.execute(trx)
    return fn(trx)
  })
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/** Where a sweep goes on: after this (created_at, id). */
interface Cursor {
  afterAt: string
  afterId: string
}

/** The cursor past a batch's last row (`last_at` as text: a Date would lose PostgreSQL's microseconds), or null if it had none. */
function cursorAfter(row: { last_at: string | null; last_id: string | null }): Cursor | null {
  return row.last_at === null ? null : { afterAt: row.last_at, afterId: row.last_id! }
}

/**
 * Deletes, among the next RETENTION_BATCH events older than retention after the
 * cursor, those no delivery refers to; returns the cursor past them, or null at
 * the end. Events still referred to (a paused plugin's parked deliveries, or
 * deliveries retention has not reached yet) are stepped over once per run, not
 * once per batch: a window reads RETENTION_BATCH index entries whatever is kept
 * in front of it. Their turn comes in a later run.
 */
async function deleteEventsWindow(db: Database, retentionDays: number, from: Cursor): Promise<{ deleted: number; next: Cursor | null }> {
  const { rows } = await inOrderedScan(db, (trx) => sql<{ scanned: number; deleted: number; last_at: string | null; last_id: string | null }>`
    with win as (
      select created_at, id
        from events
       where created_at < now() - ${retentionDays}::integer * interval '1 day'
         and (created_at, id) > (${from.afterAt}::timestamptz, ${from.afterId}::uuid)
       order by created_at, id
       limit ${RETENTION_BATCH}
    ),
    doomed as (
      select e.id
        from events e
       where e.id = any (array(select id from win))
         and not exists (select 1 from deliveries d where d.event_id = e.id)
         for update skip locked
    ),
    gone as (
      delete from events e where e.id in (select id from doomed) returning 1
    ),
    last as (
      select created_at, id from win order by created_at desc, id desc limit 1
    )
    select (select count(*) from win)::integer as scanned,
           (select count(*) from gone)::integer as deleted,
           (select created_at::text from last) as last_at,
           (select id from last) as last_id
  `.execute(trx))
  const row = rows[0]!
  return { deleted: row.deleted, next: row.scanned < RETENTION_BATCH ? null : cursorAfter(row) }
}

/**
 * Deletes the next RETENTION_BATCH settled deliveries older than retention after the
 * cursor (and their attempts, by cascade). Never one a relay holds: its outcome is
 * still to be recorded. Starting after the last batch, not at the oldest row, a
 * batch does not step over the dead index entries of the batches before it
 * (db/0021); a row skipped here (locked, or leased) waits for the next run.
 */
async function deleteDeliveriesBatch(db: Database, retentionDays: number, from: Cursor): Promise<{ deleted: number; next: Cursor | null }> {
  const { rows } = await inOrderedScan(db, (trx) => sql<{ deleted: number; last_at: string | null; last_id: string | null }>`
    with doomed as (
      select id, created_at
        from deliveries
       where status in ('sent', 'failed', 'cancelled')
         and created_at < now() - ${retentionDays}::integer * interval '1 day'
         and (created_at, id) > (${from.afterAt}::timestamptz, ${from.afterId}::bigint)
         and lease_id is null
       order by created_at, id
       limit ${RETENTION_BATCH}
         for update skip locked
    ),
    gone as (
      delete from deliveries d where d.id = any (array(select id from doomed)) returning 1
    ),
    last as (
      select created_at, id from doomed order by created_at desc, id desc limit 1
    )
    select (select count(*) from gone)::integer as deleted,
           (select created_at::text from last) as last_at,
           (select id::text from last) as last_id
  `.execute(trx))
  const row = rows[0]!
  return { deleted: row.deleted, next: cursorAfter(row) }
}

/** Waits `ms`, or until `signal` aborts. */
async function rest(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return
  await sleep(ms, undefined, { signal }).catch((error: Error) => {
    if (error.name !== 'AbortError') throw error
  })
}

export interface MaintenanceResult {
  unparked: number
  cancelled: number
  deliveriesDeleted: number
  eventsDeleted: number
}

/**
 * The relay's housekeeping, run every minute by each relay (safe in parallel:
 * deletes skip rows another relay has locked):
 * - deliveries parked while their plugin was paused, whose plugin is active again
 *   (a claim that raced the resume), become due;
 * - deliveries fanned out to a plugin while it was being deleted are cancelled;
 * - retired plugins with nothing left to deliver become deleted;
 * - settled deliveries (sent, failed, cancelled) older than `retentionDays`, their
 *   attempts, and events no delivery refers to any more are deleted in small batches,
 *   paced to `options.duty` of the run's time so the deliveries beside them keep
 *   their pace; never a delivery a relay holds (leased), whose outcome is still to be written.
 */
export async function runMaintenance(db: Database, retentionDays: number, options: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const { duty = 1, signal } = options
  if (!(duty > 0 && duty <= 1)) throw new RangeError(`retention duty must be in (0, 1], got ${duty}`)
  const unparked = await unparkDeliveries(db)
  // the live stream hears of each (src/live/changes.ts)
  const cancelled = await sql<{ cancelled: number }>`
    with cancelled as (
      update deliveries d
         set status = 'cancelled', lease_id = null, updated_at = now()
        from plugins p
       where p.id = d.plugin_id and p.status = 'deleted' and d.status in ('pending', 'retry')
      returning d.id
    ),
    notified as (${sql.raw(notifyChangesSql('cancelled', 'c'))})
    select (select count(*) from cancelled)::integer as cancelled, (select notifications from notified) as notifications
  `.execute(db)
  // a retired plugin (an uninstalled app's) is deleted once it has delivered its last
  // delivery, so the claim stops looking at it; plugins_retired holds the few there are
  await sql`
    update plugins p
       set status = 'deleted', updated_at = now()
     where p.retired_at is not null and p.status <> 'deleted'
       and not exists (select 1 from deliveries d where d.plugin_id = p.id and d.status in ('pending', 'retry'))
  `.execute(db)
  let deliveriesDeleted = 0
  let eventsDeleted = 0
  // the events sweep walks old events once per run, in (created_at, id) order
  let sweep: Cursor | null = { afterAt: '-infinity', afterId: NIL_UUID }
  // and the deletes of deliveries go on after the last row they deleted
  let cursor: Cursor = { afterAt: '-infinity', afterId: '0' }
  const started = Date.now()
  while (Date.now() - started < RETENTION_RUN_MS && !signal?.aborted) {
    const batchStarted = performance.now()
    const batch = await deleteDeliveriesBatch(db, retentionDays, cursor)
    const deliveries = batch.deleted
    if (batch.next) cursor = batch.next
    deliveriesDeleted += deliveries
    if (sweep) {
      const window = await deleteEventsWindow(db, retentionDays, sweep)
      eventsDeleted += window.deleted
      sweep = window.next
    }
    if (deliveries < RETENTION_BATCH && !sweep) break
    await rest((performance.now() - batchStarted) * ((1 - duty) / duty), signal)
  }
  return { unparked, cancelled: cancelled.rows[0]?.cancelled ?? 0, deliveriesDeleted, eventsDeleted }
}
