import type { FastifyRequest } from 'fastify'
import { ForbiddenError } from '../errors.ts'

/**
 * Installing, configuring, approving, uninstalling and reviewing change what a
 * store grants to strangers: a store's admin key only (or, with AUTH=off, the
 * key-less default tenant, as every route allows then).
 */
export function requireStoreAdmin(request: FastifyRequest, authRequired: boolean): void {
  const key = request.apiKey
  if (key ? !key.admin : authRequired || request.installation) {
    throw new ForbiddenError('ADMIN_KEY_REQUIRED', 'Managing apps requires an admin API key of the store')
  }
}
