import { execFile } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import path from 'node:path'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { createDeveloper } from '../src/apps/developer.repository.ts'
import { createLogger } from '../src/logger.ts'
import { startService } from '../src/service.ts'
import { startApp, testConfig, type TestApp } from './helpers/app.ts'
import { testDatabase, type TestDatabase } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'
import { registeredRoutes } from './helpers/routes.ts'
import { waitFor } from './helpers/wait.ts'

const execute = promisify(execFile)
const ADMIN = path.resolve('bin/admin')

/**
 * Runs a command as an operator would: tap's process tracking puts its loader
 * into every child's NODE_OPTIONS, and `env -u` takes it out again.
 */
const run = (command: string, args: string[], env: Record<string, string>) =>
  execute('/usr/bin/env', ['-u', 'NODE_OPTIONS', command, ...args], { env: { ...process.env, ...env } })

const TENANT_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
const TENANT_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** `bin/admin …` against a test database, as an operator would run it. */
async function admin(database: TestDatabase, ...args: string[]) {
  const { stdout, stderr } = await run(ADMIN, args, { DATABASE_URL: database.url, NODE_ENV: 'test' })
  return { stdout, stderr }
}

t.test('bin/admin creates a key that is shown once, stored only as a hash, listed by prefix and revocable', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const printed = (await admin(app.database, 'keys', 'create', '--tenant', TENANT_A, '--name', 'ci', '--admin')).stdout
  t.match(printed, /^Created an admin API key for tenant aaaaaaaa-.* \(id [0-9a-f-]{36}\):\n\n {2}bcs_live_\S{43}\n\nStore it now: it is shown this once/)
  const key = /^ {2}(bcs_live_[A-Za-z0-9_-]{43})$/m.exec(printed)![1]!
  const id = /\(id ([0-9a-f-]{36})\)/.exec(printed)![1]!

  const { rows } = await sql<Record<string, unknown>>`select * from api_keys`.execute(app.database.db)
  t.match(rows, [{ id, tenant_id: TENANT_A, name: 'ci', admin: true, operator: false, prefix: key.slice(0, 15), revoked_at: null }])
  t.equal(rows[0]!.key_hash, createHash('sha256').update(key).digest('hex'), 'the sha256 of the key is stored')
  t.notMatch(JSON.stringify(rows), key.slice(15), 'and nothing more of it than the prefix')

  const listed = (await admin(app.database, 'keys', 'list')).stdout
  t.match(listed, /^ID +TENANT +PREFIX +ROLE +STATUS +NAME\n/)
  t.match(listed, new RegExp(`${id} +${TENANT_A} +${key.slice(0, 15)}… +admin +active +ci`))
  t.notMatch(listed, key.slice(15), 'the list never shows a key')

  t.equal((await app.request('GET', '/api/plugins', undefined, bearer(key))).status, 200, 'the API honours the key')
  const revoked = JSON.parse((await admin(app.database, 'keys', 'revoke', id, '--json')).stdout)
  t.match(revoked, { id, revoked_at: String })
  const refused = await app.request('GET', '/api/plugins', undefined, bearer(key))
  t.match(refused, { status: 401, body: { code: 'INVALID_API_KEY' } }, 'a revoked key is refused at once')

  const bad = await run(ADMIN, ['keys', 'create', '--tenant', 'not-a-uuid'], { DATABASE_URL: app.database.url }).catch(
    (error: { code: number; stderr: string }) => error,
  )
  t.match(bad, { code: 2, stderr: /--tenant must be a UUID/ }, 'a usage error exits 2 and says why')
})

