import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { logEmitted } from '../outbox/log-emitted.ts'
import { customerJson } from './customer.events.ts'
import { createCustomer, deleteCustomer, findCustomer, listCustomers, updateCustomer } from './customer.repository.ts'
import { CreateCustomerBody, CustomerListQuery, CustomerParams, CustomerResponse, UpdateCustomerBody } from './customer.schemas.ts'

const customerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  app.post('/api/customers', { schema: { body: CreateCustomerBody, response: { 201: CustomerResponse } } }, async (request, reply) => {
    const { value, emitted } = await createCustomer(db, request.tenantId, request.body)
    logEmitted(request.log, emitted)
    return reply.status(201).send(customerJson(value))
  })

  app.get(
    '/api/customers',
    {
      schema: {
        querystring: CustomerListQuery,
        response: { 200: Type.Object({ customers: Type.Array(CustomerResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const { customers, nextCursor } = await listCustomers(db, request.tenantId, request.query)
      return { customers: customers.map(customerJson), next_cursor: nextCursor }
    },
  )

  app.get('/api/customers/:id', { schema: { params: CustomerParams, response: { 200: CustomerResponse } } }, async (request) =>
    customerJson(await findCustomer(db, request.tenantId, request.params.id)),
  )

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: '/api/customers/:id',
      schema: { params: CustomerParams, body: UpdateCustomerBody, response: { 200: CustomerResponse } },
      handler: async (request) => {
        const { value, emitted } = await updateCustomer(db, request.tenantId, request.params.id, request.body)
        logEmitted(request.log, emitted)
        return customerJson(value)
      },
    })
  }

  app.delete('/api/customers/:id', { schema: { params: CustomerParams } }, async (request, reply) => {
    await deleteCustomer(db, request.tenantId, request.params.id)
    return reply.status(204).send()
  })
}

export default customerRoutes
