import type pg from 'pg'

/**
 * Hands claimed deliveries back (shutdown, or a send that never started): due now,
 * no lease. Fenced like an outcome, so a delivery already reclaimed is untouched.
 */
const text = `
  update deliveries d
     set lease_id = null, next_attempt_at = now()
    from unnest($1::bigint[], $2::uuid[]) as r (id, lease_id)
   where d.id = r.id and d.lease_id = r.lease_id
`

export async function releaseDeliveries(pool: pg.Pool, claims: { id: number; leaseId: string }[]): Promise<number> {
  if (claims.length === 0) return 0
  const result = await pool.query({
    name: 'relay_release',
    text,
    values: [claims.map((c) => c.id), claims.map((c) => c.leaseId)],
  })
  return result.rowCount ?? 0
}
