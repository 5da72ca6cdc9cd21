import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import type { Plugin, PluginStatus, RetryPolicy } from '../db/schema.ts'
import { UUID } from '../db/keyset.ts'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.ts'
import { cancelUndelivered } from '../deliveries/delivery.cancel.ts'
import { notifyChangesSql } from '../live/changes.ts'
import { readyOnConflict } from '../relay/sql/ready.ts'
import { unparkDeliveries } from '../relay/sql/unpark.ts'

export interface PluginInput {
  slug: string
  name: string
  webhook_url: string
  events: string[]
  config?: Record<string, unknown>
  metadata?: Record<string, unknown>
  status?: 'active' | 'paused'
  retry_policy?: RetryPolicy | null
  ordered?: boolean
  slo?: { success_rate: number; latency_p95_ms?: number } | null
  /** 'alert': an alert endpoint (src/alerts/) */
  kind?: 'plugin' | 'alert'
}

export type PluginPatch = Partial<Omit<PluginInput, 'slug' | 'kind'>>

// a retired plugin (an uninstalled app's) only finishes its last deliveries: it is no longer the store's to see or change
const live = (db: Database, tenantId: string) =>
  db.selectFrom('plugins').selectAll().where('tenant_id', '=', tenantId).where('status', '<>', 'deleted').where('retired_at', 'is', null)

/**
 * An app installation's plugin is the app's subscription: the store may pause and
 * resume it, not reshape or delete it (uninstalling the app does that).
 */
function refuseForApp(plugin: Plugin, what: string): void {
  if (plugin.app_installation_id) {
    throw new ForbiddenError('APP_PLUGIN', `Plugin '${plugin.slug}' belongs to an app installation: ${what} (see /api/installations/${plugin.app_installation_id})`)
  }
}

