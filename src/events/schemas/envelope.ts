import { Type, type TSchema } from '@sinclair/typebox'

/**
 * The JSON body of every webhook (src/outbox/emit.ts builds it): the spec's
 * envelope plus the event id. `data` is the event type's own schema.
 */
export const eventEnvelope = <T extends TSchema>(data: T, event: TSchema = Type.String({ description: 'The event type, e.g. "product.created"' })) =>
  Type.Object(
    {
      id: Type.String({ format: 'uuid', description: 'The event; the same for every plugin that receives it' }),
      event,
      tenant_id: Type.String({ format: 'uuid', description: 'The store the event happened in' }),
      timestamp: Type.String({ format: 'date-time', description: 'When the event happened' }),
      data,
    },
    { additionalProperties: false },
  )

/** The envelope with any `data`, as `GET /api/event-types` publishes it. */
export const EventEnvelope = eventEnvelope(Type.Object({}, { description: "The event type's data: see its schema" }))
