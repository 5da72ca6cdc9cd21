import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { logEmitted } from '../outbox/log-emitted.ts'
import { productJson } from './product.events.ts'
import { createProduct, deleteProduct, findProduct, listProducts, updateProduct } from './product.repository.ts'
import { CreateProductBody, ProductListQuery, ProductParams, ProductResponse, UpdateProductBody } from './product.schemas.ts'

const productRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  app.post('/api/products', { schema: { body: CreateProductBody, response: { 201: ProductResponse } } }, async (request, reply) => {
    const { value, emitted } = await createProduct(db, request.tenantId, request.body)
    logEmitted(request.log, emitted)
    return reply.status(201).send(productJson(value))
  })

  app.get(
    '/api/products',
    {
      schema: {
        querystring: ProductListQuery,
        response: { 200: Type.Object({ products: Type.Array(ProductResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const { products, nextCursor } = await listProducts(db, request.tenantId, request.query.limit, request.query.cursor, app.ctx.config.MAX_LIST_RESPONSE_BYTES)
      return { products: products.map(productJson), next_cursor: nextCursor }
    },
  )

  app.get('/api/products/:id', { schema: { params: ProductParams, response: { 200: ProductResponse } } }, async (request) =>
    productJson(await findProduct(db, request.tenantId, request.params.id)),
  )

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: '/api/products/:id',
      schema: { params: ProductParams, body: UpdateProductBody, response: { 200: ProductResponse } },
      handler: async (request) => {
        const { value, emitted } = await updateProduct(db, request.tenantId, request.params.id, request.body)
        logEmitted(request.log, emitted)
        return productJson(value)
      },
    })
  }

  app.delete('/api/products/:id', { schema: { params: ProductParams } }, async (request, reply) => {
    const { emitted } = await deleteProduct(db, request.tenantId, request.params.id)
    logEmitted(request.log, emitted)
    return reply.status(204).send()
  })
}

export default productRoutes