t.test('AUTH=required: a missing, malformed, unknown or revoked key is a 401 with WWW-Authenticate', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const { key } = await createApiKey(app.database.db, TENANT_A, {})
  const revoked = await createApiKey(app.database.db, TENANT_A, {})
  await sql`update api_keys set revoked_at = now() where id = ${revoked.row.id}`.execute(app.database.db)

  const cases: [string, Record<string, string>, string][] = [
    ['no key', {}, 'MISSING_API_KEY'],
    ['an unknown key', bearer(`bcs_live_${'A'.repeat(43)}`), 'INVALID_API_KEY'],
    ['a revoked key', bearer(revoked.key), 'INVALID_API_KEY'],
    ['a truncated key', bearer(key.slice(0, -1)), 'INVALID_API_KEY'],
    ['the prefix alone', bearer(key.slice(0, 15)), 'INVALID_API_KEY'],
    ['Basic credentials', { authorization: `Basic ${Buffer.from(`x:${key}`).toString('base64')}` }, 'INVALID_API_KEY'],
    ['a bare key without Bearer', { authorization: key }, 'INVALID_API_KEY'],
    ['an empty Bearer', { authorization: 'Bearer ' }, 'INVALID_API_KEY'],
    ['two tokens', { authorization: `Bearer ${key} ${key}` }, 'INVALID_API_KEY'],
  ]
  for (const [name, headers, code] of cases) {
    const res = await app.request('GET', '/api/plugins', undefined, headers)
    t.match(res, { status: 401, body: { statusCode: 401, error: 'Unauthorized', code } }, name)
    t.equal(res.headers.get('www-authenticate'), 'Bearer', `${name}: WWW-Authenticate`)
  }
  t.equal((await app.request('GET', '/api/plugins', undefined, { authorization: `bearer   ${key}` })).status, 200, 'the scheme is case-insensitive')
  t.equal((await app.request('GET', '/health')).status, 200, 'health needs no key')
  t.match(await app.request('POST', '/api/products', { name: 'x' }), { status: 401 }, 'a write without a key is refused')
  t.same((await app.request('GET', '/api/products', undefined, bearer(key))).body.products, [], 'and wrote nothing')
})

t.test('AUTH=off: no key acts as the default tenant, a valid key as its own tenant, and a bad key is still a 401', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'off' })
  const { key } = await createApiKey(app.database.db, TENANT_A, {})
  t.equal((await app.request('POST', '/api/products', { name: 'Default' })).status, 201)
  t.equal((await app.request('POST', '/api/products', { name: 'Tenant A' }, bearer(key))).status, 201)

  const names = async (headers?: Record<string, string>) =>
    (await app.request('GET', '/api/products', undefined, headers)).body.products.map((p: { name: string }) => p.name)
  t.same(await names(), ['Default'])
  t.same(await names(bearer(key)), ['Tenant A'])
  const { rows } = await sql<{ tenant_id: string; name: string }>`select tenant_id, name from products order by name`.execute(app.database.db)
  t.same(rows, [
    { tenant_id: DEFAULT_TENANT, name: 'Default' },
    { tenant_id: TENANT_A, name: 'Tenant A' },
  ])
  t.match(await app.request('GET', '/api/products', undefined, bearer('bcs_live_nope')), { status: 401, body: { code: 'INVALID_API_KEY' } })
})

t.test('the configuration is safe in production: AUTH=off refuses to start unless forced', async (t) => {
  const production = loadConfig({ NODE_ENV: 'production' })
  t.match(production, { AUTH: 'required', ALLOW_PRIVATE_WEBHOOKS: false, HTTPS_ONLY: true, RATE_LIMIT_PER_MINUTE: 6000 })
  t.match(loadConfig({ NODE_ENV: 'development' }), { AUTH: 'off', ALLOW_PRIVATE_WEBHOOKS: true, HTTPS_ONLY: false })
  t.match(loadConfig({ NODE_ENV: 'development', AUTH: 'required', ALLOW_PRIVATE_WEBHOOKS: 'false', HTTPS_ONLY: 'TRUE' }), {
    AUTH: 'required',
    ALLOW_PRIVATE_WEBHOOKS: false,
    HTTPS_ONLY: true,
  })
  t.throws(() => loadConfig({ NODE_ENV: 'production', AUTH: 'off' }), new ConfigError(
    'AUTH=off is refused in production: every store would be open to anyone (set AUTH_ALLOW_OFF_IN_PRODUCTION=true to force it)',
  ))
  t.equal(loadConfig({ NODE_ENV: 'production', AUTH: 'off', AUTH_ALLOW_OFF_IN_PRODUCTION: 'true' }).AUTH, 'off')
  t.throws(() => loadConfig({ AUTH: 'maybe' }), /Invalid AUTH="maybe"/)
  t.throws(() => loadConfig({ ALLOW_PRIVATE_WEBHOOKS: 'yes' }), /Invalid ALLOW_PRIVATE_WEBHOOKS="yes"/)

  // the real server process, before it touches anything
  const failed = await run(process.execPath, ['--import', 'tsx', 'src/cli/start.ts'], {
    NODE_ENV: 'production',
    AUTH: 'off',
    DATABASE_URL: 'postgres://nowhere.invalid/x',
  }).catch((error: { code: number; stderr: string }) => error)
  t.match(failed, { code: 1, stderr: /AUTH=off is refused in production/ })
})

