import t from 'tap'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { openStream } from './helpers/sse.ts'
import { waitFor } from './helpers/wait.ts'

const TENANT_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'

async function plugin(app: TestApp, slug: string, url: string, events: string[], headers: Record<string, string> = {}) {
  const res = await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: url, events }, headers)
  if (res.status !== 201) throw new Error(`registering ${slug}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

t.test('streams each delivery as it is created and delivered, to the clients whose tenant and filters match', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t)
  await plugin(app, 'catalog', receiver.url, ['product.created'])
  await plugin(app, 'search', receiver.url, ['product.created', 'product.updated'])
  const otherTenant = await createApiKey(app.database.db, TENANT_B, {})
  await plugin(app, 'b-sync', receiver.url, ['product.created'], { authorization: `Bearer ${otherTenant.key}` })

  const all = await openStream(t, `${app.url}/api/plugins/events/stream`)
  const catalogOnly = await openStream(t, `${app.url}/api/plugins/events/stream?plugin=catalog`)
  const updatesOnly = await openStream(t, `${app.url}/api/plugins/events/stream?event=product.updated`)
  const tenantB = await openStream(t, `${app.url}/api/plugins/events/stream`, { authorization: `Bearer ${otherTenant.key}` })
  t.equal(all.response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  t.match(all.events[0], { event: 'ready', data: { tenant_id: '11111111-1111-1111-1111-111111111111', resumed: false } })
  t.match(catalogOnly.events[0], { event: 'ready', data: { plugins: ['catalog'], events: [] } })

  const product = (await app.request('POST', '/api/products', { name: 'Lamp', price: 20 })).body
  await all.waitFor((e) => e.filter((x) => x.event === 'sent').length === 2, 'both deliveries sent, on the stream')
  t.same(all.changes().sort(), ['created catalog product.created', 'created search product.created', 'sent catalog product.created', 'sent search product.created'])
  const sent = all.events.find((e) => e.event === 'sent' && e.data.plugin === 'catalog')!
  t.match(sent.data, {
    change: 'sent',
    delivery_id: Number,
    webhook_id: `dlv_${sent.data.delivery_id}`,
    status: 'sent',
    attempts: 1,
    attempt: { number: 1, status_code: 200, error: null, duration_ms: Number },
    created_at: String,
    at: String,
  })
  t.match(sent.id, /^\d+:\d+:\d+$/, 'every event has an id to resume from')

  await catalogOnly.waitFor((e) => e.some((x) => x.event === 'sent'), "catalog's delivery")
  t.same(catalogOnly.changes(), ['created catalog product.created', 'sent catalog product.created'], 'filtered by plugin')

  await app.request('PATCH', `/api/products/${product.id}`, { price: 25 })
  await updatesOnly.waitFor((e) => e.some((x) => x.event === 'sent'), 'the update delivery')
  t.same(updatesOnly.changes(), ['created search product.updated', 'sent search product.updated'], 'filtered by event type')

  // tenant B's own delivery reaches its stream; none of the default tenant's ever did
  await app.request('POST', '/api/products', { name: 'B lamp' }, { authorization: `Bearer ${otherTenant.key}` })
  await tenantB.waitFor((e) => e.some((x) => x.event === 'sent'), "tenant B's delivery")
  t.same(tenantB.changes(), ['created b-sync product.created', 'sent b-sync product.created'], 'each tenant sees its own')
  t.notOk(all.changes().some((c) => c.includes('b-sync')), "and not another tenant's")
})

t.test('sends a heartbeat while idle, and ends open streams when the server stops', async (t) => {
  const app = await startApp(t, { RELAY: 'off', STREAM_HEARTBEAT_MS: '50' })
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  t.match(stream.raw, /^retry: \d+\n\n/, 'tells the browser how soon to reconnect')
  await waitFor(() => stream.raw.split(': heartbeat').length > 2, { message: 'two heartbeats' })
  await app.app.close()
  await waitFor(() => stream.ended, { message: 'the stream to end' })
  t.pass('app.close() did not wait for the open stream')
})

t.test('a client that reconnects with Last-Event-ID gets what it missed, once', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t)
  await plugin(app, 'catalog', receiver.url, ['product.created'])
  const first = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await app.request('POST', '/api/products', { name: 'Before' })
  await first.waitFor((e) => e.some((x) => x.event === 'sent'), 'the first delivery')
  const lastSeen = first.lastId()
  await first.close()

  // while away: a delivery that fails and will be retried, then the receiver recovers
  receiver.behaviour = (_request, index) => (index === 1 ? 500 : 200)
  await app.request('POST', '/api/products', { name: 'While away' })
  await receiver.waitForCount(3)
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?status=sent')).body.events.length === 2, { message: 'the retry to be sent' })

  const resumed = await openStream(t, `${app.url}/api/plugins/events/stream`, { 'last-event-id': lastSeen })
  // what the client already had may come again while the horizon (cluster-wide: any open transaction
  // holds it back) has not passed it; a client dedupes by delivery, change and attempt
  const key = (e: { event: string; data: any }) => `${e.data.delivery_id}:${e.event}:${e.data.attempt?.number ?? ''}`
  const had = new Set(first.events.map(key))
  const missed = resumed.events.filter((e) => e.event !== 'ready' && !had.has(key(e)))
  t.same(missed.map((e) => `${e.event} ${e.data.plugin} ${e.data.event}`), ['created catalog product.created', 'retry catalog product.created', 'sent catalog product.created'], 'what was missed, in order')
  t.same(new Set(resumed.events.map(key)).size, resumed.events.length, 'each once')
  t.match(resumed.events.at(-1), { event: 'ready', data: { resumed: true } })
  t.match(missed[1]!.data.attempt, { number: 1, status_code: 500, error: /HTTP 500/ })

  const garbage = await openStream(t, `${app.url}/api/plugins/events/stream`, { 'last-event-id': 'not-an-id' })
  t.same(garbage.changes(), [], 'an unreadable id starts afresh')
  const fromZero = await openStream(t, `${app.url}/api/plugins/events/stream?plugin=catalog`, { 'last-event-id': '0:0' })
  t.same(fromZero.changes().length, 5, 'from the start of history: 2 created, 3 attempts')
})

t.test('retry redelivers a failed delivery as a further attempt of the same webhook, shown live as requeued then sent', async (t) => {
  const receiver = await startReceiver(t, 500)
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0' })
  await plugin(app, 'catalog', receiver.url, ['product.created'])
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await app.request('POST', '/api/products', { name: 'Lamp' })
  await stream.waitFor((e) => e.some((x) => x.event === 'failed'), 'the delivery to fail for good')
  const id = stream.events.find((e) => e.event === 'failed')!.data.delivery_id

  receiver.behaviour = 200
  const retried = await app.request('POST', `/api/plugins/events/${id}/retry`)
  t.equal(retried.status, 202)
  t.match(retried.body, { id, status: 'retry', attempts: 1 })
  await stream.waitFor((e) => e.some((x) => x.event === 'sent'), 'the redelivery')
  t.same(stream.changes(), ['created catalog product.created', 'failed catalog product.created', 'requeued catalog product.created', 'sent catalog product.created'])

  const detail = (await app.request('GET', `/api/plugins/events/${id}`)).body
  t.match(detail, { status: 'sent', attempts: 2, last_error: null })
  t.same(detail.attempt_log.map((a: { attempt: number; status_code: number }) => [a.attempt, a.status_code]), [[1, 500], [2, 200]])
  t.same(receiver.received.map((r) => r.headers['webhook-id']), [`dlv_${id}`, `dlv_${id}`], 'the same webhook-id both times')
  t.match(detail.headers_sent, { 'content-type': 'application/json', 'webhook-id': `dlv_${id}`, 'x-bettercallsold-event': 'product.created', 'user-agent': /BetterCallSold/ })

  // a sent delivery may be sent again too
  t.equal((await app.request('POST', `/api/plugins/events/${id}/retry`)).status, 202)
  await receiver.waitForCount(3)

  const otherTenant = await createApiKey(app.database.db, TENANT_B, {})
  t.match(await app.request('POST', `/api/plugins/events/${id}/retry`, undefined, { authorization: `Bearer ${otherTenant.key}` }), { status: 404, body: { code: 'NOT_FOUND' } }, "another tenant's delivery is not found")
  t.match(await app.request('POST', '/api/plugins/events/999999/retry'), { status: 404, body: { code: 'NOT_FOUND' } })
  t.match(await app.request('POST', '/api/plugins/events/abc/retry'), { status: 400, body: { code: 'VALIDATION_ERROR' } })
  await app.request('DELETE', '/api/plugins/catalog')
  t.match(await app.request('POST', `/api/plugins/events/${id}/retry`), { status: 409, body: { code: 'PLUGIN_DELETED' } }, 'nothing goes to a deleted plugin')
})

t.test('stats count the last hour and day per plugin, with latency and the latest error, and attempts per minute', async (t) => {
  const receiver = await startReceiver(t, (request) => (request.json?.data?.name === 'Broken' ? 500 : 200))
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0' })
  await plugin(app, 'catalog', receiver.url, ['product.created'])
  await plugin(app, 'idle', receiver.url, ['order.paid'])
  for (const name of ['A', 'B', 'Broken']) await app.request('POST', '/api/products', { name })
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?status=pending')).body.events.length === 0 && receiver.received.length === 3, {
    message: 'all three settled',
  })
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?status=retry')).body.events.length === 0, { message: 'no retry left' })

  // the numbers come from the rollups, which follow the relay within ANALYTICS_INTERVAL_MS
  const stats = await waitFor(async () => {
    const body = (await app.request('GET', '/api/plugins/events/stats')).body
    // the two halves of the answer are read side by side: wait until both have the third attempt
    const perMinute = body.per_minute.reduce((sum: number, m: Record<string, number>) => sum + m.sent! + m.retry! + m.failed!, 0)
    return body.plugins[0].last_day === 3 && body.plugins[0].last_error !== null && perMinute === 3 && body
  }, { message: 'the three attempts in the rollups' })
  t.match(stats.plugins, [
    { plugin: 'catalog', last_hour: 3, last_day: 3, sent: 2, failed: 1, success_rate: 2 / 3, p50_ms: Number, p95_ms: Number, last_error: /HTTP 500/, last_error_at: String },
    { plugin: 'idle', last_hour: 0, last_day: 0, sent: 0, failed: 0, success_rate: null, p50_ms: null, p95_ms: null, last_error: null },
  ])
  t.equal(stats.per_minute.length, 60, 'every minute of the last hour')
  const totals = stats.per_minute.reduce((sum: Record<string, number>, m: Record<string, number>) => ({ sent: sum.sent! + m.sent!, retry: sum.retry! + m.retry!, failed: sum.failed! + m.failed! }), { sent: 0, retry: 0, failed: 0 })
  t.same(totals, { sent: 2, retry: 0, failed: 1 })
  t.ok(Date.parse(stats.per_minute[59].minute) <= Date.now(), 'oldest first, ending now')
  t.same((await app.request('GET', '/api/plugins/events/stats?plugin=idle')).body.per_minute.filter((m: { sent: number }) => m.sent > 0), [], 'filtered by plugin')
})
