import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { DEFAULT_TENANT } from '../http/tenant.ts'
import { dashboardScript } from './bundle.ts'
import { dashboardPage } from './page.ts'

/** The page runs its own bundled script and stylesheet and talks to this origin only. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12)

/**
 * The monitoring dashboard at `/`, served by the API itself. The page and its
 * assets need no key (they hold no data); the data comes from the API, with the
 * key the user enters. Asset URLs carry their content hash, so browsers may
 * cache them for good.
 */
const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const [script, style, favicon] = await Promise.all([
    dashboardScript(),
    readFile(new URL('./app.css', import.meta.url), 'utf8'),
    readFile(new URL('./favicon.svg', import.meta.url), 'utf8'),
  ])
  const page = dashboardPage({ authRequired: app.ctx.config.AUTH === 'required', defaultTenant: DEFAULT_TENANT, scriptHash: hash(script), styleHash: hash(style) })
  const asset = { config: { public: true }, schema: { hide: true } }
  const forever = 'public, max-age=31536000, immutable'

  app.get('/', { config: { public: true, csp: DASHBOARD_CSP } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page),
  )
  app.get('/dashboard/app.js', asset, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', forever).send(script),
  )
  app.get('/dashboard/app.css', asset, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', forever).send(style),
  )
  app.get('/dashboard/favicon.svg', asset, async (_request, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(favicon),
  )
}

export default dashboardRoutes
