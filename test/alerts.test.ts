import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { EVENT_TYPES } from '../src/events/catalog.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { verifyWebhook } from '../src/receiver/index.ts'
import { startApp } from './helpers/app.ts'
import './helpers/events.ts'
import { startReceiver, type Received } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

const schemaOf = (name: string) => EVENT_TYPES.find((e) => e.name === name)!.data

t.test('a receiver that fails for a while and recovers yields exactly one plugin.failing and one plugin.recovered, signed; recovery re-arms', async (t) => {
  let failing = true
  const shop = await startReceiver(t, () => (failing ? 503 : 200))
  const ops = await startReceiver(t, 200)
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '2', ALERT_FAILING_AFTER: '4' })
  const endpoint = await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: ops.url })
  t.equal(endpoint.status, 201)
  t.match(endpoint.body, { slug: 'ops', url: ops.url, status: 'active', secret: /^whsec_/ })
  await app.request('POST', '/api/plugins', { name: 'Shop', slug: 'shop', webhook_url: shop.url, events: ['product.created'] })

  const alertsOf = (type: string) => ops.received.filter((r) => r.json?.event === type)
  // a run of failures: 6 deliveries × 3 attempts, every one answered 503
  for (let i = 0; i < 6; i++) await app.request('POST', '/api/products', { name: `P${i}` })
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?plugin=shop&status=failed')).body.events.length === 6, { message: 'all six failed' })
  await app.aggregator!.catchUp()
  await waitFor(() => alertsOf('plugin.failing').length === 1, { message: 'plugin.failing at the alert endpoint' })

  failing = false
  for (let i = 0; i < 3; i++) await app.request('POST', '/api/products', { name: `Q${i}` })
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?plugin=shop&status=sent')).body.events.length === 3, { message: 'three sent' })
  await app.aggregator!.catchUp()
  await waitFor(() => alertsOf('plugin.recovered').length === 1, { message: 'plugin.recovered at the alert endpoint' })
  // everything the relay recorded is in; wait until the alert outbox is empty too
  await app.aggregator!.catchUp()
  await waitFor(async () => (await app.request('GET', '/api/plugins/events?plugin=ops&status=pending')).body.events.length === 0, { message: 'alerts delivered' })
  t.equal(alertsOf('plugin.failing').length, 1, 'one plugin.failing for 18 failed attempts')
  t.equal(alertsOf('plugin.recovered').length, 1, 'one plugin.recovered')

  const [failingAlert] = alertsOf('plugin.failing') as [Received]
  const [recovered] = alertsOf('plugin.recovered') as [Received]
  t.ok(Value.Check(schemaOf('plugin.failing')!, failingAlert.json.data), 'plugin.failing data matches its schema')
  t.ok(Value.Check(schemaOf('plugin.recovered')!, recovered.json.data), 'plugin.recovered data matches its schema')
  t.match(failingAlert.json.data, { plugin: 'shop', name: 'Shop', consecutive_failures: 4, last_failure: { cause: 'http_5xx', status_code: 503, error: /HTTP 503/ } })
  t.match(recovered.json.data, { plugin: 'shop', recovered_from: 'failing', since: failingAlert.json.data.failing_since, last_failure: { cause: 'http_5xx' } })
  const secret = (await app.request('GET', '/api/plugins/ops/secret')).body.secret
  t.doesNotThrow(() => verifyWebhook(secret, failingAlert.headers as Record<string, string>, failingAlert.body), 'signed like every webhook')

  // recovery re-armed it: the next run of failures alerts again
  failing = true
  for (let i = 0; i < 2; i++) await app.request('POST', '/api/products', { name: `R${i}` })
  await waitFor(() => alertsOf('plugin.failing').length === 2, { message: 'a second plugin.failing' })
  t.equal(alertsOf('plugin.recovered').length, 1)
  t.equal(ops.received.filter((r) => r.json?.data?.plugin === 'ops').length, 0, 'no alert about the alert endpoint itself')
})

