import type { Database } from '../db/database.ts'
import type { Product } from '../db/schema.ts'

/**
 * Locks the tenant's products with these ids until the transaction ends and
 * returns them, fresh, in id order. Every writer of stock locks through here:
 * one global order means two orders for the same products wait for each other
 * instead of deadlocking, and the second sees the stock the first left.
 */
export async function lockProducts(trx: Database, tenantId: string, ids: readonly string[]): Promise<Product[]> {
  if (ids.length === 0) return []
  return trx
    .selectFrom('products')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', [...new Set(ids)])
    .orderBy('id')
    .forUpdate()
    .execute()
}
