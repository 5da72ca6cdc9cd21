import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'
import { grants, ROUTE_PERMISSIONS } from '../apps/permissions.ts'
import type { InstallationGrant } from './access-token.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** set when the request presented an installation access token (src/http/tenant.ts) */
    installation: InstallationGrant | null
  }
}

/**
 * The one place an installation token's reach is decided. A route answers a token
 * only if src/apps/permissions.ts declares the permission it needs, and only if
 * the installation holds it (write implies read). Runs in preParsing, after the
 * tenant's own verdict, before any body is read.
 */
export const permissionHook = fp(
  async (app) => {
    app.addHook('preParsing', async (request) => {
      const grant = request.installation
      if (!grant || request.routeOptions.url === undefined) return
      const method = request.method === 'HEAD' ? 'GET' : request.method
      const route = `${method} ${request.routeOptions.url}`
      const needed = ROUTE_PERMISSIONS[route]
      if (!needed) throw new AppError(403, 'NOT_ALLOWED_FOR_APPS', `An installation access token cannot call ${route}`)
      if (!grants(grant.permissions, needed)) {
        throw new AppError(403, 'MISSING_PERMISSION', `This installation has not been granted ${needed}`, { permission: needed })
      }
    })
  },
  { name: 'app-permissions', dependencies: ['tenant'] },
)
