import t from 'tap'
import pino from 'pino'
import { Relay } from '../src/relay/relay.ts'
import { createDatabase } from '../src/db/database.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

async function register(app: TestApp, url: string, extra: Record<string, unknown> = {}) {
  const res = await app.request('POST', '/api/plugins', { name: 'Sync', slug: 'sync', webhook_url: url, events: ['product.created'], ...extra })
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`)
  return res.body
}

async function events(app: TestApp, query = '') {
  return (await app.request('GET', `/api/plugins/events${query}`)).body.events as any[]
}

async function deliveryWhere(app: TestApp, predicate: (e: any) => boolean, message: string) {
  return waitFor(async () => (await events(app)).find(predicate), { message })
}

t.test('a NOTIFY wakes the relay: the webhook arrives long before the poll interval', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY_POLL_INTERVAL_MS: '60000' })
  await waitFor(() => app.relay!.listenerConnected, { message: 'listener connected' })
  await register(app, receiver.url)
  // the relay is asleep on its 60 s poll now; only the NOTIFY can wake it
  const written = Date.now()
  await app.request('POST', '/api/products', { name: 'Fast' })
  const [hook] = await receiver.waitForCount(1, 5000)
  t.ok(hook!.at - written < 2000, `arrived ${hook!.at - written} ms after the write`)
})

t.test('with LISTEN broken, the poll still delivers', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY: 'off' })
  // a relay whose LISTEN connection can never be made (nothing listens on port 1)
  const database = createDatabase(app.database.url, 2)
  const relay = new Relay(database, 'postgres://nobody@127.0.0.1:1/none', app.config, pino({ level: 'silent' }), app.app.ctx.cipher)
  relay.start()
  t.teardown(async () => {
    await relay.stop()
    await database.destroy()
  })
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Polled' })
  await receiver.waitForCount(1)
  t.equal(relay.listenerConnected, false, 'the listener never connected')
  t.equal(receiver.received[0]!.json.data.name, 'Polled')
})

t.test('a 500 is retried with backoff, then failed after 4 attempts with every attempt recorded', async (t) => {
  const receiver = await startReceiver(t, { status: 500, body: 'database on fire' } as never)
  receiver.behaviour = () => ({ status: 500, body: 'database on fire' })
  const app = await startApp(t)
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Doomed' })
  const failed = await deliveryWhere(app, (e) => e.status === 'failed', 'delivery failed')
  t.equal(failed.attempts, 4)
  t.equal(failed.last_status_code, 500)
  t.match(failed.last_error, /^HTTP 500: database on fire/)
  t.equal(failed.next_attempt_at, null)
  t.equal(receiver.received.length, 4, 'four POSTs, then no more')
  t.same(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across retries')
  const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at)
  t.ok(gaps[2]! > gaps[0]!, `backoff grows: gaps ${gaps.join(', ')} ms`)
  const detail = (await app.request('GET', `/api/plugins/events/${failed.id}`)).body
  t.same(detail.attempt_log.map((a: any) => [a.attempt, a.status_code]), [[1, 500], [2, 500], [3, 500], [4, 500]])
})

t.test('a receiver that recovers gets the delivery on a retry', async (t) => {
  const receiver = await startReceiver(t, (_r, i) => (i < 2 ? 503 : 204))
  const app = await startApp(t)
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Eventually' })
  const sent = await deliveryWhere(app, (e) => e.status === 'sent', 'delivery sent')
  t.equal(sent.attempts, 3)
  t.equal(sent.last_status_code, 204)
  t.equal(sent.last_error, null)
  t.ok(sent.sent_at)
})

t.test('a hanging receiver times out and the attempt says so', async (t) => {
  const receiver = await startReceiver(t, 'hang')
  const app = await startApp(t, { WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_MAX_RETRIES: '0' })
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Slow' })
  const failed = await deliveryWhere(app, (e) => e.status === 'failed', 'delivery failed')
  t.match(failed.last_error, /timeout/i)
  t.equal(failed.last_status_code, null)
  const [attempt] = (await app.request('GET', `/api/plugins/events/${failed.id}`)).body.attempt_log
  t.ok(attempt.duration_ms >= 300 && attempt.duration_ms < 2000, `took ${attempt.duration_ms} ms`)
})

t.test('a redirect is not followed: a 3xx is a failed attempt', async (t) => {
  const receiver = await startReceiver(t, (r) =>
    r.path === '/hook' ? { status: 302, headers: { location: '/elsewhere' } } : 200,
  )
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0' })
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Moved' })
  const failed = await deliveryWhere(app, (e) => e.status === 'failed', 'delivery failed')
  t.equal(failed.last_status_code, 302)
  t.same(receiver.received.map((r) => r.path), ['/hook'], 'nothing was sent to the redirect target')
})

t.test('a paused plugin receives nothing until resumed; then its deliveries arrive', async (t) => {
  const receiver = await startReceiver(t)
  // no relay while the plugin is switched on and off again: one would rightly
  // deliver in the moment it is active
  const app = await startApp(t, { RELAY: 'off' })
  await register(app, receiver.url, { status: 'paused' })
  await app.request('POST', '/api/products', { name: 'While paused 1' })
  await app.request('PATCH', '/api/plugins/sync', { status: 'active' })
  await app.request('PATCH', '/api/plugins/sync', { status: 'paused' })
  await app.request('POST', '/api/products', { name: 'While paused 2' })
  // processing everything due delivers none of it
  const processed = await app.request('POST', '/api/plugins/events')
  t.equal(processed.body.processed, 0)
  t.equal(receiver.received.length, 0)
  const parked = await events(app)
  t.same(parked.map((e) => [e.status, e.next_attempt_at]), [['pending', null], ['pending', null]], 'parked, not due')

  // a relay running beside the API delivers both once the plugin resumes
  await startApp(t, {}, app.database)
  await app.request('PUT', '/api/plugins/sync', { status: 'active' })
  await receiver.waitForCount(2)
  t.same(receiver.received.map((r) => r.json.data.name).sort(), ['While paused 1', 'While paused 2'])
})

t.test('deleting a plugin cancels its undelivered deliveries and sends nothing more', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  await register(app, receiver.url, { status: 'paused' })
  await app.request('POST', '/api/products', { name: 'Never sent' })
  t.equal((await app.request('DELETE', '/api/plugins/sync')).status, 204)
  const [delivery] = await events(app)
  t.equal(delivery.status, 'cancelled')
  t.equal(delivery.plugin, 'sync', 'the log still names the deleted plugin')
  await app.request('POST', '/api/products', { name: 'After delete' })
  t.equal((await app.request('POST', '/api/plugins/events')).body.processed, 0)
  t.equal(receiver.received.length, 0)
})

t.test('POST /api/plugins/events processes every due delivery now and counts the outcomes', async (t) => {
  const ok = await startReceiver(t, 200)
  const broken = await startReceiver(t, 500)
  // retries a minute away: not due again within this test
  const app = await startApp(t, { RELAY: 'off', WEBHOOK_RETRY_BASE_MS: '60000' })
  await register(app, ok.url)
  await app.request('POST', '/api/plugins', { name: 'Broken', slug: 'broken', webhook_url: broken.url, events: ['product.created'] })
  for (const name of ['a', 'b', 'c']) await app.request('POST', '/api/products', { name })
  const res = await app.request('POST', '/api/plugins/events')
  t.equal(res.status, 200)
  t.same(res.body, { processed: 6, sent: 3, failed: 0, retry: 3 })
  t.equal(ok.received.length, 3)
  t.same((await app.request('POST', '/api/plugins/events')).body, { processed: 0, sent: 0, failed: 0, retry: 0 }, 'retries are not due yet')
})

t.test('the connectivity test sends plugin.test now and reports the outcome either way', async (t) => {
  const receiver = await startReceiver(t, (_r, i) => (i === 0 ? 200 : 500))
  const app = await startApp(t, { RELAY: 'off' })
  await register(app, receiver.url)
  const ok = await app.request('POST', '/api/plugins/sync/test')
  t.equal(ok.status, 200)
  t.match(ok.body, { success: true, status_code: 200, duration_ms: Number, error: null })
  t.equal(receiver.received[0]!.json.event, 'plugin.test')
  t.equal(receiver.received[0]!.headers['x-bettercallsold-event'], 'plugin.test')

  const bad = await app.request('POST', '/api/plugins/sync/test')
  t.equal(bad.status, 200, 'a failing endpoint is an answer, not an error')
  t.match(bad.body, { success: false, status_code: 500, error: /HTTP 500/ })

  const log = await events(app, '?event=plugin.test')
  t.same(log.map((e) => e.status), ['failed', 'sent'], 'both appear in the log; the failure is not retried')
  t.equal((await app.request('POST', '/api/plugins/nope/test')).status, 404)

  const unreachable = await app.request('PUT', '/api/plugins/sync', { webhook_url: 'http://127.0.0.1:1/closed' })
  t.equal(unreachable.status, 200)
  const refused = await app.request('POST', '/api/plugins/sync/test')
  t.match(refused.body, { success: false, status_code: null, error: /ECONNREFUSED/ })
})

t.test('the events log filters, pages with a cursor, and validates its query', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await register(app, 'http://127.0.0.1:1/never', { events: ['product.created', 'product.updated'] })
  for (const name of ['a', 'b', 'c']) {
    const { body } = await app.request('POST', '/api/products', { name })
    await app.request('PATCH', `/api/products/${body.id}`, { name: `${name}2` })
  }
  const all = await events(app)
  t.equal(all.length, 6)
  t.ok(all.every((e, i) => i === 0 || e.id < all[i - 1].id), 'newest first')
  t.match(all[0], { id: Number, webhook_id: /^dlv_/, plugin: 'sync', event: 'product.updated', status: 'pending', attempts: 0, last_status_code: null, last_error: null, next_attempt_at: String, created_at: String, sent_at: null, payload: { event: 'product.updated' } })
  t.equal((await events(app, '?event=product.created')).length, 3)
  t.equal((await events(app, '?plugin=sync&status=pending')).length, 6)
  t.equal((await events(app, '?plugin=other')).length, 0)
  const page = await events(app, '?limit=4')
  const rest = await events(app, `?limit=4&before=${page.at(-1).id}`)
  t.same([...page, ...rest].map((e) => e.id), all.map((e) => e.id))
  for (const query of ['?limit=0', '?limit=501', '?status=lost', '?before=-1', '?limit=abc', '?foo=1']) {
    const res = await app.request('GET', `/api/plugins/events${query}`)
    t.equal(res.status, 400, `${query} is refused`)
    t.equal(res.body.code, 'VALIDATION_ERROR')
  }
  t.equal((await app.request('GET', '/api/plugins/events/999999')).status, 404)
})

t.test('GET /health reports the database and the relay', async (t) => {
  const app = await startApp(t)
  await waitFor(() => app.relay!.listenerConnected, { message: 'listener connected' })
  const res = await app.request('GET', '/health')
  t.equal(res.status, 200)
  t.match(res.body, { status: 'ok', database: { status: 'up' }, relay: { state: 'running', listener_connected: true }, backlog: { due: 0 } })
})
