import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'
import { readyOnConflict } from './ready.ts'

/**
 * Makes parked deliveries of active plugins due again. Resuming a plugin does this
 * for its own deliveries (inside the resume's transaction); the relay runs it now
 * and then for all, because a claim that raced a resume may have parked a delivery
 * on the plugin's old status.
 */
export async function unparkDeliveries(db: Database, pluginId: string | null = null): Promise<number> {
  const { rows } = await sql<{ unparked: number }>`
    with unparked as (
      update deliveries d
         set next_attempt_at = now()
        from plugins p
       where p.id = d.plugin_id
         and p.status = 'active'
         and d.status in ('pending', 'retry')
         and d.next_attempt_at = 'infinity'
         and (${pluginId}::uuid is null or d.plugin_id = ${pluginId}::uuid)
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
