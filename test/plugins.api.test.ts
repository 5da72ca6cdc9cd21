import t from 'tap'
import { startApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'

const plugin = {
  name: 'My Analytics Plugin',
  slug: 'my-analytics',
  webhook_url: 'https://myservice.example/webhooks/bettercallsold',
  events: ['product.created', 'product.updated', 'order.created'],
  config: { api_key: 'your-api-key', sync_frequency: 'realtime' },
  metadata: { description: 'Analytics and tracking plugin', version: '1.0.0', author: 'Your Company' },
}

t.test('registers a plugin with the spec body and reads it back', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const created = await app.request('POST', '/api/plugins', plugin)
  t.equal(created.status, 201)
  t.match(created.body, { ...plugin, status: 'active', id: String, created_at: String, updated_at: String })
  t.same(Object.keys(created.body).sort(), ['app_installation_id', 'config', 'created_at', 'disabled_at', 'disabled_reason', 'events', 'id', 'metadata', 'name', 'ordered', 'retry_policy', 'secret', 'slug', 'status', 'updated_at', 'webhook_url'])
  // the signing secret is returned once, here (test/secrets.api.test.ts covers it)
  const { secret, ...registered } = created.body
  t.match(secret, /^whsec_/)

  const list = await app.request('GET', '/api/plugins')
  t.equal(list.status, 200)
  t.same(list.body.plugins.map((p: { slug: string }) => p.slug), ['my-analytics'])

  const one = await app.request('GET', '/api/plugins/my-analytics')
  t.same(one.body, registered)
})

t.test('rejects bad registrations with a 4xx JSON error and a code, changing nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/plugins', plugin)
  const before = await rowCounts(app.database.db)
  const cases: [string, unknown, number, string, RegExp?][] = [
    ['missing name', { ...plugin, slug: 'a', name: undefined }, 400, 'VALIDATION_ERROR', /name/],
    ['empty name', { ...plugin, slug: 'a', name: '' }, 400, 'VALIDATION_ERROR'],
    ['name over 100 chars', { ...plugin, slug: 'a', name: 'x'.repeat(101) }, 400, 'VALIDATION_ERROR'],
    ['uppercase slug', { ...plugin, slug: 'My-Plugin' }, 400, 'VALIDATION_ERROR', /slug/],
    ['slug with spaces', { ...plugin, slug: 'my plugin' }, 400, 'VALIDATION_ERROR'],
    ['slug over 64 chars', { ...plugin, slug: 'a'.repeat(65) }, 400, 'VALIDATION_ERROR'],
    ['relative url', { ...plugin, slug: 'a', webhook_url: '/hook' }, 400, 'VALIDATION_ERROR', /webhook_url/],
    ['ftp url', { ...plugin, slug: 'a', webhook_url: 'ftp://example.com/x' }, 400, 'VALIDATION_ERROR'],
    ['no events', { ...plugin, slug: 'a', events: [] }, 400, 'VALIDATION_ERROR'],
    ['unknown events', { ...plugin, slug: 'a', events: ['product.created', 'product.exploded', 'nope'] }, 400, 'UNKNOWN_EVENT', /product\.exploded, nope/],
    ['events not a list', { ...plugin, slug: 'a', events: 'product.created' }, 400, 'VALIDATION_ERROR'],
    ['config not an object', { ...plugin, slug: 'a', config: [1, 2] }, 400, 'VALIDATION_ERROR'],
    ['config over 16 KiB', { ...plugin, slug: 'a', config: { blob: 'x'.repeat(17 * 1024) } }, 400, 'TOO_LARGE'],
    ['unknown property', { ...plugin, slug: 'a', colour: 'red' }, 400, 'VALIDATION_ERROR', /colour/],
    ['bad status', { ...plugin, slug: 'a', status: 'sleeping' }, 400, 'VALIDATION_ERROR'],
    ['duplicate slug', plugin, 409, 'SLUG_TAKEN', /my-analytics/],
    ['reserved slug', { ...plugin, slug: 'events' }, 400, 'RESERVED_SLUG'],
    ['malformed JSON', '{"name": ', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
  ]
  for (const [name, body, status, code, message] of cases) {
    const res = await app.request('POST', '/api/plugins', body)
    t.equal(res.status, status, `${name}: status`)
    t.equal(res.body.code, code, `${name}: code`)
    t.match(res.body, { statusCode: status, error: String, message: String }, `${name}: shape`)
    if (message) t.match(res.body.message, message, `${name}: message`)
    t.notMatch(JSON.stringify(res.body), /at .*\.ts:\d+/, `${name}: no stack trace`)
  }
  t.same(await rowCounts(app.database.db), before, 'nothing changed')
})

t.test('updates any subset with PUT or PATCH, and 404s an unknown slug', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const created = (await app.request('POST', '/api/plugins', plugin)).body
  const put = await app.request('PUT', '/api/plugins/my-analytics', {
    name: 'Updated Plugin Name',
    webhook_url: 'https://newurl.example/webhook',
    events: ['product.created', 'product.updated'],
    status: 'active',
  })
  t.equal(put.status, 200)
  t.match(put.body, { name: 'Updated Plugin Name', webhook_url: 'https://newurl.example/webhook', events: ['product.created', 'product.updated'], config: plugin.config })
  t.ok(Date.parse(put.body.updated_at) >= Date.parse(created.updated_at))

  const patch = await app.request('PATCH', '/api/plugins/my-analytics', { status: 'paused' })
  t.equal(patch.body.status, 'paused')
  t.equal(patch.body.name, 'Updated Plugin Name', 'untouched fields stay')

  t.equal((await app.request('PUT', '/api/plugins/nope', { name: 'x' })).status, 404)
  t.equal((await app.request('PUT', '/api/plugins/my-analytics', {})).status, 400, 'empty update')
  t.equal((await app.request('PUT', '/api/plugins/my-analytics', { slug: 'other' })).status, 400, 'slug is not updatable')
  t.equal((await app.request('PUT', '/api/plugins/my-analytics', { events: ['nope'] })).body.code, 'UNKNOWN_EVENT')
  t.equal((await app.request('GET', '/api/plugins/nope')).body.code, 'NOT_FOUND')
})

t.test('deletes a plugin: 204, then 404, and its slug can be registered again', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/plugins', plugin)
  t.equal((await app.request('DELETE', '/api/plugins/my-analytics')).status, 204)
  t.equal((await app.request('GET', '/api/plugins/my-analytics')).status, 404)
  t.equal((await app.request('DELETE', '/api/plugins/my-analytics')).status, 404)
  t.same((await app.request('GET', '/api/plugins')).body.plugins, [])
  t.equal((await app.request('POST', '/api/plugins', plugin)).status, 201)
})

t.test('unknown routes and methods answer a JSON 404', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const res = await app.request('GET', '/api/nothing-here')
  t.equal(res.status, 404)
  t.equal(res.body.code, 'ROUTE_NOT_FOUND')
})
