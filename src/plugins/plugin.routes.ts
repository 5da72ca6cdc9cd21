import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { leaseMs } from '../config.ts'
import type { Plugin } from '../db/schema.ts'
import { ValidationError } from '../errors.ts'
import { isEventName } from '../events/catalog.ts'
import { deletePlugin, findPlugin, insertPlugin, listPlugins, updatePlugin } from './plugin.repository.ts'
import {
  CreatePluginBody,
  MAX_JSON_OBJECT_BYTES,
  PluginResponse,
  SlugParams,
  TestResult,
  UpdatePluginBody,
} from './plugin.schemas.ts'
import { sendTestWebhook } from './plugin.test-delivery.ts'
import { Type } from '@sinclair/typebox'

function checkEvents(events: string[] | undefined): void {
  const unknown = events?.filter((e) => !isEventName(e)) ?? []
  if (unknown.length > 0) {
    throw new ValidationError('UNKNOWN_EVENT', `Unknown event types: ${unknown.join(', ')} (see GET /api/event-types)`)
  }
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
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  }
}

const pluginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, dispatcher, config } = app.ctx
  const db = database.db

  app.post(
    '/api/plugins',
    { schema: { body: CreatePluginBody, response: { 201: PluginResponse } } },
    async (request, reply) => {
      const body = request.body
      if (RESERVED_SLUGS.has(body.slug)) throw new ValidationError('RESERVED_SLUG', `The slug '${body.slug}' is reserved`)
      checkEvents(body.events)
      checkSize('config', body.config)
      checkSize('metadata', body.metadata)
      const plugin = await insertPlugin(db, request.tenantId, body)
      request.log.info({ plugin: plugin.slug }, `🔌 Plugin registered: ${plugin.slug}`)
      return reply.status(201).send(pluginJson(plugin))
    },
  )

  app.get('/api/plugins', { schema: { response: { 200: Type.Object({ plugins: Type.Array(PluginResponse) }) } } }, async (request) => ({
    plugins: (await listPlugins(db, request.tenantId)).map(pluginJson),
  }))

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
}

export default pluginRoutes