t.test('an admin key manages its own tenant\'s keys through /api/keys; other callers get 403', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'off' })
  const adminKey = (await createApiKey(app.database.db, TENANT_A, { name: 'root', admin: true })).key
  const plainKey = (await createApiKey(app.database.db, TENANT_A, { name: 'app' })).key

  const created = await app.request('POST', '/api/keys', { name: 'deploy bot' }, bearer(adminKey))
  t.equal(created.status, 201)
  t.match(created.body, { id: String, name: 'deploy bot', admin: false, prefix: /^bcs_live_/, revoked_at: null, key: /^bcs_live_/ })
  t.equal(created.headers.get('cache-control'), 'no-store')
  const bare = await app.request('POST', '/api/keys', undefined, bearer(adminKey))
  t.match(bare, { status: 201, body: { name: '', admin: false } }, 'a bare POST creates a key')
  const newKey: string = created.body.key
  t.equal((await app.request('GET', '/api/products', undefined, bearer(newKey))).status, 200, 'the new key works')

  const list = await app.request('GET', '/api/keys', undefined, bearer(adminKey))
  t.same(list.body.keys.map((k: { name: string }) => k.name), ['root', 'app', 'deploy bot', ''])
  t.notMatch(JSON.stringify(list.body), newKey, 'a list carries no keys')
  t.ok(list.body.keys.every((k: Record<string, unknown>) => !('key' in k) && !('key_hash' in k)))

  for (const [name, headers] of [['a non-admin key', bearer(plainKey)], ['no key', {}]] as const) {
    for (const [method, url] of [['GET', '/api/keys'], ['POST', '/api/keys'], ['DELETE', `/api/keys/${created.body.id}`]]) {
      t.match(await app.request(method!, url!, undefined, headers), { status: 403, body: { code: 'ADMIN_KEY_REQUIRED' } }, `${name}: ${method} ${url}`)
    }
  }

  t.equal((await app.request('DELETE', `/api/keys/${created.body.id}`, undefined, bearer(adminKey))).status, 204)
  t.match(await app.request('GET', '/api/products', undefined, bearer(newKey)), { status: 401, body: { code: 'INVALID_API_KEY' } }, 'revoked at once')
  t.match(await app.request('DELETE', `/api/keys/${created.body.id}`, undefined, bearer(adminKey)), { status: 404, body: { code: 'NOT_FOUND' } })
  const after = (await app.request('GET', '/api/keys', undefined, bearer(adminKey))).body.keys
  t.match(after.find((k: { id: string }) => k.id === created.body.id), { revoked_at: String }, 'the list shows when it was revoked')

  // and an operator key (reads every tenant's metrics) comes from bin/admin only
  for (const body of [{ tenant_id: TENANT_B }, { admin: 'yes' }, { operator: true }, { name: 'x'.repeat(101) }, { key: 'bcs_live_mine' }, { id: randomUUID() }]) {
    t.match(await app.request('POST', '/api/keys', body, bearer(adminKey)), { status: 400, body: { code: 'VALIDATION_ERROR' } }, JSON.stringify(body).slice(0, 40))
  }
})

