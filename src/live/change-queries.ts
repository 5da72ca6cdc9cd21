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
  /** the attempt this change reports; null for `created`, `requeued` and `cancelled` */
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
  outcome: 'sent' | 'retry' | 'failed' | null
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
      at: ((attempt && row.attempted_at) || (change === 'requeued' || change === 'cancelled' ? new Date() : row.created_at)).toISOString(),
    },
  }
}

/** At the same instant, a delivery's creation comes before its attempts. */
const rank = (c: LiveChange): number => (c.data.change === 'created' ? 0 : 1)

/**
 * How far below a cursor a change committed late is looked for: a transaction that
 * drew its ids while more than this many deliveries (or attempts) were created after
 * them is looked for over the newest this-many ids only. It bounds what a read of
 * late rows costs, whatever the history.
 */
export const LOOKBACK_IDS = 10_000

/**
 * Where a stream that starts now stands: the highest delivery and attempt ids, and
 * the oldest transaction still running (pg_snapshot_xmin, as a number): every row
 * written by a transaction below it is visible now.
 */
export async function currentCursor(db: Database): Promise<{ delivery: number; attempt: number; xmin: number }> {
  const { rows } = await sql<{ delivery: number; attempt: number; xmin: string }>`
    select (select coalesce(max(id), 0) from deliveries) as delivery,
           (select coalesce(max(id), 0) from delivery_attempts) as attempt,
           pg_snapshot_xmin(pg_current_snapshot())::text as xmin
  `.execute(db)
  const row = rows[0]!
  return { delivery: Number(row.delivery), attempt: Number(row.attempt), xmin: Number(row.xmin) }
}

/** A write transaction in progress at a read: the delivery ids it may have drawn, still invisible, lie in (from, upTo]. */
export interface PendingWriter {
  /** its transaction id, 32-bit, as the rows' xmin shows it */
  xid: string
  from: number
  upTo: number
}

/** What a read of new deliveries saw, in one snapshot. */
export interface CreatedRead {
  changes: LiveChange[]
  /** the id to continue from */
  cursor: number
  /** the read stopped at `limit`: more is there */
  more: boolean
  /** the snapshot's xmax and in-progress transaction ids (xid8, as text) */
  xmax: bigint
  inProgress: bigint[]
}

/**
 * Deliveries of the given tenants that became visible since the last read, in
 * one statement (one snapshot): those created after `afterId`, oldest first, and,
 * for each write transaction that was still in progress at an earlier read, its
 * deliveries in the id range it may have drawn from. Ids are drawn before commit,
 * so a transaction that commits after a later one leaves its lower id behind the
 * cursor; its rows are found again by the transaction that wrote them (txid, set at
 * insert: a row's xmin changes with every claim and outcome). Returns the id to continue from
 * (past other tenants' deliveries too, so their traffic is not scanned again) and
 * the snapshot's transaction horizon, which tells the caller whom to keep watching.
 */
export async function createdSince(
  db: Database,
  afterId: number,
  tenants: string[],
  limit: number,
  pending: PendingWriter[] = [],
): Promise<CreatedRead> {
  const { rows } = await sql<Row & { newest: number; xmax: string; xip: string[]; late: boolean | null }>`
    with snap as materialized (select pg_current_snapshot() as s),
    fresh as (
      select d.id, false as late from deliveries d
       where d.id > ${afterId} and d.tenant_id = any(${tenants}::uuid[])
       order by d.id
       limit ${limit}
    ),
    late as (
      select d.id, true as late
        from unnest(${pending.map((p) => p.xid)}::text[], ${pending.map((p) => p.from)}::bigint[], ${pending.map((p) => p.upTo)}::bigint[])
             as w (xid, from_id, up_to)
        join deliveries d on d.id > w.from_id and d.id <= w.up_to and d.txid = w.xid::bigint
       where d.tenant_id = any(${tenants}::uuid[])
    )
    select h.newest, h.xmax, h.xip, r.*
      from (select coalesce((select max(id) from deliveries), ${afterId}) as newest,
                   pg_snapshot_xmax(s)::text as xmax,
                   array(select pg_snapshot_xip(s)::text) as xip
              from snap) h
      left join lateral (
        select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
               null as attempt_id, null as attempt, null as status_code, null as error, null as outcome, null as duration_ms, null as attempted_at,
               x.late
          from (select * from fresh union all select * from late) x
          join deliveries d on d.id = x.id
          join plugins p on p.id = d.plugin_id
          join events e on e.id = d.event_id
      ) r on true
     order by r.id
  `.execute(db)
  const head = rows[0]!
  const found = rows.filter((r) => r.id !== null)
  const fresh = found.filter((r) => !r.late)
  const cursor = fresh.length === limit ? fresh[fresh.length - 1]!.id : Math.max(afterId, Number(head.newest))
  return {
    changes: found.map((r) => toChange(r, 'created', false)),
    cursor,
    more: fresh.length === limit,
    xmax: BigInt(head.xmax),
    inProgress: head.xip.map((x) => BigInt(x)),
  }
}

/**
 * Outcomes (attempts) of the given tenants recorded after attempt `afterId`,
 * oldest first: what the hub missed while its LISTEN connection was down. With
 * `lookBack`, also those at or below `afterId` (down to LOOKBACK_IDS below it)
 * written by a transaction at or after `lookBack.xmin`: an attempt id is drawn
 * before commit, so one committed late sits below the newest announced.
 */
