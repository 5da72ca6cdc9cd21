import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { DatabaseCheck } from './db/readiness.ts'
import { backlog } from './deliveries/delivery.repository.ts'
import { UnavailableError } from './errors.ts'
import { bearer } from './http/tenant.ts'
import { findKey } from './keys/api-key.repository.ts'

export const HEALTH_URLS = new Set(['/health', '/health/ready'])

/**
 * Until the database has answered and been migrated at start, every route but
 * the health probes answers 503: a query before then would hit missing tables.
 * Registered before the tenant hook, which itself reads the database.
 */
export const startupGate = fp(
  async (app) => {
    const { readiness } = app.ctx
    app.addHook('onRequest', async (request) => {
      if (readiness.isStarted || HEALTH_URLS.has(request.routeOptions.url ?? '')) return
      throw new UnavailableError('The service is starting: waiting for the database; try again shortly')
    })
  },
  { name: 'startup-gate' },
)

/**
 * `GET /health` (liveness): the process works; it answers 200 whatever the
 * database does, so an orchestrator does not restart a process that is only
 * waiting out an outage. `GET /health/ready` (readiness): 200 only while the
 * database answers and the migrations are applied, so traffic goes elsewhere
 * meanwhile. Both are public and tell state, never internals: error texts,
 * latency, the relay's counters and the backlog are for operator keys only.
 */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, relay, readiness, config } = app.ctx

  /** an operator key, or AUTH=off (where every key-less request acts with full power, as /metrics does) */
  async function operator(request: FastifyRequest): Promise<boolean> {
    if (config.AUTH !== 'required') return true
    const key = bearer(request.headers.authorization ?? '')
    if (!key) return false
    // the key lives in the database: during an outage nobody is an operator, and the log has the details
    const identity = await findKey(database.db, key).catch(() => undefined)
    return identity?.operator === true
  }

  async function report(check: DatabaseCheck, details: boolean) {
    const body = {
      status: 'ok' as const,
      // whether the API wants a key: public, so a client (the dashboard, a script) knows before its first call
      auth: config.AUTH,
      database: { status: check.state },
      relay: { state: relay ? relay.state : 'off' },
    }
    if (!details) return { check, body }
    const due = check.state === 'up' ? await backlog(database.db).catch(() => undefined) : undefined
    return {
      check,
      body: {
        ...body,
        database: { ...body.database, latency_ms: check.latency_ms, error: check.error },
        relay: relay
          ? {
              ...body.relay,
              listener_connected: relay.listenerConnected,
              in_flight: relay.inFlightCount,
              delivered: relay.delivered,
              last_claim_error: relay.lastClaimError,
            }
          : body.relay,
        backlog: due,
      },
    }
  }

  app.get('/health', async (request) => {
    // an operator asking for details may wait for a fresh probe; a liveness probe never waits
    const details = await operator(request)
    return (await report(details ? await readiness.check() : readiness.current(), details)).body
  })

  app.get('/health/ready', async (request, reply) => {
    const { check, body } = await report(await readiness.check(), await operator(request))
    if (check.state === 'up') return { ...body, status: 'ready' as const }
    return reply.status(503).header('retry-after', '5').send({ ...body, status: 'unavailable' as const })
  })
}

export default healthRoutes
