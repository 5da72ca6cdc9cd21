import { Type, type Static, type TProperties, type TSchema } from '@sinclair/typebox'

/**
 * The `data` of every customer, inventory and order event: the documented
 * shapes plugin authors code against. The builders in src/customers,
 * src/inventory and src/orders return these `Static<>` types, so the payloads
 * cannot drift from their documentation without the type-check noticing; the
 * tests check real payloads against them with `Value.Check`.
 *
 * Amounts are JSON numbers exact to the cent (stored as numeric(15, 2), whose
 * 15 significant digits always survive a round trip through a JSON number).
 */

const Id = (description: string) => Type.String({ format: 'uuid', description })
const DateTime = (description: string) => Type.String({ format: 'date-time', description })
const Nullable = <T extends TSchema>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description })
const Money = (description: string) => Type.Number({ minimum: 0, description: `${description}, exact to the cent` })
const Quantity = (description: string) => Type.Integer({ minimum: 0, description })
const strict = <T extends TProperties>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description })

// ---------------------------------------------------------------- customers

export const AddressSchema = Type.Object(
  {
    line1: Type.String({ minLength: 1, maxLength: 255, description: 'Street and number' }),
    line2: Type.Optional(Type.String({ maxLength: 255, description: 'Apartment, suite, ...' })),
    city: Type.Optional(Type.String({ maxLength: 255 })),
    region: Type.Optional(Type.String({ maxLength: 255, description: 'State, province or county' })),
    postal_code: Type.Optional(Type.String({ maxLength: 32 })),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 code, e.g. "US"' })),
  },
  { additionalProperties: false, description: 'A postal address of the customer' },
)

/** The fields a customer update can change, as named in `changed_fields`. */
export const CUSTOMER_FIELDS = ['email', 'name', 'phone', 'addresses', 'accepts_marketing'] as const

const customer = {
  customer_id: Id('The customer'),
  email: Type.String({ format: 'email', description: 'Unique per store, compared case-insensitively' }),
  name: Nullable(Type.String(), 'Full name, if given'),
  phone: Nullable(Type.String(), 'Phone number as entered, if given'),
  addresses: Type.Array(AddressSchema, { description: 'Postal addresses, first is the default' }),
  accepts_marketing: Type.Boolean({ description: 'Whether the customer agreed to receive marketing e-mail' }),
  created_at: DateTime('When the customer registered'),
  updated_at: DateTime('When the customer last changed'),
}

export const CustomerCreatedData = strict(customer, 'customer.created: a customer registered (POST /api/customers)')
export type CustomerCreatedData = Static<typeof CustomerCreatedData>

export const CustomerUpdatedData = strict(
  {
    ...customer,
    changed_fields: Type.Array(Type.Union(CUSTOMER_FIELDS.map((f) => Type.Literal(f))), {
      minItems: 1,
      uniqueItems: true,
      description: 'The fields whose value changed; an update that changes nothing emits no event',
    }),
  },
  'customer.updated: customer details changed (PUT/PATCH /api/customers/:id); the customer as it is now',
)
export type CustomerUpdatedData = Static<typeof CustomerUpdatedData>

// ---------------------------------------------------------------- inventory

export const InventoryReasonSchema = Type.Union(
  [Type.Literal('adjustment'), Type.Literal('order_created'), Type.Literal('order_cancelled')],
  {
    description:
      'adjustment: PUT /api/products/:id/inventory; order_created: an order took the stock; order_cancelled: a cancelled order put it back',
  },
)
export type InventoryReason = Static<typeof InventoryReasonSchema>

/** One shape for the three inventory events: the stock change that caused them. */
const stockChange = {
  product_id: Id('The product'),
  name: Type.String({ description: 'The product name' }),
  old_quantity: Quantity('Units in stock before the change'),
  new_quantity: Quantity('Units in stock after the change'),
  delta: Type.Integer({ description: 'new_quantity - old_quantity; never 0' }),
  low_stock_threshold: Quantity('The product is low on stock at or below this many units'),
  reason: InventoryReasonSchema,
  order_id: Nullable(Id('The order'), 'The order that caused the change, or null for an adjustment'),
}

export const InventoryUpdatedData = strict(stockChange, 'inventory.updated: the stock of a product changed, for any reason')
export type InventoryUpdatedData = Static<typeof InventoryUpdatedData>

export const InventoryLowData = strict(
  stockChange,
  'inventory.low: the stock fell from above low_stock_threshold to at or below it; once per crossing, not on later changes below it',
)
export type InventoryLowData = Static<typeof InventoryLowData>

export const InventoryOutData = strict(
  { ...stockChange, new_quantity: Type.Literal(0, { description: 'Always 0' }) },
  'inventory.out: the stock reached 0 (a change that also crosses the threshold emits inventory.low first)',
)
export type InventoryOutData = Static<typeof InventoryOutData>

