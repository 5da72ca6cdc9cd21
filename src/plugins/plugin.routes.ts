import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { leaseMs } from '../config.ts'
import type { Plugin } from '../db/schema.ts'
import { assertPluginBudget } from '../budgets/tenant-budgets.ts'
import { AppError, ValidationError } from '../errors.ts'
import { EVENT_TYPES, isEventName, TEST_EVENT } from '../events/catalog.ts'
import { assertSafeWebhookUrl } from '../net/guard.ts'
import { inTransaction } from '../db/transaction.ts'
import { createSecret } from '../secrets/secret.repository.ts'
import { SecretResponse } from '../secrets/secret.schemas.ts'
import {
  deletePlugin,
  enablePlugin,
  findPlugin,
  insertPlugin,
  listPluginsPage,
  recoverDeliveries,
  updatePlugin,
} from './plugin.repository.ts'
import {
  CreatePluginBody,
  RecoverBody,
  MAX_JSON_OBJECT_BYTES,
  PluginListQuery,
  PluginResponse,
  SlugParams,
  TestResult,
  UpdatePluginBody,
} from './plugin.schemas.ts'
import { sendTestWebhook } from './plugin.test-delivery.ts'
import { Type } from '@sinclair/typebox'

/** Events a plugin may list; `plugin.test` is in the catalog but only sent by the test route, so it is named apart. */
function checkEvents(events: string[] | undefined): void {
  const unknown = events?.filter((e) => !isEventName(e)) ?? []
  if (unknown.length === 0) return
  const allowed = EVENT_TYPES.map((e) => e.name)
  const details = unknown.map((e) => ({
    field: `events[${events!.indexOf(e)}]`,
    in: 'body',
    problem: e === TEST_EVENT ? `${e} is not subscribable: it is sent only by POST /api/plugins/{slug}/test` : `${e} is not an event type`,
    allowed,
  }))
  const message =
    unknown.length === 1 && unknown[0] === TEST_EVENT
      ? `${TEST_EVENT} is not subscribable: it is sent only by POST /api/plugins/{slug}/test (see GET /api/event-types)`
      : `Unknown event types: ${unknown.join(', ')} (see GET /api/event-types)${unknown.includes(TEST_EVENT) ? `; ${TEST_EVENT} is not subscribable` : ''}`
  throw new AppError(400, 'UNKNOWN_EVENT', message, { details })
}

/** Slugs that are paths of their own under /api/plugins/. */
const RESERVED_SLUGS = new Set(['events'])

function checkSize(field: string, value: object | undefined): void {
  if (value !== undefined && Buffer.byteLength(JSON.stringify(value)) > MAX_JSON_OBJECT_BYTES) {
    throw new ValidationError('TOO_LARGE', `${field} must be at most ${MAX_JSON_OBJECT_BYTES / 1024} KiB of JSON`)
  }
}

export function pluginJson(p: Plugin) {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    webhook_url: p.webhook_url,
    events: p.events,
    status: p.status,
    config: p.config,
    metadata: p.metadata,
    retry_policy: p.retry_policy as Record<string, unknown> | null,
    ordered: p.ordered,
    slo: p.slo as { success_rate: number; latency_p95_ms?: number } | null,
    app_installation_id: p.app_installation_id,
    disabled_reason: p.disabled_reason,
    disabled_at: p.disabled_at?.toISOString() ?? null,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
}

const pluginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, dispatcher, config, cipher } = app.ctx
  const db = database.db

  app.post(
    '/api/plugins',
    // the only response, with GET/rotate of /api/plugins/:slug/secret, that carries the secret
    { schema: { body: CreatePluginBody, response: { 201: Type.Composite([PluginResponse, SecretResponse]) } } },
    async (request, reply) => {
      const body = request.body
      if (RESERVED_SLUGS.has(body.slug)) throw new ValidationError('RESERVED_SLUG', `The slug '${body.slug}' is reserved`)
      checkEvents(body.events)
      assertSafeWebhookUrl(body.webhook_url, config)
      checkSize('config', body.config)
      checkSize('metadata', body.metadata)
      const { plugin, secret } = await inTransaction(db, async (trx) => {
        await assertPluginBudget(trx, request.tenantId, config.MAX_PLUGINS_PER_TENANT)
        const plugin = await insertPlugin(trx, request.tenantId, body)
        return { plugin, secret: await createSecret(trx, cipher, plugin) }
      })
      request.log.info({ plugin: plugin.slug }, `🔌 Plugin registered: ${plugin.slug}`)
      return reply.status(201).header('cache-control', 'no-store').send({ ...pluginJson(plugin), secret })
    },
  )

  // Paged, oldest first: `limit` plugins or MAX_LIST_RESPONSE_BYTES of config and metadata, whichever comes first.
  app.get(
    '/api/plugins',
    {
      schema: {
        querystring: PluginListQuery,
        response: {
          200: Type.Object({
            plugins: Type.Array(PluginResponse),
            next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last' }),
          }),
        },
      },
    },
    async (request) => {
      const { plugins, nextCursor } = await listPluginsPage(db, request.tenantId, {
        limit: request.query.limit,
        cursor: request.query.cursor,
        maxBytes: config.MAX_LIST_RESPONSE_BYTES,
      })
      return { plugins: plugins.map(pluginJson), next_cursor: nextCursor }
    },
  )

  app.get('/api/plugins/:slug', { schema: { params: SlugParams, response: { 200: PluginResponse } } }, async (request) =>
    pluginJson(await findPlugin(db, request.tenantId, request.params.slug)),
  )

  // The spec's example updates with PUT and a partial body; PATCH does the same.
  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: '/api/plugins/:slug',
      schema: { params: SlugParams, body: UpdatePluginBody, response: { 200: PluginResponse } },
      handler: async (request) => {
        checkEvents(request.body.events)
        assertSafeWebhookUrl(request.body.webhook_url, config)
        checkSize('config', request.body.config)
        checkSize('metadata', request.body.metadata)
        return pluginJson(await updatePlugin(db, request.tenantId, request.params.slug, request.body))
      },
    })
  }

  app.delete('/api/plugins/:slug', { schema: { params: SlugParams } }, async (request, reply) => {
    await deletePlugin(db, request.tenantId, request.params.slug)
    return reply.status(204).send()
  })

  app.post('/api/plugins/:slug/test', { schema: { params: SlugParams, response: { 200: TestResult } } }, async (request) =>
    sendTestWebhook(db, dispatcher, request.tenantId, request.params.slug, leaseMs(config)),
  )

  // A disabled (or paused) plugin becomes active; the deliveries it kept go out.
  app.post('/api/plugins/:slug/enable', { schema: { params: SlugParams, response: { 200: PluginResponse } } }, async (request) =>
    pluginJson(await enablePlugin(db, request.tenantId, request.params.slug)),
  )

  // Re-queues the plugin's failed deliveries since a time, e.g. after fixing its endpoint.
  app.post(
    '/api/plugins/:slug/recover',
    {
      schema: {
        params: SlugParams,
        body: RecoverBody,
        response: { 200: Type.Object({ requeued: Type.Integer({ description: 'failed deliveries made due again' }) }) },
      },
    },
    async (request) => ({ requeued: await recoverDeliveries(db, request.tenantId, request.params.slug, request.body.since) }),
  )
}

export default pluginRoutes