t.test('keys and secrets never reach the log', async (t) => {
  const database = await testDatabase(t)
  const config = testConfig(database, { RELAY: 'off', AUTH: 'required', LOG_LEVEL: 'trace' })
  let log = ''
  const sink = new Writable({
    write(chunk, _encoding, done) {
      log += String(chunk)
      done()
    },
  })
  const service = await startService(config, createLogger(config, { destination: sink }))
  t.teardown(() => service.stop())
  const { key } = await createApiKey(database.db, TENANT_A, { admin: true })
  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: object) =>
    service.app.inject({ method, url, headers, payload })

  t.equal((await inject('GET', '/api/plugins', bearer(key))).statusCode, 200)
  t.equal((await inject('GET', '/api/plugins', bearer(`${key.slice(0, -2)}xx`))).statusCode, 401)
  const created = (await inject('POST', '/api/keys', bearer(key), { name: 'logged?' })).json()
  const plugin = (
    await inject('POST', '/api/plugins', bearer(key), {
      name: 'Logged',
      slug: 'logged',
      webhook_url: 'https://hooks.example.com/x',
      events: ['product.created'],
      config: { api_key: 'sk_live_plugin_secret' },
    })
  ).json()
  service.app.log.info({ headers: bearer(key), key, config: { api_key: 'sk_live_plugin_secret' } }, 'objects that must be redacted')

  t.match(log, /API key created: bcs_live_/, 'the log shows the prefix of a created key')
  t.match(log, /"headers":\{"authorization":"\[redacted\]"\},"key":"\[redacted\]","config":\{"api_key":"\[redacted\]"\}/)
  for (const secret of [key, key.slice(15), created.key, created.key.slice(15), plugin.secret, 'sk_live_plugin_secret']) {
    t.notOk(log.includes(secret), `the log does not contain ${secret.slice(0, 12)}…`)
  }
})

// ---------------------------------------------------------------------------
// Tenant isolation: every route, called with tenant B's key on tenant A's data.

/** An open Server-Sent Events stream, read as text as it arrives. */
async function openStream(base: string, headers: Record<string, string>) {
  const controller = new AbortController()
  const res = await fetch(`${base}/api/plugins/events/stream`, { headers, signal: controller.signal })
  if (res.status !== 200 || !res.body) throw new Error(`stream: ${res.status}`)
  let text = ''
  const reading = (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true })
  })().catch(() => {})
  return {
    text: () => text,
    waitFor: (pattern: RegExp) => waitFor(() => pattern.exec(text), { message: `${pattern} in the stream` }),
    close: async () => {
      controller.abort()
      await reading
    },
  }
}

/** A checksum of every row of one tenant, in every table that has a tenant_id (and of its deliveries' attempts). */
async function tenantChecksum(db: TestApp['database']['db'], tenantId: string): Promise<Record<string, string>> {
  const { rows: tables } = await sql<{ table_name: string }>`
    select table_name from information_schema.columns
     where table_schema = 'public' and column_name = 'tenant_id' order by 1
  `.execute(db)
  const sums: Record<string, string> = {}
  for (const { table_name } of tables) {
    const { rows } = await sql<{ sum: string | null; n: number }>`
      select md5(string_agg(t::text, '|' order by t::text)) as sum, count(*)::int as n
        from ${sql.table(table_name)} t where t.tenant_id = ${tenantId}
    `.execute(db)
    sums[table_name] = `${rows[0]!.n}:${rows[0]!.sum}`
  }
  const { rows } = await sql<{ sum: string | null }>`
    select md5(string_agg(a::text, '|' order by a.id)) as sum
      from delivery_attempts a join deliveries d on d.id = a.delivery_id where d.tenant_id = ${tenantId}
  `.execute(db)
  sums.delivery_attempts = String(rows[0]!.sum)
  return sums
}

