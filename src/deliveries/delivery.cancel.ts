import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { notifyChangesSql } from '../live/changes.ts'

/**
 * Cancels a plugin's undelivered deliveries (its deletion, its app's uninstall):
 * clearing the lease fences off an attempt still in flight, so its outcome cannot
 * overwrite the cancel. The live stream hears of each, as `cancelled`, on commit.
 */
export async function cancelUndelivered(db: Database, pluginId: string): Promise<number> {
  const { rows } = await sql<{ cancelled: number }>`
    with cancelled as (
      update deliveries
         set status = 'cancelled', lease_id = null, updated_at = now()
       where plugin_id = ${pluginId} and status in ('pending', 'retry')
      returning id
    ),
    notified as (${sql.raw(notifyChangesSql('cancelled', 'c'))})
    select (select count(*) from cancelled)::integer as cancelled, (select notifications from notified) as notifications
  `.execute(db)
  return rows[0]?.cancelled ?? 0
}
