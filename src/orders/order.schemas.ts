import { Type, type Static } from '@sinclair/typebox'
import { OrderItemSchema, OrderStatusSchema } from '../events/schemas/commerce.ts'

export const MAX_ORDER_LINES = 100

export const CreateOrderBody = Type.Object(
  {
    customer_id: Type.String({ format: 'uuid' }),
    items: Type.Array(
      Type.Object(
        {
          product_id: Type.String({ format: 'uuid' }),
          quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_ORDER_LINES },
    ),
  },
  { additionalProperties: false },
)
export type CreateOrderBody = Static<typeof CreateOrderBody>

export const ShipBody = Type.Object(
  { tracking_number: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) },
  { additionalProperties: false },
)
export const CancelBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })) },
  { additionalProperties: false },
)
export const EmptyBody = Type.Object({}, { additionalProperties: false })

export const OrderParams = Type.Object({ id: Type.String({ maxLength: 100 }) })

export const OrderListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(OrderStatusSchema),
    customer_id: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
)
export type OrderListQuery = Static<typeof OrderListQuery>

const NullableDateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()])

export const OrderResponse = Type.Object({
  id: Type.String(),
  customer_id: Type.String(),
  status: Type.String(),
  items: Type.Array(OrderItemSchema),
  item_count: Type.Integer(),
  total: Type.Number(),
  tracking_number: Type.Union([Type.String(), Type.Null()]),
  cancel_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  paid_at: NullableDateTime,
  shipped_at: NullableDateTime,
  delivered_at: NullableDateTime,
  cancelled_at: NullableDateTime,
})
