import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { backlog } from '../deliveries/delivery.repository.ts'
import { ForbiddenError } from '../errors.ts'
import { processRegistry } from './process-metrics.ts'

/**
 * `GET /metrics` in Prometheus' text format: the process's metrics (relay
 * counters, Node's own) and this app's: HTTP requests, and values read when
 * scraped (the backlog, the in-process relay's state).
 *
 * Registered before the routes, so that its onResponse hook sees every request.
 */
export const metrics = fp(
  async (app) => {
    const { database, relay, config } = app.ctx
    const registry = new Registry()

    const requests = new Counter({
      name: 'bcs_http_requests_total',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    })
    const duration = new Histogram({
      name: 'bcs_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern (live streams excluded: they last as long as the client stays)',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    })
    app.addHook('onResponse', async (request, reply) => {
      // the pattern, not the URL: one series per route, whatever the ids
      const route = request.routeOptions.url ?? 'unmatched'
      requests.inc({ method: request.method, route, status_code: String(reply.statusCode) })
      if (!String(reply.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
        duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
      }
    })

    // read at scrape time, with one query; the relay's hot path never pays for these
    const backlogSize = new Gauge({
      name: 'bcs_deliveries_backlog',
      help: 'Deliveries due now and not yet delivered (pending or retry, due time passed)',
      registers: [registry],
    })
    const oldestDueAge = new Gauge({
      name: 'bcs_deliveries_oldest_due_age_seconds',
      help: 'How long the oldest due delivery has been waiting past its due time (0 when none)',
      registers: [registry],
    })
    new Gauge({
      name: 'bcs_relay_in_flight',
      help: "Deliveries the in-process relay is sending right now (absent with RELAY=off)",
      registers: relay ? [registry] : [],
      collect() {
        if (relay) this.set(relay.inFlightCount)
      },
    })
    new Gauge({
      name: 'bcs_relay_listener_connected',
      help: 'Whether the in-process relay LISTEN connection is up (1) or not (0)',
      registers: relay ? [registry] : [],
      collect() {
        if (relay) this.set(relay.listenerConnected ? 1 : 0)
      },
    })

    app.get('/metrics', async (request, reply) => {
      // metrics span every tenant (their sum over all stores): with keys in force, only an
      // operator key reads them, never a store's own admin key
      if (config.AUTH === 'required' && !request.apiKey?.operator) {
        throw new ForbiddenError('OPERATOR_KEY_REQUIRED', 'Reading /metrics requires an operator API key (bin/admin keys create --operator)')
      }
      const { due, oldest_due_at } = await backlog(database.db)
      backlogSize.set(due)
      oldestDueAge.set(oldest_due_at ? Math.max(0, (Date.now() - Date.parse(oldest_due_at)) / 1000) : 0)
      const [own, shared] = await Promise.all([registry.metrics(), processRegistry.metrics()])
      return reply.header('content-type', processRegistry.contentType).send(own + '\n' + shared)
    })
  },
  { name: 'metrics', dependencies: ['tenant'] },
)
