import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { readyOnConflict } from '../relay/sql/ready.ts'

/** The channel relays LISTEN on. The payload is empty: a NOTIFY only says "look". */
export const DELIVERY_CHANNEL = 'bcs_deliveries'

export interface Emitted {
  eventId: string
  type: string
  /** slugs of the plugins that got a delivery, for the log line after commit */
  plugins: string[]
}

/** The exact bytes every subscriber receives: the spec's envelope plus the event id. */
export function envelope(id: string, type: string, tenantId: string, timestamp: Date, data: unknown): string {
  return JSON.stringify({ id, event: type, tenant_id: tenantId, timestamp: timestamp.toISOString(), data })
}

/**
 * Records an event and fans it out to every subscribed plugin of the tenant, in
 * one statement, inside the caller's transaction. The NOTIFY rides the same
 * transaction: Postgres sends it only on commit, and folds identical ones into
 * one per transaction, so a rolled-back write wakes nothing.
 *
 * Deliveries of paused plugins are created parked (due at 'infinity') and wait
 * for the plugin to be resumed.
 */
export async function emit(trx: Database, tenantId: string, type: string, data: unknown): Promise<Emitted> {
  const eventId = randomUUID()
  const body = envelope(eventId, type, tenantId, new Date(), data)
  const { rows } = await sql<{ slug: string }>`
    with event as (
      insert into events (id, tenant_id, type, body)
      values (${eventId}, ${tenantId}, ${type}, ${body})
    ),
    -- An ordered plugin's deliveries must get their ids in commit order: holding its
    -- row lock from before the insert until commit makes concurrent writes to it
    -- take turns (only writes that reach an ordered plugin pay for this).
    ordered_turn as (
      select p.id
        from plugins p
       where p.tenant_id = ${tenantId} and p.ordered
         and p.status in ('active', 'paused')
         and ${type}::text = any (p.events)
         for no key update
    ),
    fanout as (
      insert into deliveries (tenant_id, event_id, plugin_id, next_attempt_at)
      select p.tenant_id, ${eventId}::uuid, p.id,
             case when p.status = 'active' then now() else 'infinity' end
        from plugins p
       where p.tenant_id = ${tenantId}
         and p.status in ('active', 'paused')
         and ${type}::text = any (p.events)
         and (not p.ordered or p.id in (select id from ordered_turn))
      returning plugin_id, next_attempt_at
    ),
    -- the ready set (src/relay/sql/ready.ts): each active plugin that got a delivery
    -- is due now, so the claim looks at it; parked deliveries wait for the resume
    ready as (
      insert into plugin_ready (plugin_id, due_at)
      select f.plugin_id, now() from fanout f where f.next_attempt_at <> 'infinity' order by f.plugin_id
      ${readyOnConflict}
    )
    select p.slug, pg_notify(${DELIVERY_CHANNEL}, '')
      from fanout join plugins p on p.id = fanout.plugin_id
  `.execute(trx)
  return { eventId, type, plugins: rows.map((r) => r.slug) }
}
