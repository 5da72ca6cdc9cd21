import { Type, type Static, type TProperties, type TSchema } from '@sinclair/typebox'
import { FAILURE_CAUSES } from '../../analytics/failure-cause.ts'

/**
 * The `data` of the operational alerts (src/alerts/): sent to the store's alert
 * endpoints (and to any plugin subscribed to them) once per transition.
 */

const DateTime = (description: string) => Type.String({ format: 'date-time', description })
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description })
const strict = <T extends TProperties>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description })

export const FailureCauseSchema = Type.Union(
  FAILURE_CAUSES.map((c) => Type.Literal(c)),
  { description: 'Why the attempt failed: timeout, connect (refused/reset), dns, tls, blocked (network guard), http_3xx/4xx/5xx, signing, other' },
)

export const LastFailure = strict(
  {
    cause: FailureCauseSchema,
    error: Type.String({ description: 'The error as recorded on the attempt (transport error, or status line and the start of the response)' }),
    status_code: Nullable(Type.Integer(), 'The HTTP status, when there was a response'),
    at: DateTime('When the attempt was recorded'),
  },
  'The latest failed attempt',
)

const about = {
  plugin: Type.String({ description: 'The slug of the plugin the alert is about' }),
  name: Type.String({ description: 'Its name' }),
  at: DateTime('When the transition was noticed'),
}

export const PluginFailingData = strict(
  {
    ...about,
    consecutive_failures: Type.Integer({ minimum: 1, description: 'Failed attempts in a row so far' }),
    failing_since: DateTime('When the run of failures began (its first failed attempt)'),
    last_failure: LastFailure,
  },
  'plugin.failing: a run of failed attempts reached the alert threshold; sent once per run',
)
export type PluginFailingData = Static<typeof PluginFailingData>

export const PluginRecoveredData = strict(
  {
    ...about,
    recovered_from: Type.Union([Type.Literal('failing'), Type.Literal('backlog'), Type.Literal('slo_burn')], {
      description: 'Which alert ended: the next one of that kind can fire again',
    }),
    since: DateTime('When that alert began'),
    last_failure: Nullable(LastFailure, 'The latest failed attempt, if any'),
  },
  'plugin.recovered: an alert ended (a delivery succeeded, the backlog drained, the burn rate fell)',
)
export type PluginRecoveredData = Static<typeof PluginRecoveredData>

export const PluginDisabledData = strict(
  {
    ...about,
    reason: Type.String({ description: 'Why the relay disabled it (410 Gone, repeated failures)' }),
    disabled_at: DateTime('When it was disabled'),
    last_failure: Nullable(LastFailure, 'The latest failed attempt, if any'),
  },
  'plugin.disabled: the plugin was disabled automatically; its deliveries wait for POST /api/plugins/:slug/enable',
)
export type PluginDisabledData = Static<typeof PluginDisabledData>

export const PluginBacklogData = strict(
  {
    ...about,
    due: Type.Integer({ minimum: 0, description: 'Deliveries due now (counted up to 10,000)' }),
    oldest_due_age_ms: Type.Integer({ minimum: 0, description: 'How long the oldest due delivery has been waiting' }),
    threshold_ms: Type.Integer({ minimum: 0, description: 'The age that raises this alert (ALERT_BACKLOG_AFTER_MS)' }),
  },
  'plugin.backlog: the oldest due delivery has waited longer than the threshold',
)
export type PluginBacklogData = Static<typeof PluginBacklogData>

export const PluginSloBurnData = strict(
  {
    ...about,
    objective: strict(
      {
        success_rate: Type.Number({ description: 'The objective: the share of attempts that must succeed, e.g. 0.99' }),
        latency_p95_ms: Nullable(Type.Integer(), 'The objective on the 95th percentile attempt duration'),
      },
      'The plugin’s SLO',
    ),
    severity: Type.Union([Type.Literal('page'), Type.Literal('ticket')], {
      description: 'page: 1 h and 5 min both burn above 14.4× the budget rate; ticket: 6 h and 30 min above 6×',
    }),
    burn_rates: strict(
      { '5m': Type.Number(), '30m': Type.Number(), '1h': Type.Number(), '6h': Type.Number() },
      'Error rate over each window ÷ the error budget rate (1 − success_rate)',
    ),
    budget_remaining: Type.Number({ description: 'Share of the 30-day error budget left (may be negative)' }),
    last_failure: Nullable(LastFailure, 'The latest failed attempt, if any'),
  },
  'plugin.slo_burn: the error budget burns fast enough to be spent long before 30 days',
)
export type PluginSloBurnData = Static<typeof PluginSloBurnData>
