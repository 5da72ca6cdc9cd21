import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Plugin } from '../db/schema.ts'
import { inTransaction } from '../db/transaction.ts'
import { NotFoundError, ValidationError } from '../errors.ts'
import { assertSafeWebhookUrl } from '../net/guard.ts'
import { deletePlugin, findPlugin, insertPlugin, updatePlugin } from '../plugins/plugin.repository.ts'
import { SLUG_PATTERN } from '../plugins/plugin.schemas.ts'
import { createSecret } from '../secrets/secret.repository.ts'
import { SecretResponse } from '../secrets/secret.schemas.ts'

/** The operational alerts an endpoint can receive (src/events/catalog.ts). */
export const ALERT_EVENTS = ['plugin.failing', 'plugin.recovered', 'plugin.disabled', 'plugin.backlog', 'plugin.slo_burn'] as const

const AlertEvents = Type.Array(Type.Union(ALERT_EVENTS.map((e) => Type.Literal(e))), {
  minItems: 1,
  uniqueItems: true,
  description: 'Which alerts to receive (default: all five)',
})
const Url = Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2048 })

const CreateBody = Type.Object(
  {
    slug: Type.String({ minLength: 1, maxLength: 64, pattern: SLUG_PATTERN }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    url: Url,
    events: Type.Optional(AlertEvents),
  },
  { additionalProperties: false },
)
const UpdateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    url: Type.Optional(Url),
    events: Type.Optional(AlertEvents),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused')])),
  },
  { additionalProperties: false, minProperties: 1 },
)
const Params = Type.Object({ slug: Type.String({ maxLength: 200 }) })

export const AlertEndpointResponse = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  status: Type.String({ description: 'active, paused or disabled (like a plugin: it is one, of kind `alert`)' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

function endpointJson(p: Plugin) {
  return {
    slug: p.slug,
    name: p.name,
    url: p.webhook_url,
    events: p.events,
    status: p.status,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
}

/**
 * Alert endpoints: where a store's operational alerts go. An alert endpoint is a
 * plugin of kind 'alert' subscribed to plugin.* alerts, so alerts are delivered
 * by the one delivery path (outbox, relay, Standard Webhooks signature, retries,
 * its own secret under /api/plugins/:slug/secret, its deliveries in the events
 * log) and nothing here sends anything itself.
 */
const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, config, cipher } = app.ctx
  const db = database.db

  const findEndpoint = async (tenantId: string, slug: string) => {
    const plugin = await findPlugin(db, tenantId, slug).catch(() => null)
    if (!plugin || plugin.kind !== 'alert') throw new NotFoundError('Alert endpoint', slug)
    return plugin
  }

  app.post(
    '/api/alerts/endpoints',
    { schema: { body: CreateBody, response: { 201: Type.Composite([AlertEndpointResponse, SecretResponse]) } } },
    async (request, reply) => {
      const body = request.body
      if (body.slug === 'events') throw new ValidationError('RESERVED_SLUG', `The slug '${body.slug}' is reserved`)
      assertSafeWebhookUrl(body.url, config)
      const { plugin, secret } = await inTransaction(db, async (trx) => {
        const plugin = await insertPlugin(trx, request.tenantId, {
          slug: body.slug,
          name: body.name ?? body.slug,
          webhook_url: body.url,
          events: body.events ?? [...ALERT_EVENTS],
          kind: 'alert',
        })
        return { plugin, secret: await createSecret(trx, cipher, plugin) }
      })
      request.log.info({ plugin: plugin.slug }, `🚨 Alert endpoint registered: ${plugin.slug}`)
      return reply.status(201).header('cache-control', 'no-store').send({ ...endpointJson(plugin), secret })
    },
  )

  app.get(
    '/api/alerts/endpoints',
    { schema: { response: { 200: Type.Object({ endpoints: Type.Array(AlertEndpointResponse) }) } } },
    async (request) => {
      const rows = await db
        .selectFrom('plugins')
        .selectAll()
        .where('tenant_id', '=', request.tenantId)
        .where('kind', '=', 'alert')
        .where('status', '<>', 'deleted')
        .orderBy('created_at')
        .orderBy('id')
        .execute()
      return { endpoints: rows.map(endpointJson) }
    },
  )

  app.get('/api/alerts/endpoints/:slug', { schema: { params: Params, response: { 200: AlertEndpointResponse } } }, async (request) =>
    endpointJson(await findEndpoint(request.tenantId, request.params.slug)),
  )

  app.patch(
    '/api/alerts/endpoints/:slug',
    { schema: { params: Params, body: UpdateBody, response: { 200: AlertEndpointResponse } } },
    async (request) => {
      await findEndpoint(request.tenantId, request.params.slug)
      const { url, ...rest } = request.body
      if (url !== undefined) assertSafeWebhookUrl(url, config)
      const updated = await updatePlugin(db, request.tenantId, request.params.slug, {
        ...rest,
        ...(rest.events && { events: [...rest.events] }),
        ...(url !== undefined && { webhook_url: url }),
      })
      return endpointJson(updated)
    },
  )

  app.delete('/api/alerts/endpoints/:slug', { schema: { params: Params } }, async (request, reply) => {
    await findEndpoint(request.tenantId, request.params.slug)
    await deletePlugin(db, request.tenantId, request.params.slug)
    return reply.status(204).send()
  })
}

export default alertRoutes
