import type pg from 'pg'
import { READY_ON_CONFLICT } from './ready.ts'

/**
 * Hands claimed deliveries back (shutdown, or a send that never started): due now,
 * no lease. Fenced like an outcome, so a delivery already reclaimed is untouched.
 */
const text = `
  with released as (
    update deliveries d
       set lease_id = null, next_attempt_at = now()
      from unnest($1::bigint[], $2::uuid[]) as r (id, lease_id)
     where d.id = r.id and d.lease_id = r.lease_id
    returning d.plugin_id
  ),
  -- due now: their plugins are due now too (the ready set, src/relay/sql/ready.ts)
  ready as (
    insert into plugin_ready (plugin_id, due_at)
    select distinct plugin_id, now() from released order by plugin_id
    ${READY_ON_CONFLICT}
  )
  select count(*)::integer as released from released
`

export async function releaseDeliveries(pool: pg.Pool, claims: { id: number; leaseId: string }[]): Promise<number> {
  if (claims.length === 0) return 0
  const result = await pool.query({
    name: 'relay_release',
    text,
    values: [claims.map((c) => c.id), claims.map((c) => c.leaseId)],
  })
  return (result.rows[0] as { released: number } | undefined)?.released ?? 0
}
