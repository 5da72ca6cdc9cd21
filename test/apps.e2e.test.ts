import t from 'tap'
import { openSealedValue, verifyWebhook, type BetterCallSoldEvent } from '../src/receiver/index.ts'
import { startApp } from './helpers/app.ts'
import { admin, basic, bearer, manifest, startAppServer, storeKey, type Delivery } from './helpers/apps.ts'
import { waitFor } from './helpers/wait.ts'

const STORE_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
const STORE_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'

interface AppRun {
  tenant: string
  installationId: string
  apiKey: unknown
  token: string
  products: { status: number; body: any }
  write: { status: number; body: any }
}

t.test('a developer publishes, two stores find and install the app, and the app acts in each store only as granted, until uninstalled', async (t) => {
  const server = await startApp(t, { AUTH: 'required' })
  const api = (method: string, path: string, body?: unknown, key?: string | Record<string, string>) =>
    server.request(method, path, body, typeof key === 'string' ? bearer(key) : key)

  // --- the app: a real receiver that verifies each delivery, and on app.installed gets a token and uses the store API
  const credentials = { clientId: '', clientSecret: '', signingSecret: '' }
  const runs: AppRun[] = []
  const app = await startAppServer(t, async (delivery: Delivery) => {
    const event = verifyWebhook<BetterCallSoldEvent>(credentials.signingSecret, delivery.headers as Record<string, string>, delivery.body)
    if (event.event !== 'app.installed') return
    const minted = await api('POST', `/api/apps/installations/${event.data.installation_id}/access_tokens`, undefined, basic(credentials.clientId, credentials.clientSecret))
    if (minted.status !== 201) throw new Error(`token: ${minted.status} ${JSON.stringify(minted.body)}`)
    const token: string = minted.body.token
    const products = await api('GET', '/api/products', undefined, token)
    const write = await api('POST', '/api/products', { name: 'Sneaky', price: 1 }, token)
    const sealed = event.data.config.api_key as string
    runs.push({ tenant: event.tenant_id, installationId: event.data.installation_id, apiKey: openSealedValue(credentials.signingSecret, sealed), token, products, write })
  })

  // --- the operator creates the developer; the developer publishes two apps
  const { stdout } = await admin(server.database, 'developers', 'create', '--name', 'Acme Apps', '--json')
  const developer = JSON.parse(stdout)
  t.match(developer, { name: 'Acme Apps', key: /^bcs_dev_/ }, 'bin/admin prints the developer key once')
  const created = await api('POST', '/api/apps', { slug: 'inventory-sync', ...manifest(app.url) }, developer.key)
  t.equal(created.status, 201, JSON.stringify(created.body))
  t.match(created.body, { slug: 'inventory-sync', version: '1.0.0', client_id: /^app_/, client_secret: /^bcs_cs_/, signing_secret: /^whsec_/ })
  Object.assign(credentials, { clientId: created.body.client_id, clientSecret: created.body.client_secret, signingSecret: created.body.signing_secret })
  const analytics = await api(
    'POST',
    '/api/apps',
    {
      slug: 'analytics-pro',
      ...manifest(app.url, {
        name: 'Analytics Pro',
        tagline: 'Sales dashboards',
        description: 'Reports on what sells.',
        categories: ['analytics'],
        events: [],
        permissions: [{ permission: 'orders:read', purpose: 'Count sales' }],
        config_schema: { type: 'object', properties: {} },
      }),
    },
    developer.key,
  )
  t.equal(analytics.status, 201)

  // --- two stores, each with an admin key and a product of its own
  const keyA = await storeKey(server, STORE_A)
  const keyB = await storeKey(server, STORE_B)
  const productA = (await api('POST', '/api/products', { name: 'Red shoe', price: 10 }, keyA)).body
  const productB = (await api('POST', '/api/products', { name: 'Blue hat', price: 20 }, keyB)).body

  // --- discovery, one store with a typo each
  const foundA = await api('GET', '/api/marketplace?q=invntory', undefined, keyA)
  t.equal(foundA.status, 200)
  t.equal(foundA.body.apps[0]?.slug, 'inventory-sync', '"invntory" finds Inventory sync')
  t.equal(foundA.body.searched, 'inventory')
  const foundB = await api('GET', '/api/marketplace?q=analitycs', undefined, keyB)
  t.equal(foundB.body.apps[0]?.slug, 'analytics-pro', '"analitycs" finds Analytics Pro')
  const listing = await api('GET', '/api/marketplace/inventory-sync', undefined, keyA)
  t.match(listing.body.permissions, [{ permission: 'products:read', purpose: /warehouse/ }], 'the listing shows each permission with its purpose')

  // --- store A installs with config; defaults applied, the secret kept out of every GET
  const refused = await api('POST', '/api/marketplace/inventory-sync/install', { accept_permissions: [], config: { api_key: 'wh-secret-1' } }, keyA)
  t.match(refused, { status: 409, body: { code: 'PERMISSIONS_NOT_ACCEPTED' } })
  const installA = await api('POST', '/api/marketplace/inventory-sync/install', { accept_permissions: ['products:read'], config: { api_key: 'wh-secret-1' } }, keyA)
  t.equal(installA.status, 201, JSON.stringify(installA.body))
  t.same(installA.body.config, { warehouse: 'main', threshold: 5 }, 'defaults applied, the writeOnly value not shown')
  t.same(installA.body.secret_config_keys, ['api_key'])
  const runA = await waitFor(() => runs.find((r) => r.tenant === STORE_A), { message: 'the app to handle app.installed for store A' })
  t.same(app.errors, [], 'the app verified the signature and its calls went through')
  t.equal(runA.installationId, installA.body.id)
  t.equal(runA.apiKey, 'wh-secret-1', 'the writeOnly value reached the app, sealed for it')
  t.equal(runA.products.status, 200)
  t.same(runA.products.body.products.map((p: { id: string }) => p.id), [productA.id], 'the token reads store A’s products, and only those')
  t.match(runA.write, { status: 403, body: { code: 'MISSING_PERMISSION', permission: 'products:write', message: /products:write/ } })
  const installed = app.deliveries.find((d) => d.json.event === 'app.installed')!
  t.notOk(installed.body.includes('wh-secret-1'), 'the event body (shown in the events log) carries the secret sealed only')
  for (const path of ['/api/installations', `/api/installations/${installA.body.id}`, '/api/plugins', '/api/plugins/events']) {
    const res = await api('GET', path, undefined, keyA)
    t.notOk(JSON.stringify(res.body).includes('wh-secret-1'), `${path} never shows the writeOnly value`)
  }
  const plugins = (await api('GET', '/api/plugins', undefined, keyA)).body.plugins
  t.match(plugins, [{ slug: 'app-inventory-sync', app_installation_id: installA.body.id, webhook_url: app.url }], 'the subscription appears as a plugin, marked as the app’s')
  t.match(await api('PATCH', '/api/plugins/app-inventory-sync', { webhook_url: 'https://evil.example/x' }, keyA), { status: 403, body: { code: 'APP_PLUGIN' } })
  t.match(await api('GET', '/api/plugins/app-inventory-sync/secret', undefined, keyA), { status: 403, body: { code: 'APP_PLUGIN' } }, 'the app’s signing secret is not the store’s to read')

  // --- store B installs too; each token stays in its own store
  const installB = await api('POST', '/api/marketplace/inventory-sync/install', { accept_permissions: ['products:read'], config: { api_key: 'wh-secret-2', warehouse: 'north' } }, keyB)
  t.equal(installB.status, 201)
  const runB = await waitFor(() => runs.find((r) => r.tenant === STORE_B), { message: 'app.installed for store B' })
  t.same(runB.products.body.products.map((p: { id: string }) => p.id), [productB.id])
  t.match(await api('GET', `/api/products/${productB.id}`, undefined, runA.token), { status: 404 }, 'store A’s token does not see store B’s product')
  t.match(await api('GET', '/api/keys', undefined, runA.token), { status: 403, body: { code: 'NOT_ALLOWED_FOR_APPS' } })
  t.match(await api('GET', '/api/installations', undefined, runA.token), { status: 403, body: { code: 'NOT_ALLOWED_FOR_APPS' } })

  // --- the subscription works like any plugin's, for the installing store only
  await api('POST', '/api/products', { name: 'Green sock', price: 3 }, keyA)
  const created1 = await waitFor(() => app.deliveries.find((d) => d.json.event === 'product.created' && d.json.data.name === 'Green sock'), { message: 'product.created at the app' })
  t.equal(created1.json.tenant_id, STORE_A)
  verifyWebhook(credentials.signingSecret, created1.headers as Record<string, string>, created1.body)

  // --- uninstall: locked out at once, app.uninstalled delivered, the plugin gone from the store's list
  const deleted = await api('DELETE', `/api/installations/${installA.body.id}`, undefined, keyA)
  t.equal(deleted.status, 204)
  t.match(await api('GET', '/api/products', undefined, runA.token), { status: 401, body: { code: 'INVALID_ACCESS_TOKEN' } }, 'the next request with the token is refused')
  const minted = await api('POST', `/api/apps/installations/${installA.body.id}/access_tokens`, undefined, basic(credentials.clientId, credentials.clientSecret))
  t.equal(minted.status, 404, 'no new token for an uninstalled installation')
  const farewell = await waitFor(() => app.deliveries.find((d) => d.json.event === 'app.uninstalled'), { message: 'app.uninstalled at the app' })
  t.match(farewell.json, { tenant_id: STORE_A, data: { installation_id: installA.body.id, app: 'inventory-sync' } })
  verifyWebhook(credentials.signingSecret, farewell.headers as Record<string, string>, farewell.body)
  t.same((await api('GET', '/api/plugins', undefined, keyA)).body.plugins, [], 'the retired subscription is no longer the store’s plugin')
  t.equal((await api('GET', '/api/products', undefined, runB.token)).status, 200, 'store B’s installation is untouched')
  t.equal(app.deliveries.filter((d) => d.json.event?.startsWith('app.') && d.json.tenant_id === STORE_A).length, 2, 'store A’s lifecycle events went to this app only, once each')

  // --- reinstalling later works and is a new installation
  const again = await api('POST', '/api/marketplace/inventory-sync/install', { accept_permissions: ['products:read'], config: { api_key: 'wh-secret-3' } }, keyA)
  t.equal(again.status, 201)
  t.not(again.body.id, installA.body.id)
})
