import { Type, type TSchema } from '@sinclair/typebox'
import { FAILURE_CAUSES } from './failure-cause.ts'

const OrNull = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Ms = (description: string) => OrNull(Type.Integer({ minimum: 0, description }))

export const Granularity = Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')])

export const RangeQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Start of the range (default: a day before `to`)' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'End of the range, exclusive (default: now)' })),
    granularity: Type.Optional(
      Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')], {
        description: 'Bucket size. minute: the last 24 hours only, ranges ≤ 1 day; hour: ranges ≤ 92 days; day: any. Default: the finest that keeps the points few',
      }),
    ),
  },
  { additionalProperties: false },
)

export const Failures = Type.Object(
  Object.fromEntries(FAILURE_CAUSES.map((c) => [c, Type.Integer({ minimum: 0 })])) as Record<(typeof FAILURE_CAUSES)[number], ReturnType<typeof Type.Integer>>,
  { description: 'Failed attempts by cause (timeout, connect: refused/reset, dns, tls, blocked: network guard, http_3xx/4xx/5xx, signing, other)' },
)

export const NumbersSchema = Type.Object({
  attempts: Type.Integer({ minimum: 0, description: 'Attempts made (sent + retried + failed)' }),
  sent: Type.Integer({ minimum: 0, description: 'Attempts that delivered (2xx)' }),
  retried: Type.Integer({ minimum: 0, description: 'Attempts that failed with another attempt to follow' }),
  failed: Type.Integer({ minimum: 0, description: 'Attempts that failed and ended their delivery as failed' }),
  success_rate: OrNull(Type.Number({ minimum: 0, maximum: 1, examples: [0.98], description: 'sent ÷ (sent + failed); null while nothing settled' })),
  p50_ms: Ms('Attempt duration, median (from log-spaced histograms: within 5 %)'),
  p95_ms: Ms('Attempt duration, 95th percentile'),
  p99_ms: Ms('Attempt duration, 99th percentile'),
  e2e_p50_ms: Ms('Commit → delivered, median, over sent attempts'),
  e2e_p95_ms: Ms('Commit → delivered, 95th percentile'),
  e2e_p99_ms: Ms('Commit → delivered, 99th percentile'),
  failures: Failures,
})

const RangeFields = {
  from: Type.String({ format: 'date-time', description: 'Start of the first bucket' }),
  to: Type.String({ format: 'date-time' }),
  granularity: Granularity,
}

export const SloInput = Type.Object(
  {
    success_rate: Type.Number({ minimum: 0.5, maximum: 0.99999, description: 'Share of attempts that must succeed over 30 days, e.g. 0.99' }),
    latency_p95_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: '95th percentile attempt duration to stay under' })),
  },
  { additionalProperties: false, description: 'A service-level objective: error budget and burn-rate alerts (plugin.slo_burn)' },
)

const BurnRates = Type.Object({ '5m': Type.Number(), '30m': Type.Number(), '1h': Type.Number(), '6h': Type.Number() })

export const SloStateSchema = Type.Object({
  objective: Type.Object({ success_rate: Type.Number(), latency_p95_ms: OrNull(Type.Integer()) }),
  success_rate: OrNull(Type.Number({ description: 'sent ÷ attempts over the last 30 days' })),
  budget_remaining: Type.Number({ description: 'Share of the 30-day error budget left: 1 untouched, 0 spent, negative overspent' }),
  p95_ms: OrNull(Type.Integer()),
  latency_met: OrNull(Type.Boolean()),
  burn_rates: BurnRates,
  state: Type.Union([Type.Literal('ok'), Type.Literal('page'), Type.Literal('ticket')], {
    description: 'page: 1 h and 5 min burn > 14.4×; ticket: 6 h and 30 min burn > 6×',
  }),
})

export const PluginAnalyticsResponse = Type.Object({
  plugin: Type.String(),
  ...RangeFields,
  totals: NumbersSchema,
  series: Type.Array(Type.Composite([Type.Object({ at: Type.String({ format: 'date-time', description: 'Bucket start' }) }), NumbersSchema]), {
    description: 'Every bucket of the range, oldest first; empty ones as zeros',
  }),
  by_event_type: Type.Array(Type.Composite([Type.Object({ event: Type.String() }), NumbersSchema])),
  slo: OrNull(SloStateSchema),
})

export const AppAnalyticsResponse = Type.Object({
  app: Type.String({ description: 'The app slug' }),
  installations: Type.Integer({ description: 'Live installations now' }),
  ...RangeFields,
  totals: NumbersSchema,
  series: Type.Array(Type.Composite([Type.Object({ at: Type.String({ format: 'date-time', description: 'Bucket start' }) }), NumbersSchema]), {
    description: 'Every bucket of the range, oldest first; empty ones as zeros; all installations added',
  }),
  by_event_type: Type.Array(Type.Composite([Type.Object({ event: Type.String() }), NumbersSchema])),
})

export const OverviewResponse = Type.Object({
  ...RangeFields,
  plugins: Type.Array(
    Type.Object({
      plugin: Type.String({ description: 'The plugin slug' }),
      name: Type.String(),
      status: Type.String(),
      kind: Type.Union([Type.Literal('plugin'), Type.Literal('alert')]),
      totals: Type.Composite([NumbersSchema], { description: 'Over the range; the e2e percentiles are null here (GET /api/analytics/plugins/{slug} has them)' }),
      backlog: Type.Object({
        due: Type.Integer({ minimum: 0, description: 'Deliveries due now (counted up to 1,000)' }),
        oldest_due_age_ms: Ms('How long the oldest due delivery has waited'),
      }),
      slo: OrNull(SloStateSchema),
    }),
  ),
})
