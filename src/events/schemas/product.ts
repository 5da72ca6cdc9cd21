import { Type, type Static, type TProperties } from '@sinclair/typebox'

/**
 * The `data` of the product events, as src/products/product.events.ts builds it.
 * The catalog publishes these; test/event-catalog.test.ts checks what the server
 * really sends against them, so they cannot drift apart unnoticed.
 */

const DateTime = (description: string) => Type.String({ format: 'date-time', description })
const strict = <T extends TProperties>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description })

const product = {
  product_id: Type.String({ format: 'uuid', description: 'The product' }),
  name: Type.String({ description: 'The product name' }),
  description: Type.Union([Type.String(), Type.Null()], { description: 'Free text, or null' }),
  price: Type.Number({ minimum: 0, description: 'The price, exact to the cent' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('draft'), Type.Literal('archived')], {
    description: 'Only active products are for sale',
  }),
  images: Type.Array(Type.String(), { description: 'Image URLs, first is the main image' }),
  tags: Type.Array(Type.String(), { description: 'Free-form tags' }),
  collections: Type.Array(Type.String(), { description: 'Collections the product belongs to' }),
  inventory_quantity: Type.Integer({ minimum: 0, description: 'Units in stock' }),
  low_stock_threshold: Type.Integer({ minimum: 0, description: 'The product is low on stock at or below this many units' }),
  created_at: DateTime('When the product was added'),
  updated_at: DateTime('When the product last changed'),
}

export const ProductCreatedData = strict(product, 'product.created: a product was added (POST /api/products)')
export type ProductCreatedData = Static<typeof ProductCreatedData>

export const ProductUpdatedData = strict(
  {
    ...product,
    changed_fields: Type.Array(Type.String(), { uniqueItems: true, description: 'The fields whose value changed' }),
  },
  'product.updated: product details changed (PUT/PATCH /api/products/:id); the product as it is now',
)
export type ProductUpdatedData = Static<typeof ProductUpdatedData>

export const ProductDeletedData = strict(product, 'product.deleted: a product was removed (DELETE /api/products/:id); the product as it was')
export type ProductDeletedData = Static<typeof ProductDeletedData>
