import { sql } from 'kysely'
import t from 'tap'
import { ROUTE_PERMISSIONS } from '../src/apps/permissions.ts'
import { startApp } from './helpers/app.ts'
import { basic, bearer, developerKey, manifest, startAppServer, storeKey } from './helpers/apps.ts'
import { rowCounts } from './helpers/db.ts'
import { registeredRoutes } from './helpers/routes.ts'

const STORE = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'
const OTHER_STORE = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd'

t.test('bad input and foreign credentials: each a clear 4xx with its code, and nothing changed', async (t) => {
  const server = await startApp(t, { AUTH: 'required', RELAY: 'off' })
  const receiver = await startAppServer(t)
  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => server.request(method, path, body, headers)
  const dev = await developerKey(server, 'Acme')
  const otherDev = await developerKey(server, 'Rival')
  const store = await storeKey(server, STORE)
  const created = await api('POST', '/api/apps', { slug: 'sync', ...manifest(receiver.url) }, bearer(dev))
  t.equal(created.status, 201)
  await api('POST', '/api/apps', { slug: 'rival', ...manifest(receiver.url, { name: 'Rival' }) }, bearer(otherDev))
  const install = await api('POST', '/api/marketplace/sync/install', { accept_permissions: ['products:read'], config: { api_key: 'abcdefgh' } }, bearer(store))
  t.equal(install.status, 201)
  const otherStoreKey = await storeKey(server, OTHER_STORE)
  const rivalInstall = await api('POST', '/api/marketplace/rival/install', { accept_permissions: ['products:read'], config: { api_key: 'abcdefgh' } }, bearer(otherStoreKey))
  const nonAdmin = await storeKey(server, STORE, false)
  const appAuth = basic(created.body.client_id, created.body.client_secret)
  const token = (await api('POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, appAuth)).body.token as string
  const expiring = (await api('POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, appAuth)).body.token as string
  await sql`update app_access_tokens set expires_at = now() - interval '1 second' where expires_at = (select max(expires_at) from app_access_tokens)`.execute(server.database.db)

  const publish = (overrides: Record<string, unknown>, slug = 'fresh') => ['POST', '/api/apps', { slug, ...manifest(receiver.url, overrides) }, bearer(dev)] as const
  const cases: [name: string, request: readonly [string, string, unknown?, Record<string, string>?], status: number, code: string][] = [
    ['no developer key', ['GET', '/api/apps'], 401, 'MISSING_DEVELOPER_KEY'],
    ['a wrong developer key', ['GET', '/api/apps', undefined, bearer(`bcs_dev_${'x'.repeat(43)}`)], 401, 'INVALID_DEVELOPER_KEY'],
    ['a store key as a developer key', ['POST', '/api/apps', { slug: 'x' }, bearer(store)], 401, 'INVALID_DEVELOPER_KEY'],
    ['wrong client secret', ['POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, basic(created.body.client_id, `bcs_cs_${'y'.repeat(43)}`)], 401, 'INVALID_CLIENT_CREDENTIALS'],
    ['no client credentials', ['POST', `/api/apps/installations/${install.body.id}/access_tokens`], 401, 'INVALID_CLIENT_CREDENTIALS'],
    ['a developer key as client credentials', ['POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, bearer(dev)], 401, 'INVALID_CLIENT_CREDENTIALS'],
    ['a token for another app’s installation', ['POST', `/api/apps/installations/${rivalInstall.body.id}/access_tokens`, undefined, appAuth], 404, 'NOT_FOUND'],
    ['an expired token', ['GET', '/api/products', undefined, bearer(expiring)], 401, 'ACCESS_TOKEN_EXPIRED'],
    ['a made-up token', ['GET', '/api/products', undefined, bearer(`bcs_iat_${'z'.repeat(43)}`)], 401, 'INVALID_ACCESS_TOKEN'],
    ['a token on another store’s installation', ['GET', `/api/installations/${rivalInstall.body.id}`, undefined, bearer(token)], 403, 'NOT_ALLOWED_FOR_APPS'],
    ['a store reading another store’s installation', ['GET', `/api/installations/${rivalInstall.body.id}`, undefined, bearer(store)], 404, 'NOT_FOUND'],
    ['a token installing apps', ['POST', '/api/marketplace/rival/install', { accept_permissions: ['products:read'] }, bearer(token)], 403, 'NOT_ALLOWED_FOR_APPS'],
    ['a token publishing apps', ['POST', '/api/apps', { slug: 'x' }, bearer(token)], 401, 'INVALID_DEVELOPER_KEY'],
    ['a developer reading another’s app', ['GET', '/api/apps/rival', undefined, bearer(dev)], 404, 'NOT_FOUND'],
    ['a developer publishing another’s app', ['PUT', '/api/apps/rival', manifest(receiver.url, { version: '9.0.0' }), bearer(dev)], 404, 'NOT_FOUND'],
    ['a developer rotating another’s secret', ['POST', '/api/apps/rival/client-secret/rotate', undefined, bearer(dev)], 404, 'NOT_FOUND'],
    ['a developer reading another’s installations', ['GET', '/api/apps/rival/installations', undefined, bearer(dev)], 404, 'NOT_FOUND'],
    ['installing an app that does not exist', ['POST', '/api/marketplace/no-such-app/install', { accept_permissions: [] }, bearer(store)], 404, 'APP_NOT_FOUND'],
    ['installing with a non-admin key', ['POST', '/api/marketplace/rival/install', { accept_permissions: ['products:read'], config: { api_key: 'abcdefgh' } }, bearer(nonAdmin)], 403, 'ADMIN_KEY_REQUIRED'],
    ['installing twice', ['POST', '/api/marketplace/sync/install', { accept_permissions: ['products:read'], config: { api_key: 'abcdefgh' } }, bearer(store)], 409, 'ALREADY_INSTALLED'],
    ['config that violates the schema', ['POST', '/api/marketplace/rival/install', { accept_permissions: ['products:read'], config: { threshold: -1 } }, bearer(store)], 400, 'INVALID_CONFIG'],
    ['a config patch that violates the schema', ['PATCH', `/api/installations/${install.body.id}`, { config: { warehouse: 7 } }, bearer(store)], 400, 'INVALID_CONFIG'],
    ['hostile Markdown: a script tag', publish({ description: 'Hi <script>alert(1)</script>' }), 400, 'UNSAFE_MARKDOWN'],
    ['hostile Markdown: an event handler', publish({ description: '<img src=x onerror=alert(1)>' }), 400, 'UNSAFE_MARKDOWN'],
    ['hostile Markdown: a javascript: link', publish({ description: '[click](JaVaScRiPt:alert(1))' }), 400, 'UNSAFE_MARKDOWN'],
    ['hostile Markdown: an encoded javascript: link', publish({ description: '[click](&#106;avascript:alert(1))' }), 400, 'UNSAFE_MARKDOWN'],
    ['hostile Markdown: a data: image', publish({ description: '![x](data:text/html;base64,PHNjcmlwdD4=)' }), 400, 'UNSAFE_MARKDOWN'],
    ['hostile Markdown: a javascript: reference', publish({ description: '[x][1]\n\n[1]: javascript:alert(1)' }), 400, 'UNSAFE_MARKDOWN'],
    ['an oversized manifest', publish({ description: 'a'.repeat(70 * 1024) }), 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
    ['an oversized description', publish({ description: 'é'.repeat(15 * 1024) }), 400, 'TOO_LARGE'],
    ['a duplicate slug (another developer’s)', publish({}, 'rival'), 409, 'SLUG_TAKEN'],
    ['a reserved slug', publish({}, 'categories'), 400, 'RESERVED_SLUG'],
    ['a version that is not semver', publish({ version: '1.0' }), 400, 'INVALID_VERSION'],
    ['the same version again', ['PUT', '/api/apps/sync', manifest(receiver.url, { version: '1.0.0' }), bearer(dev)], 409, 'VERSION_NOT_INCREASING'],
    ['a lower version', ['PUT', '/api/apps/sync', manifest(receiver.url, { version: '0.9.9' }), bearer(dev)], 409, 'VERSION_NOT_INCREASING'],
    ['a pre-release of the current version', ['PUT', '/api/apps/sync', manifest(receiver.url, { version: '1.0.0-rc.1' }), bearer(dev)], 409, 'VERSION_NOT_INCREASING'],
    ['an unknown permission', publish({ permissions: [{ permission: 'keys:write', purpose: 'x' }] }), 400, 'UNKNOWN_PERMISSION'],
    ['a permission twice', publish({ permissions: [{ permission: 'products:read', purpose: 'x' }, { permission: 'products:read', purpose: 'y' }] }), 400, 'DUPLICATE_PERMISSION'],
    ['an unknown category', publish({ categories: ['gambling'] }), 400, 'UNKNOWN_CATEGORY'],
    ['an unknown event', publish({ events: ['product.exploded'] }), 400, 'UNKNOWN_EVENT'],
    ['an event its permissions do not cover', publish({ events: ['order.created'] }), 400, 'PERMISSION_REQUIRED_FOR_EVENT'],
    ['a webhook_url at the cloud metadata address', publish({ webhook_url: 'http://169.254.169.254/latest' }), 400, 'UNSAFE_WEBHOOK_URL'],
    ['a config_schema outside the subset', publish({ config_schema: { type: 'object', properties: { a: { type: 'object' } } } }), 400, 'INVALID_CONFIG_SCHEMA'],
    ['a review from a store that never installed', ['POST', '/api/marketplace/rival/reviews', { rating: 1 }, bearer(store)], 403, 'REVIEW_REQUIRES_INSTALLATION'],
    ['a rating out of range', ['POST', '/api/marketplace/sync/reviews', { rating: 6 }, bearer(store)], 400, 'VALIDATION_ERROR'],
    ['approving with nothing pending', ['POST', `/api/installations/${install.body.id}/approve`, undefined, bearer(store)], 409, 'NOTHING_TO_APPROVE'],
    ['a malformed marketplace cursor', ['GET', '/api/marketplace?cursor=bm9wZQ', undefined, bearer(store)], 400, 'INVALID_CURSOR'],
    ['changing an app plugin’s events', ['PUT', '/api/plugins/app-sync', { events: ['order.created'] }, bearer(store)], 403, 'APP_PLUGIN'],
    ['deleting an app plugin', ['DELETE', '/api/plugins/app-sync', undefined, bearer(store)], 403, 'APP_PLUGIN'],
    ['rotating an app plugin’s secret', ['POST', '/api/plugins/app-sync/secret/rotate', {}, bearer(store)], 403, 'APP_PLUGIN'],
  ]
  const before = await rowCounts(server.database.db)
  for (const [name, [method, path, body, headers], status, code] of cases) {
    const res = await api(method, path, body, headers)
    t.match(res, { status, body: { statusCode: status, code, message: String } }, `${name}: ${status} ${code}`)
    t.notMatch(JSON.stringify(res.body), /at \S+\.ts:\d+/, `${name}: no stack trace`)
  }
  t.same(await rowCounts(server.database.db), before, 'not one row changed')

  const schemaProblem = await api(...publish({ config_schema: { type: 'object', properties: { region: { type: 'string', pattern: '([a-z' } } } }))
  t.match(schemaProblem.body, { code: 'INVALID_CONFIG_SCHEMA', pointer: '/properties/region/pattern' }, 'the JSON pointer of the problem')
  const badDefault = await api(...publish({ config_schema: { type: 'object', properties: { n: { type: 'integer', maximum: 3, default: 9 } } } }))
  t.match(badDefault.body, { code: 'INVALID_CONFIG_SCHEMA', pointer: '/properties/n/default' })
  const badConfig = await api('POST', '/api/marketplace/rival/install', { accept_permissions: ['products:read'], config: { threshold: -1, warehouse: 3, colour: 'red' } }, bearer(store))
  t.match(badConfig.body, { code: 'INVALID_CONFIG', message: /\/threshold/ })
  const pointers = (badConfig.body.problems as { pointer: string }[]).map((p) => p.pointer).sort()
  t.same(pointers, ['/api_key', '/colour', '/threshold', '/warehouse'], 'every problem of the config, each with its JSON pointer')
})

t.test('installation tokens reach only the routes that declare a permission, and only with it (write implies read)', async (t) => {
  const server = await startApp(t, { AUTH: 'required', RELAY: 'off' })
  const receiver = await startAppServer(t)
  const dev = await developerKey(server)
  const store = await storeKey(server, STORE)
  const created = await server.request(
    'POST',
    '/api/apps',
    { slug: 'writer', ...manifest(receiver.url, { permissions: [{ permission: 'products:write', purpose: 'Write products' }], events: ['product.created'] }) },
    bearer(dev),
  )
  const install = await server.request('POST', '/api/marketplace/writer/install', { accept_permissions: ['products:write'], config: { api_key: 'abcdefgh' } }, bearer(store))
  const token = (await server.request('POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, basic(created.body.client_id, created.body.client_secret))).body
  t.match(token, { token: /^bcs_iat_/, permissions: ['products:write'], installation_id: install.body.id, tenant_id: STORE })
  t.ok(Date.parse(token.expires_at) - Date.now() > 55 * 60 * 1000, 'the token lives an hour')
  const again = await server.request('POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, {
    ...basic(created.body.client_id, created.body.client_secret),
    'idempotency-key': 'same-key',
  })
  const replay = await server.request('POST', `/api/apps/installations/${install.body.id}/access_tokens`, undefined, {
    ...basic(created.body.client_id, created.body.client_secret),
    'idempotency-key': 'same-key',
  })
  t.not(again.body.token, replay.body.token, 'an Idempotency-Key never replays a token')
  t.same(await server.database.db.selectFrom('idempotency_keys').selectAll().execute(), [], 'nor keeps one')
  const stored = await server.database.db.selectFrom('app_access_tokens').select('token_hash').execute()
  t.notOk(JSON.stringify(stored).includes(token.token), 'only its hash is stored')
  const auth = bearer(token.token)

  const routes = registeredRoutes(server.app)
  t.same(Object.keys(ROUTE_PERMISSIONS).filter((r) => !routes.includes(r)), [], 'every declared route exists')
  const product = (await server.request('POST', '/api/products', { name: 'Made by the app', price: 1 }, auth)).body
  t.match(product, { name: 'Made by the app' }, 'products:write writes')
  t.equal((await server.request('GET', `/api/products/${product.id}`, undefined, auth)).status, 200, 'and, write implying read, reads')
  const denied = await server.request('GET', '/api/orders', undefined, auth)
  t.match(denied, { status: 403, body: { code: 'MISSING_PERMISSION', permission: 'orders:read' } })
  t.match(await server.request('PUT', `/api/products/${product.id}/inventory`, { quantity: 3 }, auth), { status: 403, body: { permission: 'inventory:write' } })

  // every other route of the API, whatever it is, refuses the token before reading a body
  const others = routes.filter((r) => !(r in ROUTE_PERMISSIONS) && !/^GET \/(docs|dashboard\/)|^GET \/$|^GET \/health$|^GET \/openapi\.json$|^\w+ \/api\/apps/.test(r))
  t.ok(others.length > 20, `${others.length} routes closed to tokens`)
  for (const route of others) {
    const [method, url] = route.split(' ') as [string, string]
    const path = url.replace(/:id\b/, '00000000-0000-4000-8000-000000000000').replace(/:[a-z_]+/g, 'x')
    const res = await server.request(method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, auth)
    t.match(res, { status: 403, body: { code: 'NOT_ALLOWED_FOR_APPS' } }, `${route} is closed to installation tokens`)
  }
})

t.test('no input to the app routes gets a 5xx', async (t) => {
  const server = await startApp(t, { AUTH: 'required', RELAY: 'off' })
  const receiver = await startAppServer(t)
  const dev = await developerKey(server)
  const store = await storeKey(server, STORE)
  const created = (await server.request('POST', '/api/apps', { slug: 'sync', ...manifest(receiver.url) }, bearer(dev))).body
  const install = (await server.request('POST', '/api/marketplace/sync/install', { accept_permissions: ['products:read'], config: { api_key: 'abcdefgh' } }, bearer(store))).body
  const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url')
  const id = '00000000-0000-4000-8000-000000000000'
  const bodies: unknown[] = [
    {},
    [],
    'x',
    null,
    { config: { a: '\u0000' } },
    { config: { ['__proto__']: { polluted: true } } },
    { accept_permissions: ['\u0000'], config: { api_key: 'a\u0000bcdefgh' } },
    { rating: 1e308, body: '\u0000' },
    { slug: 'fuzz', ...manifest(receiver.url, { name: 'a\u0000' }) },
    { slug: 'fuzz', ...manifest(receiver.url, { config_schema: { type: 'object', properties: { a: { type: 'string', pattern: '(?<' } } } }) },
    { slug: 'fuzz', ...manifest(receiver.url, { config_schema: { type: 'object', properties: JSON.parse('{"__proto__":{"type":"string"}}') } }) },
    { slug: 'fuzz', ...manifest(receiver.url, { config_schema: { type: 'object', properties: { a: { type: 'number', minimum: 1e400 } } } }) },
    { slug: 'fuzz', ...manifest(receiver.url, { config_schema: { type: 'object', required: ['b'], properties: { a: { type: 'string', enum: [] } } } }) },
    { slug: 'fuzz', ...manifest(receiver.url, { version: '99999999999999999999.0.0' }) },
    { slug: 'fuzz', ...manifest(receiver.url, { webhook_url: 'http://[::1' }) },
  ]
  const queries = [
    '?q=%00',
    '?q=' + 'a'.repeat(200),
    '?q=the',
    '?q=%F0%9F%92%A9%20caf%C3%A9',
    '?sort=bogus',
    '?limit=1e9',
    '?category=%00',
    ...['relevance', 'popular', 'rating', 'newest', 'name'].flatMap((sort) =>
      [[sort, 'x', 'y', id], [sort, '1e999', id], [sort, 'infinity', id], [sort, '99999-01-01T00:00:00Z', id], [sort, {}, id], [sort]].map(
        (key) => `?q=app&sort=${sort}&cursor=${cursor(key)}`,
      ),
    ),
    `?cursor=${Buffer.from(`99999-12-31T00:00:00Z|${id}`).toString('base64url')}`,
    `?cursor=${Buffer.from(`1|${id}`).toString('base64url')}`,
  ]
  const paths: [string, string][] = [
    ['POST', '/api/apps'],
    ['PUT', '/api/apps/sync'],
    ['GET', '/api/apps/sync/installations'],
    ['POST', `/api/apps/installations/${install.id}/access_tokens`],
    ['GET', '/api/marketplace'],
    ['GET', '/api/marketplace/sync'],
    ['GET', '/api/marketplace/%00'],
    ['POST', '/api/marketplace/sync/install'],
    ['POST', '/api/marketplace/sync/reviews'],
    ['PATCH', `/api/installations/${install.id}`],
    ['POST', `/api/installations/${install.id}/approve`],
    ['DELETE', `/api/installations/${id}`],
  ]
  const credentials = [bearer(dev), bearer(store), { authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}` }, { authorization: 'Basic %%%' }]
  let requests = 0
  for (const [method, path] of paths) {
    for (const headers of credentials) {
      const variants = method === 'GET' || method === 'DELETE' ? queries.map((q) => [path + q, undefined] as const) : bodies.map((b) => [path, b] as const)
      for (const [url, body] of variants) {
        const res = await server.request(method, url, body === undefined ? undefined : JSON.stringify(body), headers)
        requests++
        if (res.status >= 500) t.fail(`${method} ${url} ${JSON.stringify(body)?.slice(0, 120)} → ${res.status} ${JSON.stringify(res.body)}`)
      }
    }
  }
  t.pass(`${requests} requests, none answered 5xx`)
  t.equal(Object.getPrototypeOf({}).polluted, undefined, 'no prototype polluted')
})
