import type { Product } from '../db/schema.ts'

/** The `data` of product.created / product.updated / product.deleted, as the spec shows it. */
export function productEventData(p: Product) {
  return {
    product_id: p.id,
    name: p.name,
    description: p.description,
    price: Number(p.price),
    status: p.status,
    images: p.images,
    tags: p.tags,
    collections: p.collections,
    inventory_quantity: p.inventory_quantity,
    low_stock_threshold: p.low_stock_threshold,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
}

export function productJson(p: Product) {
  const { product_id, ...rest } = productEventData(p)
  return { id: product_id, ...rest }
}
