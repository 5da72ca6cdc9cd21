import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { DeliveryStatus } from '../db/schema.ts'
import { webhookId } from '../relay/headers.ts'
import type { ChangeKind } from './changes.ts'

/** One change of one delivery, as the stream sends it. */
export interface DeliveryChange {
  change: ChangeKind
  delivery_id: number
  webhook_id: string
  plugin: string
  event: string
  /** the delivery's status when the change was read (it may have moved on since) */
  status: DeliveryStatus
  attempts: number
  /** the attempt this change reports; null for `created` and `requeued` */
  attempt: { number: number; status_code: number | null; error: string | null; duration_ms: number } | null
  created_at: string
  /** when the change happened */
  at: string
}

/** A change with what the stream needs besides: whose it is, and its place in the resume cursor. */
export interface LiveChange {
  tenantId: string
  /** the delivery id of a `created`, the attempt id of an outcome; requeues have neither */
  deliveryCursor: number | null
  attemptCursor: number | null
  data: DeliveryChange
}

/** What a stream client asked to see. */
export interface ChangeFilter {
  tenantId: string
  plugins: string[]
  events: string[]
}

interface Row {
  id: number
  tenant_id: string
  plugin: string
  event: string
  status: DeliveryStatus
  attempts: number
  created_at: Date
  attempt_id: number | null
  attempt: number | null
  status_code: number | null
  error: string | null
  duration_ms: number | null
  attempted_at: Date | null
}

function toChange(row: Row, change: ChangeKind, withAttempt: boolean): LiveChange {
  const attempt =
    withAttempt && row.attempt !== null
      ? { number: row.attempt, status_code: row.status_code, error: row.error, duration_ms: row.duration_ms ?? 0 }
      : null
  return {
    tenantId: row.tenant_id,
    deliveryCursor: change === 'created' ? row.id : null,
    attemptCursor: attempt ? row.attempt_id : null,
    data: {
      change,
      delivery_id: row.id,
      webhook_id: webhookId(row.id),
      plugin: row.plugin,
      event: row.event,
      status: row.status,
      attempts: row.attempts,
      attempt,
      created_at: row.created_at.toISOString(),
      at: ((attempt && row.attempted_at) || (change === 'requeued' ? new Date() : row.created_at)).toISOString(),
    },
  }
}

/** At the same instant, a delivery's creation comes before its attempts. */
const rank = (c: LiveChange): number => (c.data.change === 'created' ? 0 : 1)

/** The highest delivery and attempt ids: where a stream that starts now stands. */
export async function currentCursor(db: Database): Promise<{ delivery: number; attempt: number }> {
  const { rows } = await sql<{ delivery: number; attempt: number }>`
    select (select coalesce(max(id), 0) from deliveries) as delivery,
           (select coalesce(max(id), 0) from delivery_attempts) as attempt
  `.execute(db)
  return rows[0]!
}

/**
 * Deliveries created after `afterId`, of the given tenants, oldest first, and
 * the id to continue from: past other tenants' deliveries too, so that their
 * traffic is not scanned again by the next call.
 */
export async function createdSince(
  db: Database,
  afterId: number,
  tenants: string[],
  limit: number,
): Promise<{ changes: LiveChange[]; cursor: number }> {
  const { rows } = await sql<Row & { newest: number }>`
    with newest as (select coalesce(max(id), ${afterId}) as id from deliveries where id > ${afterId})
    select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
           null as attempt_id, null as attempt, null as status_code, null as error, null as duration_ms, null as attempted_at,
           (select id from newest) as newest
      from deliveries d
      join plugins p on p.id = d.plugin_id
      join events e on e.id = d.event_id
     where d.id > ${afterId} and d.tenant_id = any(${tenants}::uuid[])
     order by d.id
     limit ${limit}
  `.execute(db)
  const changes = rows.map((r) => toChange(r, 'created', false))
  if (rows.length === limit) return { changes, cursor: rows[rows.length - 1]!.id }
  if (rows.length > 0) return { changes, cursor: Math.max(afterId, rows[0]!.newest) }
  const { rows: newest } = await sql<{ id: number }>`select coalesce(max(id), ${afterId}) as id from deliveries`.execute(db)
  return { changes, cursor: Math.max(afterId, newest[0]!.id) }
}

