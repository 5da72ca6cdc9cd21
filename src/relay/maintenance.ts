import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { notifyChangesSql } from '../live/changes.ts'
import { unparkDeliveries } from './sql/unpark.ts'

/** Rows deleted per statement: small, so retention never holds long locks or bloats one transaction. */
const RETENTION_BATCH = 1000
/**
 * A run deletes for at most this long; the next run (a minute later) goes on. Each
 * batch is its own short transaction, so a backlog of millions of settled rows is
 * worked off in bounded steps beside the deliveries, never in one long lock.
 */
const RETENTION_RUN_MS = 20_000

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
 *   attempts, and events no delivery refers to any more are deleted in small batches;
 *   never a delivery a relay holds (leased), whose outcome is still to be written.
 */
export async function runMaintenance(db: Database, retentionDays: number): Promise<MaintenanceResult> {
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
  const started = Date.now()
  while (Date.now() - started < RETENTION_RUN_MS) {
    const deleted = await sql`
      delete from deliveries
       where id in (select id from deliveries
                     where status in ('sent', 'failed', 'cancelled')
                       and created_at < now() - ${retentionDays}::integer * interval '1 day'
                       -- never one a relay holds: its outcome is still to be recorded
                       and lease_id is null
                     order by created_at
                     limit ${RETENTION_BATCH}
                       for update skip locked)
    `.execute(db)
    const events = await sql`
      delete from events e
       where e.id in (select e2.id from events e2
                       where e2.created_at < now() - ${retentionDays}::integer * interval '1 day'
                         and not exists (select 1 from deliveries d where d.event_id = e2.id)
                       limit ${RETENTION_BATCH}
                         for update skip locked)
    `.execute(db)
    deliveriesDeleted += Number(deleted.numAffectedRows ?? 0)
    eventsDeleted += Number(events.numAffectedRows ?? 0)
    if (Number(deleted.numAffectedRows ?? 0) < RETENTION_BATCH && Number(events.numAffectedRows ?? 0) < RETENTION_BATCH) break
  }
  return { unparked, cancelled: cancelled.rows[0]?.cancelled ?? 0, deliveriesDeleted, eventsDeleted }
}