export async function insertPlugin(db: Database, tenantId: string, input: PluginInput): Promise<Plugin> {
  try {
    return await db
      .insertInto('plugins')
      .values({
        tenant_id: tenantId,
        slug: input.slug,
        name: input.name,
        webhook_url: input.webhook_url,
        events: input.events,
        status: input.status ?? 'active',
        config: JSON.stringify(input.config ?? {}),
        metadata: JSON.stringify(input.metadata ?? {}),
        retry_policy: input.retry_policy ? JSON.stringify(input.retry_policy) : null,
        ordered: input.ordered ?? false,
        slo: input.slo ? JSON.stringify(input.slo) : null,
        kind: input.kind ?? 'plugin',
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new ConflictError('SLUG_TAKEN', `A plugin with slug '${input.slug}' already exists`)
    }
    throw error
  }
}

export interface PluginPage {
  plugins: Plugin[]
  /** where the next page starts; null on the last page */
  nextCursor: string | null
}

/** (created_at to the microsecond, id): a JS Date would cut the microseconds and skip rows on the next page. */
const encodePluginCursor = (at: string, id: string) => Buffer.from(`${at}|${id}`).toString('base64url')

function decodePluginCursor(cursor: string): [at: string, id: string] {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  if (!at || !id || !UUID.test(id) || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(at)) {
    throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned')
  }
  return [at, id]
}

/**
 * A page of the tenant's plugins, oldest first (the order of the unpaged list),
 * of at most `limit` plugins and at most `maxBytes` of config and metadata: a page
 * ends early rather than grow past it (its first plugin always fits: each is
 * bounded on its own). Rows past either bound come back without their config, only
 * to tell that there is a next page.
 */
export async function listPluginsPage(
  db: Database,
  tenantId: string,
  options: { limit: number; cursor?: string; maxBytes: number },
): Promise<PluginPage> {
  const after = options.cursor ? decodePluginCursor(options.cursor) : null
  const { rows } = await sql<Plugin & { cursor_at: string; fits: boolean }>`
    with page as (
      select p.id,
             to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at,
             (row_number() over w = 1
              or sum(octet_length(p.config::text) + octet_length(p.metadata::text)) over w <= ${options.maxBytes}) as fits,
             row_number() over w as n
        from plugins p
       where p.tenant_id = ${tenantId} and p.status <> 'deleted'
         -- a retired plugin (an uninstalled app's) is no longer the store's (see live above)
         and p.retired_at is null
         ${after ? sql`and (p.created_at, p.id) > (${after[0]}::timestamptz, ${after[1]}::uuid)` : sql``}
      window w as (order by p.created_at, p.id rows unbounded preceding)
       order by p.created_at, p.id
       limit ${options.limit + 1}
    )
    select p.*, page.cursor_at, page.fits
      from page
      left join plugins p on p.id = page.id and page.fits and page.n <= ${options.limit}
     order by page.n
  `.execute(db)
  const end = rows.findIndex((r) => r.id === null)
  const page = end === -1 ? rows : rows.slice(0, end)
  const last = page.at(-1)
  return {
    plugins: page.map(({ cursor_at: _at, fits: _fits, ...plugin }) => plugin),
    nextCursor: rows.length > page.length && last ? encodePluginCursor(last.cursor_at, last.id) : null,
  }
}

export async function findPlugin(db: Database, tenantId: string, slug: string): Promise<Plugin> {
  const plugin = await live(db, tenantId).where('slug', '=', slug).executeTakeFirst()
  if (!plugin) throw new NotFoundError('Plugin', slug)
  return plugin
}

/** A plugin whose signing secret the store may read or rotate: not an app's, which signs for every store the app is in. */
export async function findOwnSigningPlugin(db: Database, tenantId: string, slug: string): Promise<Plugin> {
  const plugin = await findPlugin(db, tenantId, slug)
  refuseForApp(plugin, 'its signing secret is the app’s own')
  return plugin
}

/**
 * Applies a partial update. Resuming a paused plugin makes its parked deliveries
 * due again in the same transaction.
 */
export async function updatePlugin(db: Database, tenantId: string, slug: string, patch: PluginPatch): Promise<Plugin> {
  return inTransaction(db, async (trx) => {
    const before = await live(trx, tenantId).where('slug', '=', slug).forUpdate().executeTakeFirst()
    if (!before) throw new NotFoundError('Plugin', slug)
    if (Object.keys(patch).some((field) => field !== 'status')) refuseForApp(before, 'only its status may change')
    const updated = await trx
      .updateTable('plugins')
      .set({
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.webhook_url !== undefined && { webhook_url: patch.webhook_url }),
        ...(patch.events !== undefined && { events: patch.events }),
        ...(patch.status !== undefined && { status: patch.status }),
        ...(patch.config !== undefined && { config: JSON.stringify(patch.config) }),
        ...(patch.metadata !== undefined && { metadata: JSON.stringify(patch.metadata) }),
        ...(patch.retry_policy !== undefined && { retry_policy: patch.retry_policy ? JSON.stringify(patch.retry_policy) : null }),
        ...(patch.ordered !== undefined && { ordered: patch.ordered }),
        ...(patch.slo !== undefined && { slo: patch.slo ? JSON.stringify(patch.slo) : null }),
        // becoming active again (resume or enable) starts a clean failure record
        ...(patch.status === 'active' &&
          before.status !== 'active' && { disabled_reason: null, disabled_at: null, consecutive_failures: 0, failing_since: null }),
        updated_at: sql`now()`,
      })
      .where('id', '=', before.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    if (before.status !== 'active' && updated.status === 'active') await unparkDeliveries(trx, updated.id)
    return updated
  })
}

/**
 * Deletes a plugin: nothing is delivered to it afterwards. The row stays (as
 * 'deleted') so the events log still names it; its undelivered deliveries end as
 * 'cancelled', and clearing their lease fences off any attempt still in flight.
 *
 * Deliveries are locked before the plugin row, the order the relay's outcome
 * statement takes them in (src/relay/sql/record-outcomes.ts: a delivery, then its
 * plugin's failure record): the other order deadlocked with a failed outcome.
 */
export async function deletePlugin(db: Database, tenantId: string, slug: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const plugin = await findPlugin(trx, tenantId, slug)
    refuseForApp(plugin, 'uninstall the app instead')
    await cancelUndelivered(trx, plugin.id)
    const deleted = await trx
      .updateTable('plugins')
      .set({ status: 'deleted' satisfies PluginStatus, updated_at: sql`now()` })
      .where('id', '=', plugin.id)
      .where('status', '<>', 'deleted')
      .returning('id')
      .executeTakeFirst()
    // deleted by a concurrent request meanwhile
    if (!deleted) throw new NotFoundError('Plugin', slug)
  })
}

/** Re-enables a plugin (disabled after 410 Gone or repeated failures, or paused): its kept deliveries go out. */
export function enablePlugin(db: Database, tenantId: string, slug: string): Promise<Plugin> {
  return updatePlugin(db, tenantId, slug, { status: 'active' })
}

/**
 * Re-queues every delivery of the plugin that ended `failed` at or after `since`:
 * each is due now, as a further attempt of the same delivery (same webhook-id).
 */
export async function recoverDeliveries(db: Database, tenantId: string, slug: string, since: string): Promise<number> {
  const plugin = await findPlugin(db, tenantId, slug)
  const { rows } = await sql<{ requeued: number }>`
    with requeued as (
      update deliveries
         set status = 'retry', next_attempt_at = now(), lease_id = null, updated_at = now()
       where plugin_id = ${plugin.id} and status = 'failed' and created_at >= ${since}::timestamptz
      returning id
    ),
    -- due now: so is the plugin (the ready set, src/relay/sql/ready.ts)
    ready as (
      insert into plugin_ready (plugin_id, due_at)
      select ${plugin.id}::uuid, now() where exists (select 1 from requeued)
      ${readyOnConflict}
    ),
    -- the live stream hears of each (src/live/changes.ts)
    notified as (${sql.raw(notifyChangesSql('requeued', 'q'))})
    select count(*)::integer as requeued, pg_notify('bcs_deliveries', ''), (select notifications from notified) as notifications from requeued
  `.execute(db)
  return rows[0]?.requeued ?? 0
}
