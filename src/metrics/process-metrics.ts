import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { isEventName, TEST_EVENT } from '../events/catalog.ts'

/**
 * Metrics of this process, whichever app or relay in it produced them: the
 * relay's hot path only increments these (no I/O, no allocation beyond a label
 * lookup). Every label takes values from a closed set (no plugin, tenant or URL:
 * per-plugin numbers belong to the analytics API, GET /api/analytics/*), so the
 * series count is fixed whatever the platform's size; test/metrics.test.ts checks it. Scrape-time values and HTTP metrics live in each app's own registry
 * (src/metrics/metrics.routes.ts); /metrics serves both.
 */
export const processRegistry = new Registry()
collectDefaultMetrics({ register: processRegistry })

export const deliveryAttempts = new Counter({
  name: 'bcs_delivery_attempts_total',
  help: 'Webhook delivery attempts by event type and outcome (sent; retry: failed, another attempt follows; failed: failed for good)',
  labelNames: ['event', 'outcome'] as const,
  registers: [processRegistry],
})

export const attemptDuration = new Histogram({
  name: 'bcs_delivery_attempt_duration_seconds',
  help: 'Duration of one webhook POST, from connect to the end of the response read',
  labelNames: ['outcome'] as const,
  // receivers answer in milliseconds to seconds; WEBHOOK_TIMEOUT_MS (10 s) caps it
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [processRegistry],
})

export const claimBatchSize = new Histogram({
  name: 'bcs_relay_claim_batch_size',
  help: 'Deliveries claimed per claim by the relay (0: a wake-up or poll that found nothing due)',
  buckets: [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
  registers: [processRegistry],
})

export const listenerReconnects = new Counter({
  name: 'bcs_relay_listener_reconnects_total',
  help: 'Times the relay LISTEN connection was lost and had to reconnect',
  registers: [processRegistry],
})

export const liveStreamClients = new Gauge({
  name: 'bcs_live_stream_clients',
  help: 'Open connections to GET /api/plugins/events/stream',
  registers: [processRegistry],
})

/** The event label: a type of the catalog (bounded by it), anything else as 'other'. */
export const eventLabel = (event: string): string => (isEventName(event) || event === TEST_EVENT ? event : 'other')

/** One attempt's outcome, as the dispatcher records it. */
export function countAttempt(event: string, outcome: 'sent' | 'retry' | 'failed', durationMs: number): void {
  deliveryAttempts.inc({ event: eventLabel(event), outcome })
  attemptDuration.observe({ outcome: outcome === 'sent' ? 'ok' : 'error' }, durationMs / 1000)
}
