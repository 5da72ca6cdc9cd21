/**
 * Every event type a plugin can subscribe to: the single list that registration
 * validates against and that the API publishes.
 */
export interface EventType {
  name: string
  description: string
  /** false while no write in the store emits it yet */
  available: boolean
}

export const EVENT_TYPES = [
  { name: 'product.created', description: 'A new product was added', available: true },
  { name: 'product.updated', description: 'Product details changed', available: true },
  { name: 'product.deleted', description: 'A product was removed', available: true },
  { name: 'order.created', description: 'A new order was placed', available: false },
  { name: 'order.paid', description: 'Order payment confirmed', available: false },
  { name: 'order.shipped', description: 'Order shipped', available: false },
  { name: 'order.delivered', description: 'Order delivered', available: false },
  { name: 'order.cancelled', description: 'Order cancelled', available: false },
  { name: 'customer.created', description: 'A new customer registered', available: false },
  { name: 'customer.updated', description: 'Customer details changed', available: false },
  { name: 'inventory.low', description: 'Product stock fell to or below its low-stock threshold', available: false },
  { name: 'inventory.out', description: 'Product out of stock', available: false },
  { name: 'inventory.updated', description: 'Stock level changed', available: false },
] as const satisfies readonly EventType[]

export type EventName = (typeof EVENT_TYPES)[number]['name']

/** Sent only by `POST /api/plugins/:slug/test`; never subscribed to. */
export const TEST_EVENT = 'plugin.test'

const names = new Set<string>(EVENT_TYPES.map((e) => e.name))
export const isEventName = (name: string): name is EventName => names.has(name)
