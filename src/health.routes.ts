import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { backlog } from './deliveries/delivery.repository.ts'

/**
 * Liveness of the database and the in-process relay; 503 when the database does
 * not answer. It also says whether the API wants a key, so a client (the
 * dashboard, a script) knows before its first call.
 */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, relay, config } = app.ctx
  const auth = config.AUTH
  app.get('/health', async (_request, reply) => {
    const relayState = relay
      ? {
          state: relay.state,
          listener_connected: relay.listenerConnected,
          in_flight: relay.inFlightCount,
          delivered: relay.delivered,
          last_claim_error: relay.lastClaimError,
        }
      : { state: 'off' }
    try {
      const started = performance.now()
      await sql`select 1`.execute(database.db)
      const latency = Math.round(performance.now() - started)
      return { status: 'ok', auth, database: { status: 'ok', latency_ms: latency }, relay: relayState, backlog: await backlog(database.db) }
    } catch {
      return reply.status(503).send({ status: 'degraded', auth, database: { status: 'unavailable' }, relay: relayState })
    }
  })
}

export default healthRoutes
