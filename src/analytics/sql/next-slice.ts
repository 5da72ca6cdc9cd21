import { sql } from 'kysely'
import type { Database } from '../../db/database.ts'

export interface Slice {
  /** every attempt with from ≤ txid < upto is aggregated in this run */
  from: number
  upto: number
}

/**
 * Locks the watermark (skip locked: another process holding it is aggregating
 * now, and this one has nothing to do) and picks the next slice of writing
 * transactions: from the watermark up to the oldest transaction still in progress
 * (pg_snapshot_xmin), so every transaction in the slice has committed or rolled
 * back and its rows are visible to the statements that follow. A transaction that
 * drew its attempt ids early and commits late has a txid at or above the horizon:
 * it waits for a later run, it is not skipped. At most about `maxRows` attempts:
 * the slice ends at a transaction boundary (rows of one transaction never split).
 */
/** null: another process holds the watermark. An empty slice (from = upto) when nothing new committed. */
export async function nextSlice(trx: Database, maxRows: number): Promise<Slice | null> {
  const watermark = await sql<{ txid: number }>`
    select txid from analytics_watermark where name = 'attempts' for update skip locked
  `.execute(trx)
  const from = watermark.rows[0]?.txid
  if (from === undefined) return null
  const { rows } = await sql<{ horizon: number; cut: number | null }>`
    select h.horizon,
           (select a.txid from delivery_attempts a
             where a.txid >= ${from}::bigint and a.txid < h.horizon
             order by a.txid
            offset ${maxRows}::integer limit 1) as cut
      from (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as horizon) h
  `.execute(trx)
  const { horizon, cut } = rows[0]!
  // a single transaction larger than maxRows still goes through whole
  const upto = cut === null ? horizon : Math.max(cut, from + 1)
  return { from, upto: Math.max(upto, from) }
}

export async function advanceWatermark(trx: Database, upto: number): Promise<void> {
  await sql`update analytics_watermark set txid = ${upto}::bigint, updated_at = now() where name = 'attempts'`.execute(trx)
}
