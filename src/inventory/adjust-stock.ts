import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Product } from '../db/schema.ts'
import { ValidationError } from '../errors.ts'
import type { InventoryReason, InventoryUpdatedData } from '../events/schemas/commerce.ts'
import { emit, type Emitted } from '../outbox/emit.ts'
import { InsufficientStockError } from './insufficient-stock.ts'

/** Matches the API's bound on a quantity; far below the integer column's limit. */
export const MAX_STOCK = 1_000_000_000

export type StockChange = { quantity: number } | { delta: number }

export interface StockCause {
  reason: InventoryReason
  orderId?: string | null
}

export type InventoryEventName = 'inventory.updated' | 'inventory.low' | 'inventory.out'

/** Every event a change of stock may emit: what a write that moves stock declares to outboxTransaction. */
export const INVENTORY_EVENTS: readonly InventoryEventName[] = ['inventory.updated', 'inventory.low', 'inventory.out']

/**
 * Which inventory events a change from `old` to `next` units emits. Low is a
 * crossing (above the threshold before, at or below after), so it fires once
 * per fall and again only after the stock has risen above the threshold; a
 * change straight to 0 from above the threshold is both low and out.
 */
export function stockEvents(old: number, next: number, threshold: number): InventoryEventName[] {
  if (old === next) return []
  const events: InventoryEventName[] = ['inventory.updated']
  if (old > threshold && next <= threshold) events.push('inventory.low')
  if (next === 0) events.push('inventory.out')
  return events
}

/**
 * The one place stock changes, for the inventory endpoint and for orders alike,
 * so the inventory events mean the same whatever moved the stock. The caller
 * runs in a transaction and holds the product's row lock (lockProducts); the
 * events go to the outbox in that same transaction.
 */
export async function adjustStock(
  trx: Database,
  tenantId: string,
  product: Product,
  change: StockChange,
  cause: StockCause,
): Promise<{ product: Product; emitted: Emitted[] }> {
  if (!trx.isTransaction) throw new Error('adjustStock runs inside the transaction that locked the product')
  const old = product.inventory_quantity
  const next = 'quantity' in change ? change.quantity : old + change.delta
  if (next < 0) {
    throw new InsufficientStockError([{ product_id: product.id, name: product.name, requested: old - next, available: old }])
  }
  if (next > MAX_STOCK) throw new ValidationError('STOCK_TOO_LARGE', `stock cannot exceed ${MAX_STOCK} units`)
  const types = stockEvents(old, next, product.low_stock_threshold)
  if (types.length === 0) return { product, emitted: [] }

  const updated = await trx
    .updateTable('products')
    .set({ inventory_quantity: next, updated_at: sql`now()` })
    .where('id', '=', product.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  const data: InventoryUpdatedData = {
    product_id: updated.id,
    name: updated.name,
    old_quantity: old,
    new_quantity: next,
    delta: next - old,
    low_stock_threshold: updated.low_stock_threshold,
    reason: cause.reason,
    order_id: cause.orderId ?? null,
  }
  const emitted: Emitted[] = []
  for (const type of types) emitted.push(await emit(trx, tenantId, type, data))
  return { product: updated, emitted }
}
