import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import alertRoutes from './alerts/alert.routes.ts'
import analyticsRoutes from './analytics/analytics.routes.ts'
import customerRoutes from './customers/customer.routes.ts'
import dashboardRoutes from './dashboard/dashboard.routes.ts'
import deliveryRoutes from './deliveries/delivery.routes.ts'
import { openApi } from './docs/openapi.ts'
import { frameworkErrors, registerErrorHandler } from './errors.ts'
import eventTypeRoutes from './events/event-types.routes.ts'
import healthRoutes, { startupGate } from './health.routes.ts'
import inventoryRoutes from './inventory/inventory.routes.ts'
import type { AppContext } from './http/context.ts'
import { rateLimits } from './http/rate-limit.ts'
import { clientErrorHandler, MAX_HEADER_BYTES, requestLimits } from './http/request-limits.ts'
import { originCheck } from './http/origin-check.ts'
import { securityHeaders } from './http/security-headers.ts'
import { tenant } from './http/tenant.ts'
import { idempotency } from './http/idempotency.ts'
import streamRoutes from './live/stream.routes.ts'
import { metrics } from './metrics/metrics.routes.ts'
import { formatSchemaErrors, registerValidation } from './http/validation.ts'
import orderRoutes from './orders/order.routes.ts'
import apiKeyRoutes from './keys/api-key.routes.ts'
import appRoutes from './apps/app.routes.ts'
import installationRoutes from './installations/installation.routes.ts'
import { permissionHook } from './installations/permission-hook.ts'
import marketplaceRoutes from './marketplace/marketplace.routes.ts'
import pluginRoutes from './plugins/plugin.routes.ts'
import productRoutes from './products/product.routes.ts'
import secretRoutes from './secrets/secret.routes.ts'

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
    frameworkErrors,
    // a slug or id longer than this is no slug or id
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('ctx', ctx)
  registerValidation(app)
  registerErrorHandler(app)
  await app.register(securityHeaders)
  await app.register(requestLimits)
  // before the tenant hook: until the database is migrated, nothing may read it
  await app.register(startupGate)
  await app.register(tenant)
  await app.register(originCheck)
  // installation access tokens reach only the routes, and permissions, their store granted
  await app.register(permissionHook)
  await app.register(rateLimits)
  await app.register(idempotency)
  // both watch every route as it is added: before the routes
  await app.register(openApi)
  await app.register(metrics)

  await app.register(dashboardRoutes)
  await app.register(healthRoutes)
  await app.register(eventTypeRoutes)
  await app.register(deliveryRoutes)
  await app.register(streamRoutes)
  await app.register(apiKeyRoutes)
  await app.register(pluginRoutes)
  await app.register(secretRoutes)
  await app.register(productRoutes)
  await app.register(inventoryRoutes)
  await app.register(customerRoutes)
  await app.register(orderRoutes)
  await app.register(appRoutes)
  await app.register(marketplaceRoutes)
  await app.register(installationRoutes)
  await app.register(analyticsRoutes)
  await app.register(alertRoutes)
  return app
}
