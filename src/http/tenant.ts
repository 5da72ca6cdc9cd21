import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { UnauthorizedError, type AppError } from '../errors.ts'
import { findKey, type KeyIdentity } from '../keys/api-key.repository.ts'
import { isAccessToken, resolveAccessToken } from '../installations/access-token.ts'

/** The tenant of requests without a key while AUTH=off (the spec's examples). */
export const DEFAULT_TENANT = '11111111-1111-1111-1111-111111111111'

/** Routes anyone may call: a load balancer's probe carries no key. */
export const PUBLIC_URLS = new Set(['/health', '/health/ready'])

/** Longer than any key we issue; refused before hashing it. */
const MAX_AUTHORIZATION_LENGTH = 512

declare module 'fastify' {
  interface FastifyRequest {
    /** the key the request presented, when it presented a valid one */
    apiKey: KeyIdentity | null
    /** why the request is refused, decided in onRequest and raised in preParsing (see below) */
    authFailure: AppError | null
  }
  interface FastifyContextConfig {
    /** `true`: no key needed (health probes, the dashboard's page itself) */
    public?: boolean
    /** not a store's route: a developer key or an app's own credentials, checked by the route (src/apps/) */
    principal?: 'developer' | 'app'
  }
}

const missing = () => new UnauthorizedError('MISSING_API_KEY', 'An API key is required: send `Authorization: Bearer <key>`')
const invalid = () => new UnauthorizedError('INVALID_API_KEY', 'The API key is invalid or has been revoked')

export function bearer(header: string): string | null {
  if (header.length > MAX_AUTHORIZATION_LENGTH) return null
  const match = /^Bearer +(\S+) *$/i.exec(header)
  return match?.[1] ?? null
}

export function isPublic(request: FastifyRequest): boolean {
  return request.routeOptions.config?.public === true || PUBLIC_URLS.has(request.routeOptions.url ?? '')
}

/**
 * The one place a request's tenant is decided. With a valid key: the key's
 * tenant. Without one: the default tenant when AUTH=off, a 401 when
 * AUTH=required. A key that is given but wrong is a 401 either way.
 *
 * The verdict is reached in onRequest but a refusal is raised only in
 * preParsing, after the rate limiter's route-level onRequest hook: so a caller
 * without a valid key is still counted (against its IP), and a flood of bad keys
 * is throttled like any other flood. Nothing of the body is read before it.
 */
export const tenant = fp(
  async (app) => {
    const { db } = app.ctx.database
    const required = app.ctx.config.AUTH === 'required'
    app.decorateRequest('tenantId', '')
    app.decorateRequest('apiKey', null)
    app.decorateRequest('authFailure', null)
    app.decorateRequest('installation', null)

    app.addHook('onRequest', async (request, reply) => {
      request.tenantId = DEFAULT_TENANT
      if (isPublic(request) || request.routeOptions.config?.principal) return
      const header = request.headers.authorization
      if (header === undefined) {
        if (required) request.authFailure = missing()
        return
      }
      const key = bearer(header)
      // an app's installation access token: a store's tenant, within what the store granted (src/installations/)
      if (key !== null && isAccessToken(key)) {
        const grant = await resolveAccessToken(db, key)
        if (grant instanceof Error) request.authFailure = grant
        else {
          request.installation = grant
          request.tenantId = grant.tenantId
          reply.header('vary', 'authorization')
        }
        return
      }
      const identity = key === null ? undefined : await findKey(db, key)
      if (!identity) {
        request.authFailure = invalid()
        return
      }
      request.apiKey = identity
      request.tenantId = identity.tenantId
      // responses differ per key: a shared cache must not serve one tenant's to another
      reply.header('vary', 'authorization')
    })

    app.addHook('preParsing', async (request, reply) => {
      if (request.authFailure) {
        reply.header('www-authenticate', 'Bearer')
        throw request.authFailure
      }
    })
  },
  { name: 'tenant' },
)
