import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import net from 'node:net'
import { ForbiddenError } from '../errors.ts'
import { isPublic } from './tenant.ts'

/** The host name of a Host header or of an origin's authority, lowercased, without port or brackets. */
export function hostName(authority: string): string {
  const text = authority.trim().toLowerCase()
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']') === -1 ? undefined : text.indexOf(']'))
  const colon = text.lastIndexOf(':')
  return colon === -1 || text.indexOf(':') !== colon ? text : text.slice(0, colon)
}

export function isLoopbackHost(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (net.isIPv4(name)) return name.startsWith('127.')
  return name === '::1'
}

/**
 * With AUTH=off, a request without a key acts as the default tenant: so a web
 * page the developer visits could act through their browser. Two browser attacks
 * are refused for such requests (a request with a key is the key's business):
 * - DNS rebinding: a page on evil.example that re-resolves to 127.0.0.1 reaches
 *   the API same-origin, but its requests name evil.example in `Host`. Only
 *   loopback names and TRUSTED_HOSTS are served.
 * - Cross-site requests (a form or a body-less fetch POST from another site): the
 *   browser names the page's origin in `Origin` (and `Sec-Fetch-Site`); it must be
 *   this very host.
 * Public routes (health, the dashboard's page and assets) are not concerned.
 */
export const originCheck = fp(
  async (app) => {
    const { config } = app.ctx
    if (config.AUTH !== 'off') return
    const trusted = new Set(
      (config.TRUSTED_HOSTS ?? '')
        .split(',')
        .map((h) => hostName(h))
        .filter(Boolean),
    )
    const trustedHost = (name: string) => isLoopbackHost(name) || trusted.has(name)

    app.addHook('onRequest', async (request: FastifyRequest) => {
      if (request.headers.authorization !== undefined || isPublic(request)) return
      const host = request.headers.host ?? ''
      if (!trustedHost(hostName(host))) {
        throw new ForbiddenError(
          'UNTRUSTED_HOST',
          `Requests without an API key are served for loopback hosts and TRUSTED_HOSTS only while AUTH=off, not for '${hostName(host).slice(0, 100)}'`,
        )
      }
      const origin = request.headers.origin
      const site = request.headers['sec-fetch-site']
      let sameOrigin = origin === undefined
      if (origin !== undefined) {
        try {
          sameOrigin = new URL(origin).host === host.trim().toLowerCase()
        } catch {
          sameOrigin = false // `null` (sandboxed frames, file:) or garbage
        }
      }
      if (!sameOrigin || site === 'cross-site' || site === 'same-site') {
        throw new ForbiddenError(
          'CROSS_ORIGIN_REQUEST',
          'A request from another site without an API key is refused while AUTH=off: send `Authorization: Bearer <key>`',
        )
      }
    })
  },
  { name: 'origin-check', dependencies: ['tenant'] },
)
