import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export type PluginStatus = 'active' | 'paused' | 'deleted'
export type DeliveryStatus = 'pending' | 'retry' | 'sent' | 'failed' | 'cancelled'

export interface PluginTable {
  id: Generated<string>
  tenant_id: string
  slug: string
  name: string
  webhook_url: string
  events: string[]
  status: ColumnType<PluginStatus, PluginStatus | undefined, PluginStatus>
  config: ColumnType<Record<string, unknown>, string | undefined, string>
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface ProductTable {
  id: Generated<string>
  tenant_id: string
  name: string
  description: string | null
  // numeric comes back as a string from pg: exact, converted at the edge
  price: ColumnType<string, number | string | undefined, number | string>
  status: ColumnType<string, string | undefined, string>
  images: ColumnType<string[], string[] | undefined, string[]>
  tags: ColumnType<string[], string[] | undefined, string[]>
  collections: ColumnType<string[], string[] | undefined, string[]>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface EventTable {
  id: string
  tenant_id: string
  type: string
  body: string
  created_at: Timestamp
}

export interface DeliveryTable {
  id: Generated<number>
  tenant_id: string
  event_id: string
  plugin_id: string
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: Timestamp
  lease_id: string | null
  last_status_code: number | null
  last_error: string | null
  created_at: Timestamp
  updated_at: Timestamp
  sent_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface DeliveryAttemptTable {
  id: Generated<number>
  delivery_id: number
  attempt: number
  status_code: number | null
  error: string | null
  duration_ms: number
  created_at: Timestamp
}

export interface DB {
  plugins: PluginTable
  products: ProductTable
  events: EventTable
  deliveries: DeliveryTable
  delivery_attempts: DeliveryAttemptTable
}

export type Plugin = Selectable<PluginTable>
export type NewPlugin = Insertable<PluginTable>
export type PluginUpdate = Updateable<PluginTable>
export type Product = Selectable<ProductTable>
