import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { executeNamed } from '../db/named-statements.ts'
import { inTransaction } from '../db/transaction.ts'
import { markReadySql } from '../relay/sql/ready.ts'

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
 * The one lock order of every write that can emit (issues 19 and 20):
 *
 *   1. the ordered plugins' turns, all of them, in plugin id order, first;
 *   2. then the write's own rows (products in id order through lockProducts,
 *      an order, a customer);
 *   3. then emit(), which takes no lock it does not already hold.
 *
 * An ordered plugin's deliveries get their ids in commit order because a write
 * holds the plugin's row lock (`for no key update`) from before it draws an id
 * until it commits. Taken inside emit(), one event at a time, those locks came in
 * an order that depended on the write: createOrder locked products and then emitted,
 * cancel emitted and then locked products, and two ordered plugins with overlapping
 * events were locked in the order of the events a write happened to record. Two
 * writes holding one each and waiting for the other deadlocked (40P01, a 500).
 * Taking every turn a write may need at its start, sorted, makes each write wait
 * at its first statement or not at all.
 *
 * A write declares the event types it may emit; `emit` refuses a type that was
 * not declared (a programming error, caught by test/lock-order.test.ts), so no
 * write can take a turn in the middle of its transaction.
 */
export function outboxTransaction<T>(
  db: Database,
  tenantId: string,
  types: readonly string[],
  fn: (trx: Database) => Promise<T>,
): Promise<T> {
  return inTransaction(db, async (trx) => {
    await takeOrderedTurns(trx, tenantId, types)
    const result = await fn(trx)
    await markReady(trx)
    return result
  })
}

/** Plugins that got a claimable delivery in each open transaction, for markReady. */
const readyPlugins = new WeakMap<Database, Set<string>>()

/**
 * Puts every plugin this write gave a claimable delivery into the ready set
 * (src/relay/sql/ready.ts), in one statement, last, in plugin id order. It holds
 * each plugin's ready row until commit (shared with other writes where the row
 * already admits the deliveries, alone where it upserts); done per emit(), a write recording
 * several events locked them in the order of its events, and two writes whose
 * events reach overlapping plugins could each hold a row the other wanted (a
 * deadlock, as the ordered turns had). One sorted statement per write cannot.
 */
async function markReady(trx: Database): Promise<void> {
  const ids = readyPlugins.get(trx)
  if (!ids || ids.size === 0) return
  readyPlugins.delete(trx)
  await executeNamed(trx, 'bcs_mark_ready', markReadySql([...ids]))
}

/** Event types whose turns each open transaction holds (the transaction object is the key). */
const turnsTaken = new WeakMap<Database, Set<string>>()

async function takeOrderedTurns(trx: Database, tenantId: string, types: readonly string[]): Promise<void> {
  const taken = turnsTaken.get(trx) ?? new Set<string>()
  turnsTaken.set(trx, taken)
  const wanted = types.filter((t) => !taken.has(t))
  if (wanted.length === 0) return
  // rows are locked as the sort hands them out: in id order
  const turns = sql`
    select p.id
      from plugins p
     where p.tenant_id = ${tenantId} and p.ordered
       and p.status in ('active', 'paused')
       and p.events && ${wanted}::text[]
     order by p.id
       for no key update
  `
  await executeNamed(trx, 'bcs_ordered_turns', turns)
  for (const t of wanted) taken.add(t)
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
  if (!turnsTaken.get(trx)?.has(type)) {
    throw new Error(`emit('${type}') outside an outboxTransaction that declared it: the ordered plugins' turns must be taken first`)
  }
  const eventId = randomUUID()
  const body = envelope(eventId, type, tenantId, new Date(), data)
  const fanOut = sql<{ slug: string; id: string; due: boolean }>`
    with event as (
      insert into events (id, tenant_id, type, body)
      values (${eventId}, ${tenantId}, ${type}, ${body})
    ),
    -- An ordered plugin's deliveries must get their ids in commit order: holding its
    -- row lock from before the insert until commit makes concurrent writes to it
    -- take turns (only writes that reach an ordered plugin pay for this). The write
    -- took these locks at its start (outboxTransaction); here they are already held,
    -- unless a plugin became ordered or subscribed since, which this still covers.
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
         -- the transaction gets its id before it draws delivery ids (the filter runs before
         -- the insert's defaults): the live stream finds ids committed late by it (src/live/hub.ts)
         and pg_current_xact_id() is not null
      returning plugin_id, next_attempt_at
    )
    -- parked deliveries (paused plugins) wait for the resume; the others make their
    -- plugin ready when the write ends (markReady)
    select p.slug, p.id, fanout.next_attempt_at <> 'infinity' as due, pg_notify(${DELIVERY_CHANNEL}, '')
      from fanout join plugins p on p.id = fanout.plugin_id
  `
  const { rows } = await executeNamed(trx, 'bcs_emit', fanOut)
  const ready = readyPlugins.get(trx) ?? new Set<string>()
  readyPlugins.set(trx, ready)
  for (const r of rows) if (r.due) ready.add(r.id)
  return { eventId, type, plugins: rows.map((r) => r.slug) }
}
