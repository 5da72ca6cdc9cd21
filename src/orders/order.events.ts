import type { Customer, Order, OrderItem } from '../db/schema.ts'
import type { OrderData } from '../events/schemas/commerce.ts'

/** An order with its lines, and the customer fields its events carry. */
export interface FullOrder {
  order: Order
  items: OrderItem[]
  customer: Pick<Customer, 'email' | 'name' | 'accepts_marketing'>
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)

function orderFields(order: Order, items: OrderItem[]) {
  return {
    customer_id: order.customer_id,
    status: order.status,
    items: items.map((i) => ({
      product_id: i.product_id,
      name: i.name,
      unit_price: Number(i.unit_price),
      quantity: i.quantity,
      line_total: Number(i.line_total),
    })),
    item_count: items.reduce((n, i) => n + i.quantity, 0),
    // exact: numeric(15, 2) has at most 15 significant digits, which a double holds
    total: Number(order.total),
    tracking_number: order.tracking_number,
    cancel_reason: order.cancel_reason,
    created_at: order.created_at.toISOString(),
    updated_at: order.updated_at.toISOString(),
    paid_at: iso(order.paid_at),
    shipped_at: iso(order.shipped_at),
    delivered_at: iso(order.delivered_at),
    cancelled_at: iso(order.cancelled_at),
  }
}

/** The `data` of every order event; order.cancelled adds `previous_status`. */
export function orderEventData({ order, items, customer }: FullOrder): OrderData {
  const { customer_id, ...rest } = orderFields(order, items)
  return {
    order_id: order.id,
    customer_id,
    customer: { email: customer.email, name: customer.name, accepts_marketing: customer.accepts_marketing },
    ...rest,
  }
}

export function orderJson(order: Order, items: OrderItem[]) {
  return { id: order.id, ...orderFields(order, items) }
}