/** The deliveries named by notifications, each with its latest attempt, reported as the change the writer named. */
export async function readChanges(db: Database, changes: { id: number; kind: ChangeKind }[], tenants: string[]): Promise<LiveChange[]> {
  const { rows } = await sql<Row>`
    select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
           a.id as attempt_id, a.attempt, a.status_code, a.error, a.duration_ms, a.created_at as attempted_at
      from deliveries d
      join plugins p on p.id = d.plugin_id
      join events e on e.id = d.event_id
      left join lateral (
        select x.id, x.attempt, x.status_code, x.error, x.duration_ms, x.created_at
          from delivery_attempts x where x.delivery_id = d.id order by x.id desc limit 1
      ) a on true
     where d.id = any(${changes.map((c) => c.id)}::bigint[]) and d.tenant_id = any(${tenants}::uuid[])
  `.execute(db)
  const byId = new Map(rows.map((r) => [r.id, r]))
  return changes.flatMap((c) => {
    const row = byId.get(c.id)
    return row ? [toChange(row, c.kind, c.kind !== 'requeued')] : []
  })
}

/**
 * What a client missed since its cursor (SSE `Last-Event-ID`): deliveries
 * created after the delivery cursor and attempts after the attempt cursor, of
 * its tenant and filters, in the order they happened. At most `limit`; one more
 * row than that tells the caller the gap was larger.
 */
export async function changesSince(
  db: Database,
  filter: ChangeFilter,
  cursor: { delivery: number; attempt: number },
  limit: number,
): Promise<{ changes: LiveChange[]; truncated: boolean }> {
  const plugins = filter.plugins.length > 0 ? filter.plugins : null
  const events = filter.events.length > 0 ? filter.events : null
  const [created, attempted] = await Promise.all([
    sql<Row>`
      select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
             null as attempt_id, null as attempt, null as status_code, null as error, null as duration_ms, null as attempted_at
        from deliveries d
        join plugins p on p.id = d.plugin_id
        join events e on e.id = d.event_id
       where d.tenant_id = ${filter.tenantId} and d.id > ${cursor.delivery}
         and (${plugins}::text[] is null or p.slug = any(${plugins}::text[]))
         and (${events}::text[] is null or e.type = any(${events}::text[]))
       order by d.id
       limit ${limit + 1}
    `.execute(db),
    sql<Row>`
      select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
             a.id as attempt_id, a.attempt, a.status_code, a.error, a.duration_ms, a.created_at as attempted_at
        from delivery_attempts a
        join deliveries d on d.id = a.delivery_id
        join plugins p on p.id = d.plugin_id
        join events e on e.id = d.event_id
       where a.id > ${cursor.attempt} and d.tenant_id = ${filter.tenantId}
         and (${plugins}::text[] is null or p.slug = any(${plugins}::text[]))
         and (${events}::text[] is null or e.type = any(${events}::text[]))
       order by a.id
       limit ${limit + 1}
    `.execute(db),
  ])
  const truncated = created.rows.length > limit || attempted.rows.length > limit
  // an attempt's outcome is not stored as such: ok, or the delivery's final failure, or a failure retried
  const outcome = (r: Row): ChangeKind =>
    r.error === null ? 'sent' : r.attempt !== null && r.attempt >= r.attempts && r.status === 'failed' ? 'failed' : 'retry'
  const changes = [
    ...created.rows.map((r) => toChange(r, 'created', false)),
    ...attempted.rows.map((r) => toChange(r, outcome(r), true)),
  ].sort((a, b) => a.data.at.localeCompare(b.data.at) || rank(a) - rank(b))
  return { changes: changes.slice(0, limit), truncated }
}
