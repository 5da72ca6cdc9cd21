import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { DeliveryStatus } from '../db/schema.ts'
import { webhookId } from '../relay/headers.ts'

export interface DeliveryFilter {
  limit: number
  plugin?: string
  status?: DeliveryStatus
  event?: string
  /** cursor: only deliveries with a smaller id (older) */
  before?: number
  /**
   * For lists: a payload larger than `inline` bytes is left out, and so is every
   * payload once those included add up to `total` bytes. Without it, whole payloads.
   */
  payloadBudget?: { inline: number; total: number }
}

const iso = (value: Date | number | null): string | null =>
  value instanceof Date && Number.isFinite(value.getTime()) ? value.toISOString() : null

/**
 * The events log: deliveries newest first, with their plugin, event and payload.
 * Under a payload budget the database leaves the bodies out (their size is read
 * from the stored length, without reading them), so a page of large events never
 * passes through memory: the running sum follows the page's own order.
 */
export async function listDeliveries(db: Database, tenantId: string, filter: DeliveryFilter) {
  const budget = filter.payloadBudget
  const size = sql<number>`octet_length(e.body)`
  const inline = budget ? sql<number>`case when ${size} <= ${budget.inline} then ${size} else 0 end` : null
  const body = budget
    ? sql<string | null>`case when ${size} <= ${budget.inline}
                              and sum(${inline}) over (order by d.id desc rows unbounded preceding) <= ${budget.total}
                             then e.body end`
    : sql<string | null>`e.body`
  let query = db
    .selectFrom('deliveries as d')
    .innerJoin('plugins as p', 'p.id', 'd.plugin_id')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'p.slug as plugin',
      'p.status as plugin_status',
      'e.type as event',
      'd.status',
      'd.attempts',
      'd.last_status_code',
      'd.last_error',
      'd.next_attempt_at',
      'd.created_at',
      'd.sent_at',
      body.as('body'),
      size.as('payload_bytes'),
    ])
    .where('d.tenant_id', '=', tenantId)
    .orderBy('d.id', 'desc')
    .limit(filter.limit)
  if (filter.plugin) query = query.where('p.slug', '=', filter.plugin)
  if (filter.status) query = query.where('d.status', '=', filter.status)
  if (filter.event) query = query.where('e.type', '=', filter.event)
  if (filter.before) query = query.where('d.id', '<', filter.before)
  const rows = await query.execute()
  return rows.map((r) => ({
    id: r.id,
    webhook_id: webhookId(r.id),
    plugin: r.plugin,
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    last_status_code: r.last_status_code,
    last_error: r.last_error,
    // null once settled, and while its plugin is paused or disabled (it waits for the plugin, not a time)
    next_attempt_at: (r.status === 'pending' || r.status === 'retry') && r.plugin_status === 'active' ? iso(r.next_attempt_at) : null,
    created_at: iso(r.created_at)!,
    sent_at: iso(r.sent_at),
    payload: r.body === null ? null : (JSON.parse(r.body) as unknown),
    payload_bytes: r.payload_bytes,
    /** true: left out of this list for its size; `payload_url` returns it whole */
    payload_truncated: r.body === null,
    payload_url: `/api/plugins/events/${r.id}`,
  }))
}

/** Every attempt of one delivery, oldest first. */
export function listAttempts(db: Database, deliveryId: number) {
  return db
    .selectFrom('delivery_attempts')
    .select(['attempt', 'status_code', 'error', 'duration_ms', 'created_at'])
    .where('delivery_id', '=', deliveryId)
    .orderBy('id')
    .execute()
}

export async function backlog(db: Database): Promise<{ due: number; oldest_due_at: string | null }> {
  const { rows } = await sql<{ due: number; oldest: Date | null }>`
    select count(*) as due, min(next_attempt_at) as oldest
      from deliveries
     where status in ('pending', 'retry') and next_attempt_at <= now()
  `.execute(db)
  return { due: rows[0]?.due ?? 0, oldest_due_at: iso(rows[0]?.oldest ?? null) }
}
