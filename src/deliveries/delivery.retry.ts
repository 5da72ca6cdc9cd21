import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { ConflictError, NotFoundError } from '../errors.ts'
import { CHANGES_CHANNEL } from '../live/changes.ts'
import { DELIVERY_CHANNEL } from '../outbox/emit.ts'
import { readyOnConflict } from '../relay/sql/ready.ts'

/**
 * Redelivers one delivery, whatever its status: due now, as a further attempt of
 * the same delivery (same `webhook-id`, the attempt count goes on). Clearing the
 * lease fences off an attempt still in flight, so its outcome cannot overwrite
 * this one. A delivery that had settled becomes `retry`; one already waiting
 * keeps its status. A paused plugin's delivery waits, parked, until it resumes.
 */
export async function redeliver(db: Database, tenantId: string, id: number): Promise<void> {
  const { rows } = await sql<{ id: number; plugin_status: string }>`
    with target as (
      select d.id, p.status as plugin_status
        from deliveries d join plugins p on p.id = d.plugin_id
       where d.id = ${id} and d.tenant_id = ${tenantId}
         for update of d
    ),
    requeued as (
      update deliveries d
         set status = case when d.status in ('pending', 'retry') then d.status else 'retry' end,
             next_attempt_at = now(),
             lease_id = null,
             updated_at = now()
        from target t
       where d.id = t.id and t.plugin_status <> 'deleted'
      returning d.id, d.plugin_id
    ),
    -- due now: so is its plugin (the ready set, src/relay/sql/ready.ts)
    ready as (
      insert into plugin_ready (plugin_id, due_at)
      select plugin_id, now() from requeued
      ${readyOnConflict}
    ),
    -- wake the relays, and tell the live stream (src/live/changes.ts)
    notified as (
      select pg_notify(${DELIVERY_CHANNEL}, ''), pg_notify(${CHANGES_CHANNEL}, id || 'q') from requeued
    )
    select t.id, t.plugin_status, (select count(*) from notified) as notified from target t
  `.execute(db)
  const row = rows[0]
  if (!row) throw new NotFoundError('Delivery', String(id))
  if (row.plugin_status === 'deleted') {
    throw new ConflictError('PLUGIN_DELETED', `Delivery ${id} belongs to a deleted plugin; nothing is delivered to it any more`)
  }
}
