import t from 'tap'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

/** One sample's value from Prometheus text, e.g. value(text, 'bcs_deliveries_backlog'). */
function value(text: string, series: string): number | undefined {
  const escaped = series.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)
  return match ? Number(match[1]) : undefined
}

async function scrape(app: TestApp, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${app.url}/metrics`, { headers })
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return res.text()
}

t.test('/metrics counts attempts by event and outcome, times them, and reports claims and the relay', async (t) => {
  const receiver = await startReceiver(t, (request) => (request.json?.data?.name === 'Broken' ? 500 : 200))
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '1' })
  await app.request('POST', '/api/plugins', { name: 'Metered', slug: 'metered', webhook_url: receiver.url, events: ['product.created'] })
  await app.request('POST', '/api/products', { name: 'Lamp' })
  await app.request('POST', '/api/products', { name: 'Broken' })
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?status=failed')).body.events.length === 1, { message: 'the broken one to fail' })

  const res = await fetch(`${app.url}/metrics`)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  t.equal(value(text, 'bcs_delivery_attempts_total{event="product.created",outcome="sent"}'), 1)
  t.equal(value(text, 'bcs_delivery_attempts_total{event="product.created",outcome="retry"}'), 1)
  t.equal(value(text, 'bcs_delivery_attempts_total{event="product.created",outcome="failed"}'), 1)
  t.notMatch(text, /plugin="/, 'no per-plugin label')
  t.equal(value(text, 'bcs_delivery_attempt_duration_seconds_count{outcome="ok"}'), 1)
  t.equal(value(text, 'bcs_delivery_attempt_duration_seconds_count{outcome="error"}'), 2)
  t.ok(value(text, 'bcs_relay_claim_batch_size_count')! >= 3, 'every claim is counted')
  t.ok(value(text, 'bcs_relay_claim_batch_size_sum')! >= 3, 'and what it claimed')
  t.equal(value(text, 'bcs_relay_listener_connected'), 1)
  t.equal(value(text, 'bcs_relay_listener_reconnects_total'), 0)
  t.equal(value(text, 'bcs_relay_in_flight'), 0)
  t.equal(value(text, 'bcs_deliveries_backlog'), 0)
  t.equal(value(text, 'bcs_deliveries_oldest_due_age_seconds'), 0)
  t.equal(value(text, 'bcs_http_requests_total{method="POST",route="/api/products",status_code="201"}'), 2)
  t.ok(value(text, 'bcs_http_request_duration_seconds_count{method="POST",route="/api/plugins"}'), 'request durations, by route pattern')
  t.match(text, /^process_resident_memory_bytes \d+/m, "and Node's own")
})

t.test('the backlog and the age of the oldest due delivery are read when scraped', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/plugins', { name: 'Slow', slug: 'slow', webhook_url: 'https://slow.example.com/h', events: ['product.created'] })
  for (const name of ['A', 'B', 'C']) await app.request('POST', '/api/products', { name })
  await app.database.db.updateTable('deliveries').set({ next_attempt_at: new Date(Date.now() - 90_000) }).where('status', '=', 'pending').execute()
  const text = await scrape(app)
  t.equal(value(text, 'bcs_deliveries_backlog'), 3)
  const age = value(text, 'bcs_deliveries_oldest_due_age_seconds')!
  t.ok(age >= 90 && age < 120, `the oldest has waited ${age} s`)
  t.equal(value(text, 'bcs_relay_in_flight'), undefined, 'no relay gauges without an in-process relay')
  t.equal(value(text, 'bcs_http_requests_total{method="GET",route="unmatched",status_code="404"}'), undefined)
  await app.request('GET', '/no/such/page/123')
  t.equal(value(await scrape(app), 'bcs_http_requests_total{method="GET",route="unmatched",status_code="404"}'), 1, 'unknown URLs share one series')
})

t.test('with API keys required, only an operator key reads /metrics (they span tenants)', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const tenant = '11111111-1111-1111-1111-111111111111'
  const plain = await createApiKey(app.database.db, tenant, {})
  const admin = await createApiKey(app.database.db, tenant, { admin: true })
  const operator = await createApiKey(app.database.db, tenant, { operator: true })
  t.match(await app.request('GET', '/metrics'), { status: 401, body: { code: 'MISSING_API_KEY' } })
  for (const key of [plain.key, admin.key]) {
    t.match(await app.request('GET', '/metrics', undefined, { authorization: `Bearer ${key}` }), { status: 403, body: { code: 'OPERATOR_KEY_REQUIRED' } })
  }
  t.match(await scrape(app, { authorization: `Bearer ${operator.key}` }), /bcs_deliveries_backlog 0/)
})

t.test('the label set stays bounded: more plugins and tenants add no series, and every label value comes from a closed set', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t)
  const otherTenant = await createApiKey(app.database.db, '22222222-2222-2222-2222-222222222222', {})
  const series = (text: string) => text.split('\n').filter((l) => l.startsWith('bcs_') && !l.startsWith('bcs_http_'))
  const deliverTo = async (slugs: string[], headers: Record<string, string> = {}) => {
    for (const slug of slugs) {
      await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: receiver.url, events: ['product.created'] }, headers)
    }
    const before = receiver.received.length
    await app.request('POST', '/api/products', { name: 'Lamp' }, headers)
    await waitFor(() => receiver.received.length >= before + slugs.length, { message: 'delivered' })
  }
  // the process's counters are shared by every app of this file: count from here
  const sentBefore = value(await scrape(app), 'bcs_delivery_attempts_total{event="product.created",outcome="sent"}') ?? 0
  await deliverTo(['first'])
  const few = series(await scrape(app)).map((l) => l.replace(/ \S+$/, ''))
  await deliverTo(['second', 'third', 'fourth'])
  await deliverTo(['first', 'fifth'], { authorization: `Bearer ${otherTenant.key}` })
  const many = series(await scrape(app)).map((l) => l.replace(/ \S+$/, ''))
  t.same(many.sort(), few.sort(), 'the same series with 6 plugins in 2 stores as with 1')
  const labels = new Set(many.flatMap((l) => [...l.matchAll(/(\w+)="/g)].map((m) => m[1])))
  t.same([...labels].sort(), ['event', 'le', 'outcome'], 'no plugin, tenant or URL label')
  // the counter moves when the outcome is recorded, a moment after the receiver has the request
  const sentKey = 'bcs_delivery_attempts_total{event="product.created",outcome="sent"}'
  await waitFor(async () => (value(await scrape(app), sentKey) ?? 0) >= sentBefore + 7, { message: 'the sent attempts counted' })
  t.equal(value(await scrape(app), sentKey), sentBefore + 7)
})
