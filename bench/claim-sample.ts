import type pg from 'pg'
import { beginClaim, finishClaim, type Claimed } from '../src/relay/sql/claim.ts'

/**
 * The claim exactly as claimDeliveries runs it (the same prepared statements, planned
 * under the same settings, in its own transaction), rolled back instead of
 * committed: every sample claims from the same rows.
 */
export async function claimRolledBack(pool: pg.Pool, limit: number, leaseId: string, leaseMs: number, tenantId: string | null, maxInFlight: number): Promise<Claimed[]> {
  const client = await pool.connect()
  try {
    const visit = await beginClaim(client, limit, tenantId)
    return await finishClaim(client, visit, { limit, leaseId, leaseMs, maxInFlight, end: 'rollback' })
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
