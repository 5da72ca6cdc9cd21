import http from 'node:http'
import { sql } from 'kysely'
import t from 'tap'
import { MAX_RESUME_GAP } from '../src/live/stream.routes.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'
import { openStream } from './helpers/sse.ts'

const TENANT = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'

t.test('an unmatched URL spends the same rate-limit budget as a route, with a bad key or a good one', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', RATE_LIMIT_PER_MINUTE: '5' })
  const { key } = await createApiKey(app.database.db, TENANT, {})

  // the review's probe: a bad key on a path no route has
  const statuses: number[] = []
  for (let i = 0; i < 8; i++) statuses.push((await app.request('GET', `/nope/${i}`, undefined, { authorization: `Bearer guess-${i}` })).status)
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429, 429], 'five refusals, then throttled')
  const limited = await app.request('GET', '/nope', undefined, { authorization: 'Bearer guess' })
  t.match(limited.body, { statusCode: 429, code: 'RATE_LIMITED' })
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'with Retry-After')
  t.equal((await app.request('GET', '/api/plugins')).status, 429, 'the IP budget is one, matched or not')

  // a valid key: unmatched and matched requests draw on the key's one budget
  const auth = { authorization: `Bearer ${key}` }
  const mixed: number[] = []
  for (const path of ['/nope', '/api/plugins', '/api/nope', '/api/plugins', '/x', '/api/plugins'])
    mixed.push((await app.request('GET', path, undefined, auth)).status)
  t.same(mixed, [404, 200, 404, 200, 404, 429])
})

/** A request through node:http, which lets the test write Host and Origin as a browser would. */
function raw(base: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, headers }, (res) => {
      let text = ''
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: res.headers['content-type']?.includes('json') ? JSON.parse(text) : text }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('AUTH=off: a keyless request from another site, or addressed to a foreign host (DNS rebinding), is refused', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'off', TRUSTED_HOSTS: 'api.dev.test, other.test:8080' })
  const created = await app.request('POST', '/api/plugins', { name: 'V', slug: 'v', webhook_url: 'https://hooks.example.com/x', events: ['product.created'] })
  t.equal(created.status, 201)
  const secret = created.body.secret
  const self = new URL(app.url).host

  // the review's attack: a body-less cross-site POST that rotates the secret
  const attacks: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { origin: 'http://localhost:1' }, { 'sec-fetch-site': 'cross-site' }]
  for (const headers of attacks) {
    const res = await raw(app.url, 'POST', '/api/plugins/v/secret/rotate', headers)
    t.match(res, { status: 403, body: { statusCode: 403, code: 'CROSS_ORIGIN_REQUEST' } }, JSON.stringify(headers))
  }
  t.equal((await app.request('GET', '/api/plugins/v/secret')).body.secret, secret, 'the secret was not rotated')

  // DNS rebinding: same-origin for the browser, but the Host names the attacker's domain
  for (const host of ['evil.example', `evil.example:${new URL(app.url).port}`, '10.0.0.5:5173', 'localhost.evil.example']) {
    t.match(await raw(app.url, 'GET', '/api/plugins/v/secret', { host }), { status: 403, body: { code: 'UNTRUSTED_HOST' } }, `Host: ${host}`)
  }

  // what stays allowed: loopback and trusted hosts, same-origin pages, keyed callers, public routes
  for (const host of [self, 'localhost:5173', '[::1]:5173', 'api.dev.test', 'other.test']) {
    t.equal((await raw(app.url, 'GET', '/api/plugins', { host })).status, 200, `Host: ${host}`)
  }
  t.equal((await raw(app.url, 'GET', '/api/plugins', { origin: app.url, 'sec-fetch-site': 'same-origin' })).status, 200, 'the dashboard, same-origin')
  t.equal((await raw(app.url, 'GET', '/health', { host: 'evil.example', origin: 'https://evil.example' })).status, 200, 'health is public')
  t.equal((await raw(app.url, 'GET', '/', { host: 'evil.example' })).status, 200, "so is the dashboard's page")
  const keyed = await raw(app.url, 'GET', '/api/plugins', { host: 'evil.example', origin: 'https://evil.example', authorization: 'Bearer bcs_live_nope' })
  t.equal(keyed.status, 401, 'a request with a key is judged by its key')
})

t.test('AUTH=required: Host and Origin change nothing, the key decides', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const { key } = await createApiKey(app.database.db, TENANT, {})
  t.equal((await raw(app.url, 'GET', '/api/plugins', { host: 'evil.example', origin: 'https://evil.example' })).status, 401)
  t.equal((await raw(app.url, 'GET', '/api/plugins', { host: 'api.example.com', origin: 'https://shop.example', authorization: `Bearer ${key}` })).status, 200)
})

t.test("a resume from Last-Event-ID 0:0 past other tenants' history is a reset, not a scan of it", async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const other = { authorization: `Bearer ${(await createApiKey(app.database.db, 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', {})).key}` }
  const mine = { authorization: `Bearer ${(await createApiKey(app.database.db, TENANT, {})).key}` }
  await app.request('POST', '/api/plugins', { name: 'B', slug: 'b', webhook_url: 'https://hooks.example.com/x', events: ['product.created'], status: 'paused' }, other)
  await app.request('POST', '/api/products', { name: 'Theirs' }, other)
  // another tenant's long history of attempts, more ids than a resume may span
  await sql`
    insert into delivery_attempts (delivery_id, attempt, error, duration_ms)
    select (select max(id) from deliveries), 1, 'HTTP 500', 1 from generate_series(1, ${MAX_RESUME_GAP + 1000})
  `.execute(app.database.db)

  const stream = await openStream(t, `${app.url}/api/plugins/events/stream?plugin=nothing-matches`, { ...mine, 'last-event-id': '0:0' })
  t.match(stream.events.map((e) => e.event), ['reset', 'ready'], 'told to reload, then ready')
  t.match(stream.events[0]!.data, { reason: /too old/ })
  const [delivery, attempt] = stream.events[1]!.id.split(':').map(Number)
  t.ok(delivery! >= 1 && attempt! > MAX_RESUME_GAP, 'and it follows from now')

  // within reach, a resume still replays (see live-stream.test.ts): here, nothing of tenant A is missed
  const near = await openStream(t, `${app.url}/api/plugins/events/stream`, { ...mine, 'last-event-id': `${delivery}:${attempt! - 10}` })
  t.same(near.events.map((e) => e.event), ['ready'], "nothing of another tenant's is replayed")
})