// ---------------------------------------------------------------- orders

export const OrderStatusSchema = Type.Union(
  [Type.Literal('pending'), Type.Literal('paid'), Type.Literal('shipped'), Type.Literal('delivered'), Type.Literal('cancelled')],
  { description: 'pending → paid → shipped → delivered; pending or paid → cancelled' },
)

export const OrderItemSchema = Type.Object(
  {
    product_id: Id('The product sold'),
    name: Type.String({ description: 'The product name when the order was placed' }),
    unit_price: Money('The product price when the order was placed'),
    quantity: Type.Integer({ minimum: 1, description: 'Units ordered' }),
    line_total: Money('unit_price × quantity'),
  },
  { additionalProperties: false },
)

const order = {
  order_id: Id('The order'),
  customer_id: Id('The customer who placed the order'),
  customer: Type.Object(
    {
      email: Type.String({ format: 'email' }),
      name: Nullable(Type.String(), 'Full name, if given'),
      accepts_marketing: Type.Boolean(),
    },
    { additionalProperties: false, description: 'The customer as they are when the event is emitted' },
  ),
  status: OrderStatusSchema,
  items: Type.Array(OrderItemSchema, { minItems: 1, description: 'The lines in the order they were placed' }),
  item_count: Type.Integer({ minimum: 1, description: 'Units in the order, summed over the lines' }),
  total: Money('The sum of the line totals'),
  tracking_number: Nullable(Type.String(), 'Given when the order shipped'),
  cancel_reason: Nullable(Type.String(), 'Given when the order was cancelled'),
  created_at: DateTime('When the order was placed'),
  updated_at: DateTime('When the order last changed'),
  paid_at: Nullable(DateTime('When payment was confirmed'), 'null until paid'),
  shipped_at: Nullable(DateTime('When the order shipped'), 'null until shipped'),
  delivered_at: Nullable(DateTime('When the order was delivered'), 'null until delivered'),
  cancelled_at: Nullable(DateTime('When the order was cancelled'), 'null unless cancelled'),
}

/** The order as it is when an event is emitted; each order event narrows it to its status. */
export const OrderData = strict(order, 'An order with its lines and its customer')
export type OrderData = Static<typeof OrderData>

export const OrderCreatedData = strict(
  { ...order, status: Type.Literal('pending') },
  'order.created: an order was placed (POST /api/orders); its stock is already taken',
)
export type OrderCreatedData = Static<typeof OrderCreatedData>

export const OrderPaidData = strict(
  { ...order, status: Type.Literal('paid'), paid_at: DateTime('When payment was confirmed') },
  'order.paid: payment was confirmed (POST /api/orders/:id/pay)',
)
export type OrderPaidData = Static<typeof OrderPaidData>

export const OrderShippedData = strict(
  {
    ...order,
    status: Type.Literal('shipped'),
    paid_at: DateTime('When payment was confirmed'),
    shipped_at: DateTime('When the order shipped'),
  },
  'order.shipped: the order left the store (POST /api/orders/:id/ship), with its tracking_number when given',
)
export type OrderShippedData = Static<typeof OrderShippedData>

export const OrderDeliveredData = strict(
  {
    ...order,
    status: Type.Literal('delivered'),
    paid_at: DateTime('When payment was confirmed'),
    shipped_at: DateTime('When the order shipped'),
    delivered_at: DateTime('When the order was delivered'),
  },
  'order.delivered: the order reached the customer (POST /api/orders/:id/deliver)',
)
export type OrderDeliveredData = Static<typeof OrderDeliveredData>

export const OrderCancelledData = strict(
  {
    ...order,
    status: Type.Literal('cancelled'),
    cancelled_at: DateTime('When the order was cancelled'),
    previous_status: Type.Union([Type.Literal('pending'), Type.Literal('paid')], {
      description: 'The status it was cancelled from; paid means a refund is due',
    }),
  },
  'order.cancelled: the order was cancelled (POST /api/orders/:id/cancel) and its items went back into stock',
)
export type OrderCancelledData = Static<typeof OrderCancelledData>

/** Every commerce event type and the schema of its `data`, for the catalog and the tests. */
export const COMMERCE_EVENT_SCHEMAS = {
  'order.created': OrderCreatedData,
  'order.paid': OrderPaidData,
  'order.shipped': OrderShippedData,
  'order.delivered': OrderDeliveredData,
  'order.cancelled': OrderCancelledData,
  'customer.created': CustomerCreatedData,
  'customer.updated': CustomerUpdatedData,
  'inventory.low': InventoryLowData,
  'inventory.out': InventoryOutData,
  'inventory.updated': InventoryUpdatedData,
} as const
