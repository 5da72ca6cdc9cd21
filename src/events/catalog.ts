import type { TSchema } from '@sinclair/typebox'
import {
  CustomerCreatedData,
  CustomerUpdatedData,
  InventoryLowData,
  InventoryOutData,
  InventoryUpdatedData,
  OrderCancelledData,
  OrderCreatedData,
  OrderDeliveredData,
  OrderPaidData,
  OrderShippedData,
} from './schemas/commerce.ts'
import { AppConfigUpdatedData, AppInstalledData, AppPermissionsUpdatedData, AppUninstalledData } from './schemas/app.ts'
import { PluginTestData } from './schemas/plugin.ts'
import { ProductCreatedData, ProductDeletedData, ProductUpdatedData } from './schemas/product.ts'

/**
 * Every event type a plugin can subscribe to: the single list that registration
 * validates against, that `GET /api/event-types` publishes (with the JSON Schema
 * of each `data`), that the tests check real payloads against, and that the
 * receiver SDK's types are generated from (`npm run generate:receiver-types`).
 */
export interface EventType {
  name: string
  description: string
  /** false while no write in the store emits it yet */
  available: boolean
  /** TypeBox schema of the event's `data` (src/events/schemas/); absent while not yet specified */
  data?: TSchema
}

export const EVENT_TYPES = [
  { name: 'product.created', description: 'A new product was added', available: true, data: ProductCreatedData },
  { name: 'product.updated', description: 'Product details changed', available: true, data: ProductUpdatedData },
  { name: 'product.deleted', description: 'A product was removed', available: true, data: ProductDeletedData },
  { name: 'order.created', description: 'A new order was placed', available: true, data: OrderCreatedData },
  { name: 'order.paid', description: 'Order payment confirmed', available: true, data: OrderPaidData },
  { name: 'order.shipped', description: 'Order shipped', available: true, data: OrderShippedData },
  { name: 'order.delivered', description: 'Order delivered', available: true, data: OrderDeliveredData },
  { name: 'order.cancelled', description: 'Order cancelled', available: true, data: OrderCancelledData },
  { name: 'customer.created', description: 'A new customer registered', available: true, data: CustomerCreatedData },
  { name: 'customer.updated', description: 'Customer details changed', available: true, data: CustomerUpdatedData },
  { name: 'inventory.low', description: 'Product stock fell to or below its low-stock threshold', available: true, data: InventoryLowData },
  { name: 'inventory.out', description: 'Product out of stock', available: true, data: InventoryOutData },
  { name: 'inventory.updated', description: 'Stock level changed', available: true, data: InventoryUpdatedData },
] as const satisfies readonly EventType[]

export type EventName = (typeof EVENT_TYPES)[number]['name']

/** Sent only by `POST /api/plugins/:slug/test`; never subscribed to. */
export const TEST_EVENT = 'plugin.test'

/** The connectivity test's entry: not subscribable, but every plugin receives it, so it is published and typed too. */
export const TEST_EVENT_TYPE = {
  name: TEST_EVENT,
  description: 'A connectivity test (POST /api/plugins/:slug/test); sent to any plugin, whatever its events',
  available: true,
  data: PluginTestData,
} as const satisfies EventType

const names = new Set<string>(EVENT_TYPES.map((e) => e.name))
export const isEventName = (name: string): name is EventName => names.has(name)

/**
 * An app installation's lifecycle (src/installations/): delivered to the app
 * concerned only, without any subscription; published and typed, not subscribable.
 */
export const APP_EVENT_TYPES = [
  { name: 'app.installed', description: 'A store installed the app', available: true, data: AppInstalledData },
  { name: 'app.config_updated', description: 'A store changed the app’s config', available: true, data: AppConfigUpdatedData },
  { name: 'app.permissions_updated', description: 'The installation moved to a version with other permissions', available: true, data: AppPermissionsUpdatedData },
  { name: 'app.uninstalled', description: 'A store uninstalled the app', available: true, data: AppUninstalledData },
] as const satisfies readonly EventType[]
export type AppEventName = (typeof APP_EVENT_TYPES)[number]['name']
