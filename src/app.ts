import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import deliveryRoutes from './deliveries/delivery.routes.ts'
import { registerErrorHandler } from './errors.ts'
import eventTypeRoutes from './events/event-types.routes.ts'
import healthRoutes from './health.routes.ts'
import type { AppContext } from './http/context.ts'
import { tenant } from './http/tenant.ts'
import { formatSchemaErrors, registerValidation } from './http/validation.ts'
import pluginRoutes from './plugins/plugin.routes.ts'
import productRoutes from './products/product.routes.ts'

export const BODY_LIMIT = 1024 * 1024

/**
 * The HTTP application, in the order fastify/demo loads things: the service's
 * context, then cross-cutting plugins (validation, errors, tenant), then routes.
 * Starting and stopping belong to src/cli/start.ts.
 */
export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    schemaErrorFormatter: formatSchemaErrors,
    // a slug or id longer than this is no slug or id
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('ctx', ctx)
  registerValidation(app)
  registerErrorHandler(app)
  await app.register(tenant)

  await app.register(healthRoutes)
  await app.register(eventTypeRoutes)
  await app.register(deliveryRoutes)
  await app.register(pluginRoutes)
  await app.register(productRoutes)
  return app
}
