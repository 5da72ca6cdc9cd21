import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { TEST_EVENT } from '../events/catalog.ts'
import type { PluginTestData } from '../events/schemas/plugin.ts'
import { envelope } from '../outbox/emit.ts'
import type { Dispatcher } from '../relay/dispatcher.ts'
import { readyOnConflict } from '../relay/sql/ready.ts'
import { signingCiphertexts } from '../secrets/secret.repository.ts'
import { findPlugin } from './plugin.repository.ts'

export interface TestResult {
  success: boolean
  status_code: number | null
  duration_ms: number
  error: string | null
}

/**
 * Sends a `plugin.test` webhook now, as a real delivery: same body format,
 * headers, signature and timeout as any other, recorded in the events log. The request
 * makes it a delivery already claimed by itself, so no relay touches it; a
 * failure is final (a connectivity test is not retried later).
 */
export async function sendTestWebhook(
  db: Database,
  dispatcher: Dispatcher,
  tenantId: string,
  slug: string,
  leaseMs: number,
): Promise<TestResult> {
  const plugin = await findPlugin(db, tenantId, slug)
  const eventId = randomUUID()
  const leaseId = randomUUID()
  const body = envelope(eventId, TEST_EVENT, tenantId, new Date(), {
    plugin: plugin.slug,
    message: 'Test webhook from BetterCallSold: your endpoint is reachable.',
  } satisfies PluginTestData)
  const { rows } = await sql<{ id: number }>`
    with event as (
      insert into events (id, tenant_id, type, body) values (${eventId}, ${tenantId}, ${TEST_EVENT}, ${body})
    )
    , delivery as (
      insert into deliveries (tenant_id, event_id, plugin_id, lease_id, next_attempt_at)
      values (${tenantId}, ${eventId}, ${plugin.id}, ${leaseId}, now() + ${leaseMs}::integer * interval '1 millisecond')
      returning id, plugin_id, next_attempt_at
    ),
    -- if this process dies before the outcome, a relay takes it when the lease runs out:
    -- its plugin must be in the ready set by then (src/relay/sql/ready.ts)
    ready as (
      insert into plugin_ready (plugin_id, due_at)
      select plugin_id, next_attempt_at from delivery
      ${readyOnConflict}
    )
    select id from delivery
  `.execute(db)
  const id = rows[0]!.id
  const { outcome } = await dispatcher.deliver(
    {
      id,
      attempts: 0,
      plugin_id: plugin.id,
      slug: plugin.slug,
      webhook_url: plugin.webhook_url,
      retry_policy: null,
      type: TEST_EVENT,
      body,
      secrets: await signingCiphertexts(db, plugin.id),
    },
    leaseId,
    { lastAttempt: true },
  )
  return { success: outcome.ok, status_code: outcome.statusCode, duration_ms: outcome.durationMs, error: outcome.error }
}
