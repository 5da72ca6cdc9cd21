import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'

/**
 * Makes parked deliveries of active plugins due again. Resuming a plugin does this
 * for its own deliveries (inside the resume's transaction); the relay runs it now
 * and then for all, because a claim that raced a resume may have parked a delivery
 * on the plugin's old status.
 */
export async function unparkDeliveries(db: Database, pluginId: string | null = null): Promise<number> {
  const result = await sql`
    update deliveries d
       set next_attempt_at = now()
      from plugins p
     where p.id = d.plugin_id
       and p.status = 'active'
       and d.status in ('pending', 'retry')
       and d.next_attempt_at = 'infinity'
       and (${pluginId}::uuid is null or d.plugin_id = ${pluginId}::uuid)
  `.execute(db)
  return Number(result.numAffectedRows ?? 0)
}
