import { Type, type Static } from '@sinclair/typebox'

const StringList = Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 100 })

const fields = {
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()]),
  price: Type.Number({ minimum: 0, maximum: 999_999_999_999, description: 'At most two decimals (cents): 19.999 is refused with INVALID_PRICE' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('draft'), Type.Literal('archived')]),
  images: StringList,
  tags: StringList,
  collections: StringList,
  // stock itself changes only through PUT /api/products/:id/inventory, which emits the inventory events
  low_stock_threshold: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
}

/** Units in stock: set at creation, then only through the inventory endpoint. */
export const InventoryQuantity = Type.Integer({ minimum: 0, maximum: 1_000_000_000 })

export const CreateProductBody = Type.Object(
  {
    name: fields.name,
    description: Type.Optional(fields.description),
    price: Type.Optional(fields.price),
    status: Type.Optional(fields.status),
    images: Type.Optional(fields.images),
    tags: Type.Optional(fields.tags),
    collections: Type.Optional(fields.collections),
    inventory_quantity: Type.Optional(InventoryQuantity),
    low_stock_threshold: Type.Optional(fields.low_stock_threshold),
  },
  { additionalProperties: false },
)
export type CreateProductBody = Static<typeof CreateProductBody>

export const UpdateProductBody = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 })
export type UpdateProductBody = Static<typeof UpdateProductBody>

export const ProductParams = Type.Object({ id: Type.String({ maxLength: 100 }) })

export const ProductListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
)

export const ProductResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  price: Type.Number(),
  status: Type.String(),
  images: Type.Array(Type.String()),
  tags: Type.Array(Type.String()),
  collections: Type.Array(Type.String()),
  inventory_quantity: Type.Integer(),
  low_stock_threshold: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})
