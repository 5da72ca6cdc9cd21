import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import { AppError } from '../errors.ts'
import { findDeveloperByKey } from './developer.repository.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** the developer a developer key belongs to, on developer routes (src/apps/app.routes.ts) */
    developer: { id: string; name: string } | null
  }
}

const MAX_AUTHORIZATION_LENGTH = 512

/**
 * Authenticates the developer routes of the plugin it is registered in: a bearer
 * developer key (bin/admin developers create), nothing else. In preParsing, after
 * the rate limiter has counted the request, before any body is read.
 */
export function requireDeveloper(app: FastifyInstance, db: Database): void {
  app.decorateRequest('developer', null)
  app.addHook('preParsing', async (request: FastifyRequest, reply) => {
    const header = request.headers.authorization
    if (header === undefined) {
      reply.header('www-authenticate', 'Bearer')
      throw new AppError(401, 'MISSING_DEVELOPER_KEY', 'A developer key is required: send `Authorization: Bearer <developer key>`')
    }
    const key = header.length <= MAX_AUTHORIZATION_LENGTH ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined
    const developer = key === undefined ? undefined : await findDeveloperByKey(db, key)
    if (!developer) {
      reply.header('www-authenticate', 'Bearer')
      throw new AppError(401, 'INVALID_DEVELOPER_KEY', 'The developer key is invalid or has been revoked')
    }
    request.developer = developer
  })
}

/** HTTP Basic `client_id:client_secret`, as RFC 7617 spells it; null when the header is something else. */
export function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  if (!header || header.length > MAX_AUTHORIZATION_LENGTH) return null
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header)
  if (!match) return null
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? null : { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}