t.test('plugin.disabled once when the relay disables a plugin; alert endpoints are per store', async (t) => {
  const shop = await startReceiver(t, 410)
  const ops = await startReceiver(t, 200)
  const app = await startApp(t, { ALERT_FAILING_AFTER: '100' })
  const other = await createApiKey(app.database.db, '22222222-2222-2222-2222-222222222222', {})
  const asOther = { authorization: `Bearer ${other.key}` }
  await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: ops.url, events: ['plugin.disabled'] })
  await app.request('POST', '/api/alerts/endpoints', { slug: 'theirs', url: ops.url, events: ['plugin.disabled'] }, asOther)
  await app.request('POST', '/api/plugins', { name: 'Shop', slug: 'shop', webhook_url: shop.url, events: ['product.created'] })
  await app.request('POST', '/api/products', { name: 'Lamp' })
  await app.request('POST', '/api/products', { name: 'Desk' })
  const [disabled] = await ops.waitForCount(1, 20_000)
  t.match(disabled!.json, { event: 'plugin.disabled', data: { plugin: 'shop', reason: /410/ } })
  t.ok(Value.Check(schemaOf('plugin.disabled')!, disabled!.json.data), 'matches its schema')
  await app.aggregator!.catchUp()
  t.equal(ops.received.length, 1, 'once, to this store’s endpoint only')

  t.match(await app.request('GET', '/api/alerts/endpoints'), { status: 200, body: { endpoints: [{ slug: 'ops', events: ['plugin.disabled'] }] } })
  t.same((await app.request('GET', '/api/alerts/endpoints')).body.endpoints.length, 1)
  t.match(await app.request('GET', '/api/alerts/endpoints/theirs'), { status: 404, body: { code: 'NOT_FOUND' } }, "another store's endpoint")
  t.match(await app.request('GET', '/api/alerts/endpoints/shop'), { status: 404 }, 'a plugin is no alert endpoint')
  t.match(await app.request('PATCH', '/api/alerts/endpoints/ops', { events: ['plugin.nope'] }), { status: 400, body: { code: 'VALIDATION_ERROR' } })
  t.match(await app.request('PATCH', '/api/alerts/endpoints/ops', { status: 'paused' }), { status: 200, body: { status: 'paused' } })
  t.match(await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: ops.url }), { status: 409, body: { code: 'SLUG_TAKEN' } })
  t.equal((await app.request('DELETE', '/api/alerts/endpoints/ops')).status, 204)
  t.match(await app.request('GET', '/api/alerts/endpoints/ops'), { status: 404 })
})

t.test('plugin.backlog when the oldest due delivery waits too long, and plugin.recovered once it drained', async (t) => {
  const ops = await startReceiver(t, 200)
  const shop = await startReceiver(t, 200)
  // no relay: deliveries stay due until POST /api/plugins/events sends them
  const app = await startApp(t, { RELAY: 'off', ALERT_BACKLOG_AFTER_MS: '1000' })
  await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: ops.url, events: ['plugin.backlog', 'plugin.recovered'] })
  await app.request('POST', '/api/plugins', { name: 'Shop', slug: 'shop', webhook_url: shop.url, events: ['product.created'] })
  for (let i = 0; i < 3; i++) await app.request('POST', '/api/products', { name: `P${i}` })
  const emitted = async (type: string) => (await app.database.db.selectFrom('events').select('body').where('type', '=', type).execute()).map((e) => JSON.parse(e.body))
  const [alert] = await waitFor(async () => {
    const found = await emitted('plugin.backlog')
    return found.length > 0 ? found : null
  }, { timeoutMs: 30_000, message: 'plugin.backlog in the outbox' })
  t.match(alert.data, { plugin: 'shop', due: 3, threshold_ms: 1000 })
  t.ok(alert.data.oldest_due_age_ms >= 1000)
  t.ok(Value.Check(schemaOf('plugin.backlog')!, alert.data), 'matches its schema')

  // the store processes its due deliveries: the shop's three and the alert go out
  t.match(await app.request('POST', '/api/plugins/events'), { status: 200, body: { sent: 4 } })
  t.match(ops.received.map((r) => r.json.event), ['plugin.backlog'], 'the alert endpoint got it')
  await waitFor(async () => (await emitted('plugin.recovered')).length > 0, { timeoutMs: 30_000, message: 'plugin.recovered in the outbox' })
  t.match((await emitted('plugin.recovered'))[0].data, { plugin: 'shop', recovered_from: 'backlog' })
  t.equal((await emitted('plugin.backlog')).length, 1, 'one backlog alert while it lasted')
})
