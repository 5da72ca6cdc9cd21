import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { APP_EVENT_TYPES, EVENT_TYPES, TEST_EVENT_TYPE, type EventType } from './catalog.ts'
import { EventEnvelope } from './schemas/envelope.ts'

const EventTypeResponse = Type.Object({
  name: Type.String(),
  description: Type.String(),
  available: Type.Boolean({ description: 'false while no write in the store emits it yet' }),
  subscribable: Type.Boolean({ description: 'whether a plugin may list it in its `events`' }),
  schema: Type.Unknown({ description: "JSON Schema of the event's `data`, or null while not yet specified" }),
})

const published = (e: EventType, subscribable: boolean) => ({
  name: e.name,
  description: e.description,
  available: e.available,
  subscribable,
  // TypeBox schemas are JSON Schema; their symbol-keyed metadata does not serialise
  schema: e.data ?? null,
})

/** The event catalog, for plugin authors and their tools: every type, its `data` schema, and the envelope around it. */
const eventTypeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const body = {
    envelope: EventEnvelope,
    event_types: [
      ...EVENT_TYPES.map((e) => published(e, true)),
      published(TEST_EVENT_TYPE, false),
      ...APP_EVENT_TYPES.map((e) => published(e, false)),
    ],
  }
  app.get(
    '/api/event-types',
    { schema: { response: { 200: Type.Object({ envelope: Type.Unknown(), event_types: Type.Array(EventTypeResponse) }) } } },
    async () => body,
  )
}

export default eventTypeRoutes
