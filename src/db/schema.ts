import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export type PluginStatus = 'active' | 'paused' | 'disabled' | 'deleted'

/** A plugin's own retry schedule; null = the service default. */
export interface RetryPolicy {
  max_retries?: number
  schedule_seconds?: number[]
}
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
  retry_policy: ColumnType<RetryPolicy | null, string | null | undefined, string | null>
  disabled_reason: string | null
  disabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  consecutive_failures: ColumnType<number, number | undefined, number>
  failing_since: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  ordered: ColumnType<boolean, boolean | undefined, boolean>
  /** the plugin's objective, {success_rate, latency_p95_ms?} (src/analytics/slo.ts); null: none */
  slo: ColumnType<{ success_rate: number; latency_p95_ms?: number | null } | null, string | null | undefined, string | null>
  /** 'alert': an alert endpoint (src/alerts/), about which no alert is raised */
  kind: ColumnType<'plugin' | 'alert', 'plugin' | 'alert' | undefined, 'plugin' | 'alert'>
  /** the app installation this plugin is the subscription of (src/installations/) */
  app_installation_id: ColumnType<string | null, string | null | undefined, string | null>
  /** an uninstalled app's plugin: takes no events, is not listed, delivers what it still has */
  retired_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
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
  inventory_quantity: ColumnType<number, number | undefined, number>
  low_stock_threshold: ColumnType<number, number | undefined, number>
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
  /** recorded with the attempt (db/0020); null for attempts written before it */
  outcome: 'sent' | 'retry' | 'failed' | null
  duration_ms: number
  created_at: Timestamp
}

export interface PluginSecretTable {
  id: Generated<number>
  tenant_id: string
  plugin_id: string
  /** AES-256-GCM, see src/secrets/cipher.ts; never the whsec_ text */
  ciphertext: string
  created_at: Timestamp
  /** null: the current secret; otherwise it signs until then (rotation grace) */
  expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
// numeric comes back as a string from pg: exact; amounts are computed in integer cents (src/orders/money.ts)
type Numeric = ColumnType<string, string, string>

export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'delivered' | 'cancelled'

export interface Address {
  line1: string
  line2?: string
  city?: string
  region?: string
  postal_code?: string
  country?: string
}

export interface CustomerTable {
  id: Generated<string>
  tenant_id: string
  email: string
  name: string | null
  phone: string | null
  addresses: ColumnType<Address[], string | undefined, string>
  accepts_marketing: ColumnType<boolean, boolean | undefined, boolean>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface OrderTable {
  id: Generated<string>
  tenant_id: string
  customer_id: string
  status: ColumnType<OrderStatus, OrderStatus | undefined, OrderStatus>
  total: Numeric
  tracking_number: string | null
  cancel_reason: string | null
  created_at: Timestamp
  updated_at: Timestamp
  paid_at: NullableTimestamp
  shipped_at: NullableTimestamp
  delivered_at: NullableTimestamp
  cancelled_at: NullableTimestamp
}

export interface OrderItemTable {
  order_id: string
  position: number
  tenant_id: string
  product_id: string
  name: string
  unit_price: Numeric
  quantity: number
  line_total: Numeric
}

export interface ApiKeyTable {
  id: Generated<string>
  tenant_id: string
  name: ColumnType<string, string | undefined, string>
  prefix: string
  /** sha256 (hex) of the key; the key itself is never stored */
  key_hash: string
  admin: ColumnType<boolean, boolean | undefined, boolean>
  operator: ColumnType<boolean, boolean | undefined, boolean>
  created_at: Timestamp
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface IdempotencyKeyTable {
  tenant_id: string
  key: string
  request_hash: string
  status_code: number | null
  response_body: string | null
  created_at: Timestamp
}

export interface DeveloperTable {
  id: Generated<string>
  name: string
  prefix: string
  key_hash: string
  created_at: Timestamp
  revoked_at: NullableTimestamp
}

/** { permission, purpose } as an app's manifest declares it */
export interface PermissionRequest {
  permission: string
  purpose: string
}

export interface AppTable {
  id: Generated<string>
  developer_id: string
  slug: string
  name: string
  tagline: string
  description: string
  categories: string[]
  icon_url: string | null
  homepage_url: string | null
  support_url: string | null
  privacy_url: string | null
  listed: boolean
  version: string
  webhook_url: string
  events: string[]
  permissions: ColumnType<PermissionRequest[], string, string>
  config_schema: ColumnType<Record<string, unknown>, string, string>
  client_id: string
  signing_secret: string
  installs: ColumnType<number, number | undefined, number>
  review_count: ColumnType<number, number | undefined, number>
  rating_sum: ColumnType<number, number | undefined, number>
  rating: ColumnType<string, never, never>
  search: ColumnType<string, unknown, unknown>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface AppClientSecretTable {
  id: Generated<number>
  app_id: string
  secret_hash: string
  created_at: Timestamp
  expires_at: NullableTimestamp
}

export interface AppVersionTable {
  app_id: string
  version: string
  webhook_url: string
  events: string[]
  permissions: ColumnType<PermissionRequest[], string, string>
  config_schema: ColumnType<Record<string, unknown>, string, string>
  created_at: Timestamp
}

export interface InstallationTable {
  id: string
  app_id: string
  tenant_id: string
  plugin_id: string
  status: ColumnType<'active' | 'uninstalled', 'active' | 'uninstalled' | undefined, 'active' | 'uninstalled'>
  version: string
  permissions: string[]
  pending_version: string | null
  pending_permissions: string[] | null
  config: ColumnType<Record<string, unknown>, string, string>
  secret_config: string | null
  created_at: Timestamp
  updated_at: Timestamp
  uninstalled_at: NullableTimestamp
}

export interface AppAccessTokenTable {
  token_hash: string
  installation_id: string
  tenant_id: string
  expires_at: Timestamp
  created_at: Timestamp
}

export interface AppReviewTable {
  app_id: string
  tenant_id: string
  rating: number
  body: string
  created_at: Timestamp
  updated_at: Timestamp
}

export interface AppSearchWordTable {
  word: string
}

export interface DB {
  developers: DeveloperTable
  apps: AppTable
  app_client_secrets: AppClientSecretTable
  app_versions: AppVersionTable
  installations: InstallationTable
  app_access_tokens: AppAccessTokenTable
  app_reviews: AppReviewTable
  app_search_words: AppSearchWordTable
  idempotency_keys: IdempotencyKeyTable
  api_keys: ApiKeyTable
  plugins: PluginTable
  products: ProductTable
  events: EventTable
  deliveries: DeliveryTable
  delivery_attempts: DeliveryAttemptTable
  plugin_secrets: PluginSecretTable
  customers: CustomerTable
  orders: OrderTable
  order_items: OrderItemTable
}

export type Plugin = Selectable<PluginTable>
export type NewPlugin = Insertable<PluginTable>
export type PluginUpdate = Updateable<PluginTable>
export type Product = Selectable<ProductTable>
export type ApiKey = Selectable<ApiKeyTable>
export type Customer = Selectable<CustomerTable>
export type Order = Selectable<OrderTable>
export type OrderItem = Selectable<OrderItemTable>
export type Developer = Selectable<DeveloperTable>
export type App = Selectable<AppTable>
export type Installation = Selectable<InstallationTable>
