import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ValidationError } from '../errors.ts'
import { logEmitted } from '../outbox/log-emitted.ts'
import { productJson } from '../products/product.events.ts'
import { ProductParams, ProductResponse } from '../products/product.schemas.ts'
import type { StockChange } from './adjust-stock.ts'
import { changeStock } from './inventory.repository.ts'
import { StockChangeBody } from './inventory.schemas.ts'

function stockChange(body: StockChangeBody): StockChange {
  if (body.quantity !== undefined && body.delta === undefined) return { quantity: body.quantity }
  if (body.delta !== undefined && body.quantity === undefined) return { delta: body.delta }
  throw new ValidationError('INVALID_STOCK_CHANGE', 'body must have exactly one of quantity (set) or delta (adjust)')
}

const inventoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  app.put(
    '/api/products/:id/inventory',
    { schema: { params: ProductParams, body: StockChangeBody, response: { 200: ProductResponse } } },
    async (request) => {
      const { value, emitted } = await changeStock(db, request.tenantId, request.params.id, stockChange(request.body))
      logEmitted(request.log, emitted)
      return productJson(value)
    },
  )
}

export default inventoryRoutes
