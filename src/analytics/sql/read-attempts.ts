import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'
import type { Slice } from './next-slice.ts'

export interface AttemptRow {
  id: number
  tenant_id: string
  plugin_id: string
  plugin_kind: 'plugin' | 'alert'
  plugin_slug: string
  plugin_name: string
  event_type: string
  attempt: number
  status_code: number | null
  error: string | null
  /** written with the attempt (db/0020); null for attempts recorded before it */
  outcome: 'sent' | 'retry' | 'failed' | null
  duration_ms: number
  at: Date
  /** when the event was written (its transaction's start, which is ≤ its commit) */
  committed_at: Date | null
  /** the delivery's status now: an attempt is its delivery's last, failed for good, when it says 'failed' */
  delivery_status: string
  delivery_attempts: number
}

/** The attempts of one slice, in the order they were recorded, with what they belong to. */
export async function readAttempts(trx: Database, slice: Slice): Promise<AttemptRow[]> {
  const { rows } = await sql<AttemptRow>`
    select a.id, d.tenant_id, d.plugin_id, p.kind as plugin_kind, p.slug as plugin_slug, p.name as plugin_name,
           coalesce(e.type, 'unknown') as event_type,
           a.attempt, a.status_code, a.error, a.outcome, a.duration_ms, a.created_at as at, e.created_at as committed_at,
           d.status as delivery_status, d.attempts as delivery_attempts
      from delivery_attempts a
      join deliveries d on d.id = a.delivery_id
      join plugins p on p.id = d.plugin_id
      left join events e on e.id = d.event_id
     where a.txid >= ${slice.from}::bigint and a.txid < ${slice.upto}::bigint
     order by a.id
  `.execute(trx)
  return rows
}
