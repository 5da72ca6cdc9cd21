import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import { leaseMs } from '../config.ts'
import { NotFoundError } from '../errors.ts'
import { USER_AGENT, webhookHeaders } from '../relay/headers.ts'
import { processDue } from '../relay/process-due.ts'
import { listAttempts, listDeliveries } from './delivery.repository.ts'
import { redeliver } from './delivery.retry.ts'
import { minuteSeries, pluginStats, SERIES_MINUTES } from './delivery.stats.ts'

const DeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('retry'),
  Type.Literal('sent'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
])

const EventsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    plugin: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(DeliveryStatus),
    event: Type.Optional(Type.String({ maxLength: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  },
  { additionalProperties: false },
)

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const DeliveryResponse = Type.Object({
  id: Type.Integer(),
  webhook_id: Type.String(),
  plugin: Type.String(),
  event: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Nullable(Type.String()),
  next_attempt_at: Nullable(Type.String()),
  created_at: Type.String(),
  sent_at: Nullable(Type.String()),
  payload: Type.Unknown({ description: 'The event body as sent; null in a list when left out for its size (see payload_truncated)' }),
  payload_bytes: Type.Integer({ description: 'Size of the payload in bytes' }),
  payload_truncated: Type.Boolean({
    description:
      'true when a list left the payload out: larger than MAX_INLINE_PAYLOAD_BYTES, or past the MAX_LIST_RESPONSE_BYTES of its page. ' +
      '`payload_url` returns it whole',
  }),
  payload_url: Type.String({ description: 'This delivery, payload included: GET /api/plugins/events/{id}' }),
})

const AttemptResponse = Type.Object({
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Type.String()),
  duration_ms: Type.Integer(),
  created_at: Type.String(),
})

const DeliveryParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'The delivery id' }) })

const HeadersSent = Type.Record(Type.String(), Type.String(), {
  description:
    'Headers every attempt of this delivery carried. Each attempt also carried its own `webhook-timestamp` and ' +
    '`webhook-signature`, which are computed at send time and not stored',
})

/** The headers common to every attempt (src/relay/headers.ts makes them); the per-attempt ones are not stored. */
function headersSent(id: number, event: string): Record<string, string> {
  const { 'webhook-timestamp': _perAttempt, ...fixed } = webhookHeaders(id, event)
  return { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...fixed }
}

const OrNull = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

const StatsResponse = Type.Object({
  plugins: Type.Array(
    Type.Object({
      plugin: Type.String({ description: 'The plugin slug' }),
      last_hour: Type.Integer({ description: 'Deliveries created in the last hour' }),
      last_day: Type.Integer({ description: 'Deliveries created in the last 24 hours' }),
      sent: Type.Integer({ description: 'Of the last day: delivered' }),
      failed: Type.Integer({ description: 'Of the last day: failed for good' }),
      success_rate: OrNull(Type.Number({ description: 'sent ÷ (sent + failed); null while nothing settled' })),
      p50_ms: OrNull(Type.Integer({ description: 'Median attempt duration over the last day' })),
      p95_ms: OrNull(Type.Integer({ description: '95th percentile attempt duration over the last day' })),
      last_error: OrNull(Type.String()),
      last_error_at: OrNull(Type.String({ format: 'date-time' })),
    }),
  ),
  per_minute: Type.Array(
    Type.Object({
      minute: Type.String({ format: 'date-time' }),
      sent: Type.Integer(),
      retry: Type.Integer({ description: 'Attempts that failed and will be retried' }),
      failed: Type.Integer({ description: 'Attempts that failed for good' }),
    }),
    { description: `Attempts per minute by outcome, the last ${SERIES_MINUTES} minutes, oldest first` },
  ),
})

const deliveryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, dispatcher, config } = app.ctx
  const db = database.db

  app.get(
    '/api/plugins/events',
    { schema: { querystring: EventsQuery, response: { 200: Type.Object({ events: Type.Array(DeliveryResponse) }) } } },
    async (request) => ({
      events: await listDeliveries(db, request.tenantId, {
        ...request.query,
        payloadBudget: { inline: config.MAX_INLINE_PAYLOAD_BYTES, total: config.MAX_LIST_RESPONSE_BYTES },
      }),
    }),
  )

  app.get(
    '/api/plugins/events/:id',
    {
      schema: {
        params: DeliveryParams,
        response: {
          200: Type.Composite([DeliveryResponse, Type.Object({ headers_sent: HeadersSent, attempt_log: Type.Array(AttemptResponse) })]),
        },
      },
    },
    async (request) => {
      const [delivery] = await listDeliveries(db, request.tenantId, { limit: 1, before: request.params.id + 1 })
      if (!delivery || delivery.id !== request.params.id) throw new NotFoundError('Delivery', String(request.params.id))
      const attempts = await listAttempts(db, delivery.id)
      return {
        ...delivery,
        headers_sent: headersSent(delivery.id, delivery.event),
        attempt_log: attempts.map((a) => ({ ...a, created_at: a.created_at.toISOString() })),
      }
    },
  )

  // The dashboard's numbers: per plugin over the last day, and attempts per minute.
  app.get(
    '/api/plugins/events/stats',
    {
      schema: {
        querystring: Type.Object(
          { plugin: Type.Optional(Type.String({ maxLength: 64, description: 'Only this plugin in `per_minute`' })) },
          { additionalProperties: false },
        ),
        response: { 200: StatsResponse },
      },
    },
    async (request) => {
      const [plugins, perMinute] = await Promise.all([
        pluginStats(db, request.tenantId),
        minuteSeries(db, request.tenantId, request.query.plugin),
      ])
      return { plugins, per_minute: perMinute }
    },
  )

  // Redeliver one delivery now, whatever its status: a further attempt of the same delivery.
  app.post(
    '/api/plugins/events/:id/retry',
    { schema: { params: DeliveryParams, response: { 202: DeliveryResponse } } },
    async (request, reply) => {
      await redeliver(db, request.tenantId, request.params.id)
      const [delivery] = await listDeliveries(db, request.tenantId, { limit: 1, before: request.params.id + 1 })
      if (!delivery) throw new NotFoundError('Delivery', String(request.params.id))
      request.log.info({ delivery: delivery.id, plugin: delivery.plugin }, `🔁 Delivery ${delivery.id} queued for redelivery`)
      return reply.status(202).send(delivery)
    },
  )

  // The spec's "manually process pending webhooks": everything due now, in this request.
  app.post(
    '/api/plugins/events',
    {
      schema: {
        response: {
          200: Type.Object({ processed: Type.Integer(), sent: Type.Integer(), failed: Type.Integer(), retry: Type.Integer() }),
        },
      },
    },
    async (request) =>
      processDue(database.pool, dispatcher, {
        batchSize: config.RELAY_CONCURRENCY,
        leaseMs: leaseMs(config),
        max: 10_000,
        tenantId: request.tenantId,
        maxInFlight: config.PLUGIN_MAX_IN_FLIGHT,
      }),
  )
}

export default deliveryRoutes
