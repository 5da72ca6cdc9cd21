import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'
import { readyOnConflict } from './ready.ts'

/**
 * Makes parked deliveries of active plugins due again. Resuming a plugin does this
 * for its own deliveries (inside the resume's transaction); the relay runs it now
 * and then for all, because a claim that raced a resume may have parked a delivery
 * on the plugin's old status.
 *
 * Rows another transaction holds are skipped, not waited for: a resume holds its
 * plugin row, and a delete of the same plugin locks the deliveries it cancels before
 * that row (the order of the relay's outcome statement), so waiting deadlocked the
 * two (a 500 the contract fuzz found). Whoever holds a parked delivery cancels it or
 * makes it due; one left parked is unparked by the relay's next housekeeping.
 */
export async function unparkDeliveries(db: Database, pluginId: string | null = null): Promise<number> {
  const { rows } = await sql<{ unparked: number }>`
    with parked as (
      select d.id
        from deliveries d
        join plugins p on p.id = d.plugin_id
       where p.status = 'active'
         and d.status in ('pending', 'retry')
         and d.next_attempt_at = 'infinity'
         and (${pluginId}::uuid is null or d.plugin_id = ${pluginId}::uuid)
         for update of d skip locked
    ),
    unparked as (
      update deliveries d
         set next_attempt_at = now()
       where d.id = any (array(select id from parked))
      returning d.plugin_id
    ),
    -- the ready set (src/relay/sql/ready.ts): every plugin unparked here is due now, and
    -- so is the one being resumed or enabled, whatever it has (a disabled plugin's
    -- deliveries were never parked, and may have become due while it was disabled)
    ready as (
      insert into plugin_ready (plugin_id, due_at)
      select plugin_id, now()
        from (select plugin_id from unparked
               union
              select p.id from plugins p where p.id = ${pluginId}::uuid and p.status = 'active') s
       order by plugin_id
      ${readyOnConflict}
    )
    select count(*)::integer as unparked from unparked
  `.execute(db)
  return rows[0]?.unparked ?? 0
}