t.test('tenant B, walking every route with its own key, can neither read nor change anything of tenant A (404, not 403)', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const a = bearer((await createApiKey(app.database.db, TENANT_A, { admin: true })).key)
  const bKey = await createApiKey(app.database.db, TENANT_B, { admin: true })
  const b = bearer(bKey.key)
  const aKeyId = (await sql<{ id: string }>`select id from api_keys where tenant_id = ${TENANT_A}`.execute(app.database.db)).rows[0]!.id

  // tenant A: a plugin, a product with stock (and its delivery), a customer, an order, a sent test webhook
  const routes = registeredRoutes(app.app)
  const has = (route: string) => routes.includes(route)
  const ok = async (method: string, url: string, body?: unknown) => {
    const res = await app.request(method, url, body, a)
    t.ok(res.status < 300, `tenant A: ${method} ${url} → ${res.status}`)
    return res.body
  }
  await ok('POST', '/api/plugins', { name: 'Shop sync', slug: 'shop-sync', webhook_url: receiver.url, events: ['product.created', 'order.created'] })
  if (has('POST /api/alerts/endpoints')) await ok('POST', '/api/alerts/endpoints', { slug: 'a-ops', url: receiver.url })
  const product = await ok('POST', '/api/products', { name: 'Lamp', price: 20 })
  if (has('PUT /api/products/:id/inventory')) await ok('PUT', `/api/products/${product.id}/inventory`, { quantity: 10 })
  const customer = has('POST /api/customers') ? await ok('POST', '/api/customers', { email: 'ann@example.com', name: 'Ann' }) : undefined
  const order =
    customer && has('POST /api/orders') ? await ok('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: product.id, quantity: 1 }] }) : undefined
  t.match(await ok('POST', '/api/plugins/shop-sync/test'), { success: true })
  const delivery = (await ok('GET', '/api/plugins/events?event=product.created')).events[0]
  t.ok(delivery, 'tenant A has a pending delivery')
  // tenant A: an installed app it has reviewed
  const developer = bearer((await createDeveloper(app.database.db, 'Walker')).key)
  const walkApp = { slug: 'walk-app', name: 'Walk app', version: '1.0.0', webhook_url: receiver.url, permissions: [{ permission: 'products:read', purpose: 'Read' }], listed: true }
  t.equal((await app.request('POST', '/api/apps', walkApp, developer)).status, 201)
  const installation = await ok('POST', '/api/marketplace/walk-app/install', { accept_permissions: ['products:read'] })
  await ok('POST', '/api/marketplace/walk-app/reviews', { rating: 5, body: 'A likes it' })

  // the analytics rollups of what A did so far are written before the snapshot, not during the walk
  await app.aggregator?.catchUp()
  const before = await tenantChecksum(app.database.db, TENANT_A)
  const aView = async () => ({
    plugins: (await app.request('GET', '/api/plugins', undefined, a)).body,
    products: (await app.request('GET', '/api/products', undefined, a)).body,
    events: (await app.request('GET', '/api/plugins/events', undefined, a)).body,
  })
  const viewBefore = await aView()
  const received = receiver.received.length

  const notFound = async (method: string, url: string, body?: unknown) => {
    const res = await app.request(method, url, body, b)
    t.match(res, { status: 404, body: { code: 'NOT_FOUND' } }, `${method} ${url} → 404`)
  }
  const ownOnly = async (url: string, list: string, foreign: string[]) => {
    const res = await app.request('GET', url, undefined, b)
    t.equal(res.status, 200, `GET ${url}`)
    const ids = JSON.stringify(res.body[list])
    for (const id of foreign) t.notOk(ids.includes(id), `GET ${url} does not show A's ${id}`)
  }
  const slugRoute = (suffix = '') => `/api/plugins/shop-sync${suffix}`
  /** Pages, documents and assets: served to anyone, and carrying nothing of any tenant. */
  const noTenantData = async (url: string, expect: (status: number) => boolean = (status) => status === 200) => {
    const res = await app.request('GET', url, undefined, b)
    t.ok(expect(res.status), `GET ${url} → ${res.status}`)
    const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body)
    for (const secret of ['shop-sync', product.id, receiver.url]) t.notOk(text.includes(secret), `GET ${url} shows nothing of A (${secret.slice(0, 20)})`)
  }

  const streams: Awaited<ReturnType<typeof openStream>>[] = []
  const walk: Record<string, () => Promise<unknown>> = {
    'GET /': () => noTenantData('/'),
    'GET /openapi.json': () => noTenantData('/openapi.json'),
    'GET /docs': () => noTenantData('/docs', (status) => status < 400),
    'GET /docs/': () => noTenantData('/docs/', (status) => status < 400),
    'GET /docs/static/index.html': () => noTenantData('/docs/static/index.html'),
    'GET /docs/static/swagger-initializer.js': () => noTenantData('/docs/static/swagger-initializer.js'),
    'GET /docs/*': () => noTenantData('/docs/static/swagger-ui.css'),
    'GET /docs/json': () => noTenantData('/docs/json'),
    'GET /docs/yaml': () => noTenantData('/docs/yaml'),
    'GET /dashboard/app.js': () => noTenantData('/dashboard/app.js'),
    'GET /dashboard/app.css': () => noTenantData('/dashboard/app.css'),
    'GET /dashboard/favicon.svg': () => noTenantData('/dashboard/favicon.svg'),
    // process-wide numbers: whatever a key may read there, no other tenant's plugin names
    'GET /metrics': () => noTenantData('/metrics', (status) => status === 200 || status === 403),
    'GET /health': async () => t.equal((await app.request('GET', '/health', undefined, b)).status, 200),
    'GET /health/ready': async () => {
      const res = await app.request('GET', '/health/ready', undefined, b)
      t.equal(res.status, 200)
      t.notOk(res.body.backlog, "a store's key reads state, not the platform's backlog")
    },
    'GET /api/event-types': async () => t.equal((await app.request('GET', '/api/event-types', undefined, b)).status, 200),
    'GET /api/plugins': () => ownOnly('/api/plugins', 'plugins', ['shop-sync', receiver.url]),
    'POST /api/plugins': async () =>
      t.equal((await app.request('POST', '/api/plugins', { name: 'B', slug: 'b-only', webhook_url: 'https://b.example.com/h', events: ['product.created'] }, b)).status, 201),
    'GET /api/plugins/:slug': () => notFound('GET', slugRoute()),
    'PUT /api/plugins/:slug': () => notFound('PUT', slugRoute(), { name: 'pwned', webhook_url: 'https://evil.example.com/' }),
    'PATCH /api/plugins/:slug': () => notFound('PATCH', slugRoute(), { status: 'paused' }),
    'DELETE /api/plugins/:slug': () => notFound('DELETE', slugRoute()),
    'POST /api/plugins/:slug/test': () => notFound('POST', slugRoute('/test')),
    'POST /api/plugins/:slug/enable': () => notFound('POST', slugRoute('/enable')),
    'POST /api/plugins/:slug/recover': () => notFound('POST', slugRoute('/recover'), { since: '2000-01-01T00:00:00Z' }),
    'GET /api/plugins/:slug/secret': () => notFound('GET', slugRoute('/secret')),
    'POST /api/plugins/:slug/secret/rotate': () => notFound('POST', slugRoute('/secret/rotate')),
    'GET /api/plugins/events': () => ownOnly('/api/plugins/events', 'events', [`"id":${delivery.id},`, 'shop-sync']),
    'GET /api/plugins/events/:id': () => notFound('GET', `/api/plugins/events/${delivery.id}`),
    'GET /api/plugins/events/stream': async () => {
      const stream = await openStream(app.url, b)
      t.teardown(() => stream.close())
      const ready = await stream.waitFor(/event: ready\ndata: (.*)\n/)
      t.equal(JSON.parse(ready[1]!).tenant_id, TENANT_B, "B's stream is B's")
      streams.push(stream)
    },
    'GET /api/plugins/events/stats': () => ownOnly('/api/plugins/events/stats', 'plugins', ['shop-sync']),
    'POST /api/plugins/events/:id/retry': () => notFound('POST', `/api/plugins/events/${delivery.id}/retry`),
    'POST /api/plugins/events': async () => t.match((await app.request('POST', '/api/plugins/events', undefined, b)).body, { processed: 0 }, "B's processing leaves A's deliveries alone"),
    'GET /api/products': () => ownOnly('/api/products', 'products', [product.id]),
    'POST /api/products': async () => t.equal((await app.request('POST', '/api/products', { name: 'B lamp' }, b)).status, 201),
    'GET /api/products/:id': () => notFound('GET', `/api/products/${product.id}`),
    'PUT /api/products/:id': () => notFound('PUT', `/api/products/${product.id}`, { price: 0 }),
    'PATCH /api/products/:id': () => notFound('PATCH', `/api/products/${product.id}`, { name: 'pwned' }),
    'DELETE /api/products/:id': () => notFound('DELETE', `/api/products/${product.id}`),
    'PUT /api/products/:id/inventory': () => notFound('PUT', `/api/products/${product.id}/inventory`, { quantity: 0 }),
    'GET /api/customers': () => ownOnly('/api/customers', 'customers', [customer?.id]),
    // the same e-mail in another tenant is another customer: A's existence does not leak as a conflict
    'POST /api/customers': async () => t.equal((await app.request('POST', '/api/customers', { email: 'ann@example.com' }, b)).status, 201),
    'GET /api/customers/:id': () => notFound('GET', `/api/customers/${customer?.id}`),
    'PUT /api/customers/:id': () => notFound('PUT', `/api/customers/${customer?.id}`, { name: 'pwned' }),
    'PATCH /api/customers/:id': () => notFound('PATCH', `/api/customers/${customer?.id}`, { accepts_marketing: true }),
    'DELETE /api/customers/:id': () => notFound('DELETE', `/api/customers/${customer?.id}`),
    'GET /api/orders': () => ownOnly('/api/orders', 'orders', [order?.id]),
    'POST /api/orders': async () => {
      const attempt = (customerId: string, productId: string) =>
        app.request('POST', '/api/orders', { customer_id: customerId, items: [{ product_id: productId, quantity: 1 }] }, b)
      const same = (what: string, theirs: { status: number; body: any }, missing: { status: number; body: any }) =>
        t.same([theirs.status, theirs.body.code], [missing.status, missing.body.code], `${what}: ${theirs.status} ${theirs.body.code}`)
      same("A's customer answers as a missing customer", await attempt(customer.id, product.id), await attempt(randomUUID(), product.id))
      const own = (await app.request('POST', '/api/customers', { email: 'bob@example.com' }, b)).body
      same("A's product answers as a missing product", await attempt(own.id, product.id), await attempt(own.id, randomUUID()))
    },
    'GET /api/orders/:id': () => notFound('GET', `/api/orders/${order?.id}`),
    'POST /api/orders/:id/pay': () => notFound('POST', `/api/orders/${order?.id}/pay`),
    'POST /api/orders/:id/ship': () => notFound('POST', `/api/orders/${order?.id}/ship`, { tracking_number: 'X' }),
    'POST /api/orders/:id/deliver': () => notFound('POST', `/api/orders/${order?.id}/deliver`),
    'POST /api/orders/:id/cancel': () => notFound('POST', `/api/orders/${order?.id}/cancel`, { reason: 'pwned' }),
    'GET /api/keys': () => ownOnly('/api/keys', 'keys', [aKeyId]),
    'POST /api/keys': async () => {
      const created = await app.request('POST', '/api/keys', { name: 'b2' }, b)
      t.equal(created.status, 201)
      t.same((await app.request('GET', '/api/plugins', undefined, bearer(created.body.key))).body.plugins.map((p: { slug: string }) => p.slug), ['b-only'], "B's new key is B's")
    },
    'DELETE /api/keys/:id': () => notFound('DELETE', `/api/keys/${aKeyId}`),
    'GET /api/analytics/plugins/:slug': () => notFound('GET', '/api/analytics/plugins/shop-sync'),
    'GET /api/analytics/overview': () => ownOnly('/api/analytics/overview', 'plugins', ['shop-sync']),
    'POST /api/alerts/endpoints': async () =>
      t.equal((await app.request('POST', '/api/alerts/endpoints', { slug: 'b-ops', url: 'https://b.example.com/alerts' }, b)).status, 201),
    'GET /api/alerts/endpoints': () => ownOnly('/api/alerts/endpoints', 'endpoints', ['a-ops']),
    'GET /api/alerts/endpoints/:slug': () => notFound('GET', '/api/alerts/endpoints/a-ops'),
    'PATCH /api/alerts/endpoints/:slug': () => notFound('PATCH', '/api/alerts/endpoints/a-ops', { status: 'paused' }),
    'DELETE /api/alerts/endpoints/:slug': () => notFound('DELETE', '/api/alerts/endpoints/a-ops'),
    // apps: the developer's routes and the app's token route take no store key; the marketplace names no store
    ...Object.fromEntries(
      ['POST /api/apps', 'GET /api/apps', 'GET /api/apps/:slug', 'PUT /api/apps/:slug', 'POST /api/apps/:slug/client-secret/rotate', 'GET /api/apps/:slug/installations', 'GET /api/apps/:slug/analytics'].map((route) => [
        route,
        async () => {
          const [method, url] = route.split(' ') as [string, string]
          t.match(await app.request(method, url.replace(':slug', 'walk-app'), method === 'GET' ? undefined : walkApp, b), { status: 401, body: { code: 'INVALID_DEVELOPER_KEY' } }, route)
        },
      ]),
    ),
    'POST /api/apps/installations/:installation_id/access_tokens': async () =>
      t.match(await app.request('POST', `/api/apps/installations/${installation.id}/access_tokens`, undefined, b), { status: 401, body: { code: 'INVALID_CLIENT_CREDENTIALS' } }),
    'GET /api/marketplace': async () => {
      await noTenantData('/api/marketplace')
      t.notOk(JSON.stringify((await app.request('GET', '/api/marketplace', undefined, b)).body).includes(TENANT_A), 'no store named')
    },
    'GET /api/marketplace/categories': () => noTenantData('/api/marketplace/categories'),
    'GET /api/marketplace/:slug': async () => {
      await noTenantData('/api/marketplace/walk-app')
      const listing = (await app.request('GET', '/api/marketplace/walk-app', undefined, b)).body
      t.match(listing.reviews, [{ rating: 5 }], 'reviews are public')
      t.notOk(JSON.stringify(listing).includes(TENANT_A), 'and name no store')
    },
    'POST /api/marketplace/:slug/install': async () =>
      t.match(await app.request('POST', '/api/marketplace/walk-app/install', { accept_permissions: [] }, b), { status: 409, body: { code: 'PERMISSIONS_NOT_ACCEPTED' } }),
    'POST /api/marketplace/:slug/reviews': async () =>
      t.match(await app.request('POST', '/api/marketplace/walk-app/reviews', { rating: 1 }, b), { status: 403, body: { code: 'REVIEW_REQUIRES_INSTALLATION' } }, 'A’s installation does not let B review'),
    'GET /api/installations': () => ownOnly('/api/installations', 'installations', [installation.id]),
    'GET /api/installations/:id': () => notFound('GET', `/api/installations/${installation.id}`),
    'PATCH /api/installations/:id': () => notFound('PATCH', `/api/installations/${installation.id}`, { config: {} }),
    'DELETE /api/installations/:id': () => notFound('DELETE', `/api/installations/${installation.id}`),
    'POST /api/installations/:id/approve': () => notFound('POST', `/api/installations/${installation.id}/approve`),
  }

  const unwalked = routes.filter((route) => !(route in walk))
  t.same(unwalked, [], 'every registered route is walked (add new routes to this table)')
  for (const route of routes) {
    if (route in walk) await walk[route]!()
  }
  t.ok(routes.length >= 20, `${routes.length} routes walked`)

  await app.aggregator?.catchUp()
  t.same(await tenantChecksum(app.database.db, TENANT_A), before, "every row of tenant A is exactly as it was")
  t.same(await aView(), viewBefore, 'and A sees exactly what it saw')
  t.equal(receiver.received.length, received, "nothing was sent to A's receiver")
  t.equal((await app.request('GET', '/api/plugins', undefined, a)).status, 200, "A's key still works")

  // live: A's next delivery is announced to A's stream only
  for (const stream of streams) {
    t.equal((await app.request('POST', '/api/products', { name: 'A again' }, a)).status, 201)
    t.equal((await app.request('POST', '/api/products', { name: 'B again' }, b)).status, 201)
    await stream.waitFor(/"plugin":"b-only"/)
    t.notMatch(stream.text(), /shop-sync/, "B's stream never carried A's deliveries")
  }

  // the same slug is free in every tenant
  const same = await app.request('POST', '/api/plugins', { name: 'B sync', slug: 'shop-sync', webhook_url: 'https://b.example.com/h', events: ['product.created'] }, b)
  t.equal(same.status, 201, "B may use A's slug for a plugin of its own")
  t.equal((await app.request('GET', slugRoute(), undefined, a)).body.webhook_url, receiver.url, "and A's plugin is untouched")
})
