/** The API, called with the key the user saved (kept in this browser's localStorage). */
const KEY_STORAGE = 'bcs.apiKey'

export const apiKey = {
  get: (): string => localStorage.getItem(KEY_STORAGE) ?? '',
  set(key: string): void {
    if (key) localStorage.setItem(KEY_STORAGE, key)
    else localStorage.removeItem(KEY_STORAGE)
  },
}

/** One field the API refused (`details` of a 400): `name`, `events[0]`, `config.api_key`. */
export interface FieldDetail {
  field: string
  problem: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldDetail[] = [],
  ) {
    super(message)
  }
}

export function authHeaders(): Record<string, string> {
  const key = apiKey.get()
  return key ? { authorization: `Bearer ${key}` } : {}
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  const json = text ? (JSON.parse(text) as unknown) : undefined
  if (!response.ok) {
    const error = (json ?? {}) as { code?: string; message?: string; details?: unknown }
    const details = Array.isArray(error.details) ? (error.details as FieldDetail[]).filter((d) => typeof d?.field === 'string') : []
    throw new ApiError(response.status, error.code ?? 'ERROR', error.message ?? response.statusText, details)
  }
  return json as T
}

/** Pages read at most for the plugin table: 500 a page, beyond any tenant's MAX_PLUGINS_PER_TENANT default. */
const MAX_PLUGIN_PAGES = 20

/** Every plugin of the tenant, following `next_cursor` (GET /api/plugins is paged). */
export async function allPlugins(): Promise<Plugin[]> {
  const plugins: Plugin[] = []
  let cursor: string | null = null
  for (let page = 0; page < MAX_PLUGIN_PAGES; page++) {
    const query: string = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) }).toString()
    const body: { plugins: Plugin[]; next_cursor: string | null } = await api('GET', `/api/plugins?${query}`)
    plugins.push(...body.plugins)
    cursor = body.next_cursor
    if (!cursor) break
  }
  return plugins
}

export interface Plugin {
  slug: string
  name: string
  status: string
  events: string[]
  webhook_url: string
  /** set when the plugin is an installed app's subscription: managed on the app's page, not edited */
  app_installation_id: string | null
}

// The server's own response types: erased when bundled, so the two cannot drift.
export type { MinuteCount, PluginStats } from '../../deliveries/delivery.stats.ts'

export interface Delivery {
  id: number
  webhook_id: string
  plugin: string
  event: string
  status: string
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: string | null
  created_at: string
  sent_at: string | null
  payload: unknown
}

export interface DeliveryDetail extends Delivery {
  headers_sent: Record<string, string>
  attempt_log: { attempt: number; status_code: number | null; error: string | null; duration_ms: number; created_at: string }[]
}

/** A change from the live stream (src/live/change-queries.ts). */
export interface DeliveryChange {
  change: string
  delivery_id: number
  webhook_id: string
  plugin: string
  event: string
  status: string
  attempts: number
  attempt: { number: number; status_code: number | null; error: string | null; duration_ms: number } | null
  created_at: string
  at: string
}