export async function attemptsSince(
  db: Database,
  afterId: number,
  tenants: string[],
  limit: number,
  lookBack: { xmin: number } | null = null,
): Promise<LiveChange[]> {
  const from = lookBack ? Math.max(afterId - LOOKBACK_IDS, 0) : afterId
  const { rows } = await sql<Row>`
    select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
           a.id as attempt_id, a.attempt, a.status_code, a.error, a.outcome, a.duration_ms, a.created_at as attempted_at
      from delivery_attempts a
      join deliveries d on d.id = a.delivery_id
      join plugins p on p.id = d.plugin_id
      join events e on e.id = d.event_id
     where a.id > ${from} and (a.id > ${afterId} or a.txid >= ${lookBack?.xmin ?? 0}::bigint)
       and d.tenant_id = any(${tenants}::uuid[])
     order by a.id
     limit ${limit}
  `.execute(db)
  return rows.map((r) => toChange(r, outcomeOf(r), true))
}

/** An attempt's outcome as recorded with it; attempts older than db/0020 have none, and it is derived from the delivery. */
const outcomeOf = (r: Row): ChangeKind =>
  r.outcome ?? (r.error === null ? 'sent' : r.attempt !== null && r.attempt >= r.attempts && r.status === 'failed' ? 'failed' : 'retry')

/** The deliveries named by notifications, each with its latest attempt, reported as the change the writer named. */
export async function readChanges(db: Database, changes: { id: number; kind: ChangeKind }[], tenants: string[]): Promise<LiveChange[]> {
  const { rows } = await sql<Row>`
    select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
           a.id as attempt_id, a.attempt, a.status_code, a.error, a.outcome, a.duration_ms, a.created_at as attempted_at
      from deliveries d
      join plugins p on p.id = d.plugin_id
      join events e on e.id = d.event_id
      left join lateral (
        select x.id, x.attempt, x.status_code, x.error, x.outcome, x.duration_ms, x.created_at
          from delivery_attempts x where x.delivery_id = d.id order by x.id desc limit 1
      ) a on true
     where d.id = any(${changes.map((c) => c.id)}::bigint[]) and d.tenant_id = any(${tenants}::uuid[])
  `.execute(db)
  const byId = new Map(rows.map((r) => [r.id, r]))
  return changes.flatMap((c) => {
    const row = byId.get(c.id)
    return row ? [toChange(row, c.kind, c.kind !== 'requeued' && c.kind !== 'cancelled')] : []
  })
}

/**
 * What a client missed since its cursor (SSE `Last-Event-ID`): deliveries
 * created after the delivery cursor and attempts after the attempt cursor, of
 * its tenant and filters, in the order they happened. At most `limit`; one more
 * row than that tells the caller the gap was larger.
 *
 * Ids are drawn before commit, so a row committed late can sit below the cursor.
 * The cursor's `xmin` says what the client has surely seen: every row, up to its
 * ids, written by a transaction below `xmin`. Rows below the ids written at or
 * after it are read again (LOOKBACK_IDS at most, by primary key): the late ones
 * among them, and possibly some the client already has (a client dedupes by
 * delivery, change and attempt). A cursor without `xmin` (0) looks back at nothing.
 */
export async function changesSince(
  db: Database,
  filter: ChangeFilter,
  cursor: { delivery: number; attempt: number; xmin: number },
  limit: number,
): Promise<{ changes: LiveChange[]; truncated: boolean; xmin: number }> {
  const plugins = filter.plugins.length > 0 ? filter.plugins : null
  const events = filter.events.length > 0 ? filter.events : null
  const deliveryFrom = cursor.xmin > 0 ? Math.max(cursor.delivery - LOOKBACK_IDS, 0) : cursor.delivery
  const attemptFrom = cursor.xmin > 0 ? Math.max(cursor.attempt - LOOKBACK_IDS, 0) : cursor.attempt
  // taken before the reads: every row of a transaction below it is visible to both
  const horizon = await sql<{ xmin: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(db)
  const [created, attempted] = await Promise.all([
    sql<Row>`
      select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
             null as attempt_id, null as attempt, null as status_code, null as error, null as outcome, null as duration_ms, null as attempted_at
        from deliveries d
        join plugins p on p.id = d.plugin_id
        join events e on e.id = d.event_id
       where d.tenant_id = ${filter.tenantId}
         and d.id > ${deliveryFrom} and (d.id > ${cursor.delivery} or d.txid >= ${cursor.xmin}::bigint)
         and (${plugins}::text[] is null or p.slug = any(${plugins}::text[]))
         and (${events}::text[] is null or e.type = any(${events}::text[]))
       order by d.id
       limit ${limit + 1}
    `.execute(db),
    sql<Row>`
      select d.id, d.tenant_id, p.slug as plugin, e.type as event, d.status, d.attempts, d.created_at,
             a.id as attempt_id, a.attempt, a.status_code, a.error, a.outcome, a.duration_ms, a.created_at as attempted_at
        from delivery_attempts a
        join deliveries d on d.id = a.delivery_id
        join plugins p on p.id = d.plugin_id
        join events e on e.id = d.event_id
       where a.id > ${attemptFrom} and (a.id > ${cursor.attempt} or a.txid >= ${cursor.xmin}::bigint)
         and d.tenant_id = ${filter.tenantId}
         and (${plugins}::text[] is null or p.slug = any(${plugins}::text[]))
         and (${events}::text[] is null or e.type = any(${events}::text[]))
       order by a.id
       limit ${limit + 1}
    `.execute(db),
  ])
  const truncated = created.rows.length > limit || attempted.rows.length > limit
  const changes = [
    ...created.rows.map((r) => toChange(r, 'created', false)),
    ...attempted.rows.map((r) => toChange(r, outcomeOf(r), true)),
  ].sort((a, b) => a.data.at.localeCompare(b.data.at) || rank(a) - rank(b))
  return { changes: changes.slice(0, limit), truncated, xmin: Number(horizon.rows[0]!.xmin) }
}
