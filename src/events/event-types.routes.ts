import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EVENT_TYPES } from './catalog.ts'

const eventTypeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/event-types', async () => ({ event_types: EVENT_TYPES }))
}

export default eventTypeRoutes
