import { Type, type Static } from '@sinclair/typebox'
import { SloInput } from '../analytics/analytics.schemas.ts'

export const SLUG_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$'
/** config and metadata are free-form, but bounded: they are stored and returned on every read. */
export const MAX_JSON_OBJECT_BYTES = 16 * 1024

export const PluginStatusInput = Type.Union([Type.Literal('active'), Type.Literal('paused')])

/** A week: the longest single wait a retry schedule may ask for. */
const MAX_SCHEDULE_SECONDS = 7 * 24 * 3600

/**
 * A plugin's own retry policy (null: the service default). Either a number of
 * retries on the default exponential backoff, or an explicit schedule: the wait
 * before each retry, e.g. Svix's [5, 300, 1800, 7200, 18000, 36000, 36000].
 */
export const RetryPolicyInput = Type.Union([
  Type.Null(),
  Type.Object({ max_retries: Type.Integer({ minimum: 0, maximum: 15 }) }, { additionalProperties: false }),
  Type.Object(
    {
      schedule_seconds: Type.Array(Type.Integer({ minimum: 0, maximum: MAX_SCHEDULE_SECONDS }), { minItems: 1, maxItems: 15 }),
    },
    { additionalProperties: false },
  ),
])

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  webhook_url: Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2048 }),
  events: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 100, uniqueItems: true }),
  config: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  status: PluginStatusInput,
  retry_policy: RetryPolicyInput,
  ordered: Type.Boolean({ description: 'true: one delivery at a time, in commit order; a failing one blocks this plugin only' }),
  slo: Type.Union([SloInput, Type.Null()]),
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
    retry_policy: Type.Optional(fields.retry_policy),
    ordered: Type.Optional(fields.ordered),
    slo: Type.Optional(fields.slo),
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
    retry_policy: fields.retry_policy,
    ordered: fields.ordered,
    slo: fields.slo,
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
  retry_policy: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  ordered: Type.Boolean(),
  slo: Type.Union([Type.Object({ success_rate: Type.Number(), latency_p95_ms: Type.Optional(Type.Integer()) }), Type.Null()], {
    description: 'The plugin’s service-level objective (GET /api/analytics/plugins/:slug shows its error budget)',
  }),
  app_installation_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
    description: 'Set when the plugin is an installed app’s subscription: the store may pause it, not change or delete it',
  }),
  disabled_reason: Type.Union([Type.String(), Type.Null()], { description: 'why the plugin was disabled (410 Gone, repeated failures)' }),
  disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

export const RecoverBody = Type.Object(
  { since: Type.String({ format: 'date-time', description: 'Re-queue failed deliveries created at or after this time' }) },
  { additionalProperties: false },
)

export const TestResult = Type.Object({
  success: Type.Boolean(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
})

export const PluginListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Plugins per page at most' }),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'The `next_cursor` of the previous page' })),
  },
  { additionalProperties: false },
)
