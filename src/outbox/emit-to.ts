import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { DELIVERY_CHANNEL, envelope, type Emitted } from './emit.ts'

/**
 * Records an event for one plugin only, whatever it subscribes to, inside the
 * caller's transaction: the same outbox rows, retries, signature and log as any
 * event (emit.ts), for the messages one plugin is owed (an app's lifecycle). A
 * paused plugin's delivery is parked, as emit parks it.
 */
export async function emitTo(trx: Database, tenantId: string, pluginId: string, type: string, data: unknown): Promise<Emitted> {
  const eventId = randomUUID()
  const body = envelope(eventId, type, tenantId, new Date(), data)
  const { rows } = await sql<{ slug: string }>`
    with event as (
      insert into events (id, tenant_id, type, body) values (${eventId}, ${tenantId}, ${type}, ${body})
    ),
    delivery as (
      insert into deliveries (tenant_id, event_id, plugin_id, next_attempt_at)
      select p.tenant_id, ${eventId}::uuid, p.id, case when p.status = 'active' then now() else 'infinity' end
        from plugins p
       where p.id = ${pluginId} and p.tenant_id = ${tenantId} and p.status <> 'deleted'
      returning plugin_id
    )
    select p.slug, pg_notify(${DELIVERY_CHANNEL}, '') from delivery join plugins p on p.id = delivery.plugin_id
  `.execute(trx)
  return { eventId, type, plugins: rows.map((r) => r.slug) }
}
