import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TObject } from '@sinclair/typebox'
import { logEmitted } from '../outbox/log-emitted.ts'
import { orderJson } from './order.events.ts'
import { createOrder, findOrder, listOrders, transitionOrder, type TransitionDetails } from './order.repository.ts'
import { CancelBody, CreateOrderBody, EmptyBody, OrderListQuery, OrderParams, OrderResponse, ShipBody } from './order.schemas.ts'
import type { OrderAction } from './order.transitions.ts'

/** The body each transition accepts; pay and deliver take none (or `{}`). */
const TRANSITION_BODIES: Record<OrderAction, TObject> = { pay: EmptyBody, ship: ShipBody, deliver: EmptyBody, cancel: CancelBody }

const orderRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  app.post('/api/orders', { schema: { body: CreateOrderBody, response: { 201: OrderResponse } } }, async (request, reply) => {
    const { value, emitted } = await createOrder(db, request.tenantId, request.body)
    logEmitted(request.log, emitted)
    return reply.status(201).send(orderJson(value.order, value.items))
  })

  app.get(
    '/api/orders',
    {
      schema: {
        querystring: OrderListQuery,
        response: { 200: Type.Object({ orders: Type.Array(OrderResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const { orders, nextCursor } = await listOrders(db, request.tenantId, request.query)
      return { orders: orders.map((o) => orderJson(o.order, o.items)), next_cursor: nextCursor }
    },
  )

  app.get('/api/orders/:id', { schema: { params: OrderParams, response: { 200: OrderResponse } } }, async (request) => {
    const { order, items } = await findOrder(db, request.tenantId, request.params.id)
    return orderJson(order, items)
  })

  for (const [action, body] of Object.entries(TRANSITION_BODIES) as [OrderAction, TObject][]) {
    app.post(
      `/api/orders/:id/${action}`,
      {
        schema: { params: OrderParams, body, response: { 200: OrderResponse } },
        // `curl -X POST …/pay` sends no body at all; validate it as the empty object it means
        preValidation: async (request) => {
          request.body ??= {}
        },
      },
      async (request) => {
        const details = request.body as TransitionDetails
        const { value, emitted } = await transitionOrder(db, request.tenantId, request.params.id, action, details)
        logEmitted(request.log, emitted)
        return orderJson(value.order, value.items)
      },
    )
  }
}

export default orderRoutes
