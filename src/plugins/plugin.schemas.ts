import { Type, type Static } from '@sinclair/typebox'

export const SLUG_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$'
/** config and metadata are free-form, but bounded: they are stored and returned on every read. */
export const MAX_JSON_OBJECT_BYTES = 16 * 1024

export const PluginStatusInput = Type.Union([Type.Literal('active'), Type.Literal('paused')])

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  webhook_url: Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2048 }),
  events: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 100, uniqueItems: true }),
  config: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  status: PluginStatusInput,
}

export const CreatePluginBody = Type.Object(
  {
    name: fields.name,
    slug: Type.String({ minLength: 1, maxLength: 64, pattern: SLUG_PATTERN }),
    webhook_url: fields.webhook_url,
    events: fields.events,
    config: Type.Optional(fields.config),
    metadata: Type.Optional(fields.metadata),
    status: Type.Optional(fields.status),
  },
  { additionalProperties: false },
)
export type CreatePluginBody = Static<typeof CreatePluginBody>

export const UpdatePluginBody = Type.Partial(
  Type.Object({
    name: fields.name,
    webhook_url: fields.webhook_url,
    events: fields.events,
    config: fields.config,
    metadata: fields.metadata,
    status: fields.status,
  }),
  { additionalProperties: false, minProperties: 1 },
)
export type UpdatePluginBody = Static<typeof UpdatePluginBody>

export const SlugParams = Type.Object({ slug: Type.String({ maxLength: 200 }) })

export const PluginResponse = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  webhook_url: Type.String(),
  events: Type.Array(Type.String()),
  status: Type.String(),
  config: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

export const TestResult = Type.Object({
  success: Type.Boolean(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
})
