import { Type, type Static } from '@sinclair/typebox'
import { InventoryQuantity } from '../products/product.schemas.ts'

/** Exactly one of the two; checked in the handler for a clearer message than anyOf's. */
export const StockChangeBody = Type.Object(
  {
    quantity: Type.Optional(InventoryQuantity),
    delta: Type.Optional(Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000 })),
  },
  { additionalProperties: false },
)
export type StockChangeBody = Static<typeof StockChangeBody>
