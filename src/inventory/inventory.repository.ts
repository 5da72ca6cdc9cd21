import type { Database } from '../db/database.ts'
import { UUID } from '../db/keyset.ts'
import type { Product } from '../db/schema.ts'
import { outboxTransaction } from '../outbox/emit.ts'
import { NotFoundError } from '../errors.ts'
import type { Written } from '../outbox/written.ts'
import { adjustStock, INVENTORY_EVENTS, type StockChange } from './adjust-stock.ts'
import { lockProducts } from './lock-products.ts'

/** PUT /api/products/:id/inventory: sets or adjusts one product's stock. */
export async function changeStock(db: Database, tenantId: string, productId: string, change: StockChange): Promise<Written<Product>> {
  if (!UUID.test(productId)) throw new NotFoundError('Product', productId)
  return outboxTransaction(db, tenantId, INVENTORY_EVENTS, async (trx) => {
    const [product] = await lockProducts(trx, tenantId, [productId])
    if (!product) throw new NotFoundError('Product', productId)
    const { product: value, emitted } = await adjustStock(trx, tenantId, product, change, { reason: 'adjustment' })
    return { value, emitted }
  })
}
