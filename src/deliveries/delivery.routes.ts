import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { leaseMs } from '../config.ts'
import { NotFoundError } from '../errors.ts'
import { processDue } from '../relay/process-due.ts'
import { listAttempts, listDeliveries } from './delivery.repository.ts'

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
    before: Type.Optional(Type.Integer({ minimum: 1 })),
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
  payload: Type.Unknown(),
})

const AttemptResponse = Type.Object({
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Type.String()),
  duration_ms: Type.Integer(),
  created_at: Type.String(),
})

const deliveryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, dispatcher, config } = app.ctx
  const db = database.db

  app.get(
    '/api/plugins/events',
    { schema: { querystring: EventsQuery, response: { 200: Type.Object({ events: Type.Array(DeliveryResponse) }) } } },
    async (request) => ({ events: await listDeliveries(db, request.tenantId, request.query) }),
  )

  app.get(
    '/api/plugins/events/:id',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: Type.Composite([DeliveryResponse, Type.Object({ attempt_log: Type.Array(AttemptResponse) })]) },
      },
    },
    async (request) => {
      const [delivery] = await listDeliveries(db, request.tenantId, { limit: 1, before: request.params.id + 1 })
      if (!delivery || delivery.id !== request.params.id) throw new NotFoundError('Delivery', String(request.params.id))
      const attempts = await listAttempts(db, delivery.id)
      return { ...delivery, attempt_log: attempts.map((a) => ({ ...a, created_at: a.created_at.toISOString() })) }
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
    async () =>
      processDue(database.pool, dispatcher, {
        batchSize: config.RELAY_CONCURRENCY,
        leaseMs: leaseMs(config),
        max: 10_000,
      }),
  )
}

export default deliveryRoutes
