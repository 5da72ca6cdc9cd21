import fp from 'fastify-plugin'

/** For JSON: nothing may load, run or frame. A route serving HTML sets its own (see below). */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

export const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  // ignored by browsers over plain http, binding once the API is served over https
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** this route's Content-Security-Policy instead of API_CSP (an HTML page needs its scripts) */
    csp?: string
  }
}

/**
 * Security headers on every response, errors and 404s included. A header the
 * route already set wins, so a page can bring its own CSP by setting the header
 * or `config: { csp }`; API responses are never cached by shared caches.
 */
export const securityHeaders = fp(
  async (app) => {
    app.addHook('onSend', async (request, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        if (!reply.hasHeader(name)) reply.header(name, value)
      }
      if (!reply.hasHeader('content-security-policy')) {
        reply.header('content-security-policy', request.routeOptions.config?.csp ?? API_CSP)
      }
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    })
  },
  { name: 'security-headers' },
)
