import type pg from 'pg'
import { CLAIM_PLANNER_SETTINGS, claimSql, claimValues, visitReady, type Claimed } from '../src/relay/sql/claim.ts'

/**
 * The claim exactly as claimDeliveries runs it (the same named statements, planned
 * under the same settings, in its own transaction), rolled back instead of
 * committed: every sample claims from the same rows.
 */
export async function claimRolledBack(pool: pg.Pool, limit: number, leaseId: string, leaseMs: number, tenantId: string | null, maxInFlight: number): Promise<Claimed[]> {
  const client = await pool.connect()
  try {
    await client.query(`begin; ${CLAIM_PLANNER_SETTINGS.map((s) => `set local ${s}`).join('; ')}`)
    const visit = await visitReady(client, limit, tenantId)
    if (visit.visit.length === 0) return []
    const { rows } = await client.query<Claimed>({ name: 'relay_claim', text: claimSql, values: claimValues(limit, leaseId, leaseMs, maxInFlight, visit) })
    return rows
  } finally {
    await client.query('rollback').catch(() => {})
    client.release()
  }
}
