import t from 'tap'
import { EVENT_TYPES } from '../src/events/catalog.ts'
import { runMaintenance } from '../src/relay/maintenance.ts'
import { openSealedValue, verifyWebhook } from '../src/receiver/index.ts'
import { startApp } from './helpers/app.ts'
import { basic, bearer, developerKey, manifest, startAppServer, storeKey } from './helpers/apps.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

const STORE_A = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee'
const STORE_B = 'ffffffff-ffff-4fff-8fff-ffffffffffff'

t.test('upgrades, config changes, approvals, reviews and the developer’s view', async (t) => {
  const server = await startApp(t, { AUTH: 'required' })
  const app = await startAppServer(t)
  const storePlugin = await startReceiver(t)
  const api = (method: string, path: string, body?: unknown, key?: string) => server.request(method, path, body, key ? bearer(key) : undefined)
  const dev = await developerKey(server)
  const keyA = await storeKey(server, STORE_A)
  const keyB = await storeKey(server, STORE_B)
  const created = (await api('POST', '/api/apps', { slug: 'sync', ...manifest(app.url) }, dev)).body
  const events = (type: string, tenant?: string) => app.deliveries.filter((d) => d.json.event === type && (!tenant || d.json.tenant_id === tenant))

  // a store's own plugin subscribed to every event never sees an app's lifecycle
  await api('POST', '/api/plugins', { name: 'Everything', slug: 'everything', webhook_url: storePlugin.url, events: EVENT_TYPES.map((e) => e.name) }, keyA)
  const a = (await api('POST', '/api/marketplace/sync/install', { accept_permissions: ['products:read'], config: { api_key: 'first-key-1' } }, keyA)).body
  const b = (await api('POST', '/api/marketplace/sync/install', { accept_permissions: ['products:read'], config: { api_key: 'other-key-2' } }, keyB)).body
  await waitFor(() => events('app.installed').length === 2, { message: 'two app.installed' })

  // config: writeOnly values left out keep their value; the app hears app.config_updated
  const patched = await api('PATCH', `/api/installations/${a.id}`, { config: { warehouse: 'north' } }, keyA)
  t.match(patched.body, { config: { warehouse: 'north', threshold: 5 }, secret_config_keys: ['api_key'] })
  const updated = await waitFor(() => events('app.config_updated')[0], { message: 'app.config_updated' })
  t.match(updated.json.data, { installation_id: a.id, config: { warehouse: 'north' } })
  t.equal(openSealedValue(created.signing_secret, updated.json.data.config.api_key), 'first-key-1', 'the kept secret, sealed for the app')

  // a version within what was granted: every installation follows at once
  const v11 = await api('PUT', '/api/apps/sync', manifest(app.url, { version: '1.1.0', events: ['product.created', 'product.updated'] }), dev)
  t.match(v11.body, { app: { version: '1.1.0' }, installations: { followed: 2, pending: 0 } })
  t.match((await api('GET', `/api/installations/${a.id}`, undefined, keyA)).body, { version: '1.1.0', pending_permissions: null })
  t.match((await api('GET', '/api/plugins/app-sync', undefined, keyA)).body, { events: ['product.created', 'product.updated'] }, 'the subscription follows the version')

  // a version asking for more: installations stay, pending, until their store approves
  const v2 = await api(
    'PUT',
    '/api/apps/sync',
    manifest(app.url, {
      version: '2.0.0',
      events: ['product.created', 'order.created'],
      permissions: [
        { permission: 'products:read', purpose: 'Match products' },
        { permission: 'orders:read', purpose: 'See what sold' },
      ],
    }),
    dev,
  )
  t.match(v2.body, { installations: { followed: 0, pending: 2 } })
  const pending = (await api('GET', `/api/installations/${a.id}`, undefined, keyA)).body
  t.match(pending, { version: '1.1.0', permissions: ['products:read'], pending_version: '2.0.0', pending_permissions: ['products:read', 'orders:read'] })
  const auth = basic(created.client_id, created.client_secret)
  const token = (await server.request('POST', `/api/apps/installations/${a.id}/access_tokens`, undefined, auth)).body.token
  t.match(await server.request('GET', '/api/orders', undefined, bearer(token)), { status: 403, body: { permission: 'orders:read' } }, 'not granted until approved')
  const approved = await api('POST', `/api/installations/${a.id}/approve`, undefined, keyA)
  t.match(approved.body, { version: '2.0.0', permissions: ['products:read', 'orders:read'], pending_version: null })
  t.equal((await server.request('GET', '/api/orders', undefined, bearer(token))).status, 200, 'the same token reads orders the moment the store approves')
  const permissionsUpdated = await waitFor(() => events('app.permissions_updated', STORE_A)[0], { message: 'app.permissions_updated' })
  verifyWebhook(created.signing_secret, permissionsUpdated.headers as Record<string, string>, permissionsUpdated.body)
  t.match(permissionsUpdated.json.data, { version: '2.0.0', permissions: ['products:read', 'orders:read'], previous_permissions: ['products:read'] })
  t.match((await api('GET', `/api/installations/${b.id}`, undefined, keyB)).body, { version: '1.1.0', pending_version: '2.0.0' }, 'store B still decides for itself')

  // reviews: only installers, one per store, replaced on a second post
  t.equal((await api('POST', '/api/marketplace/sync/reviews', { rating: 2, body: 'meh' }, keyA)).status, 201)
  t.equal((await api('POST', '/api/marketplace/sync/reviews', { rating: 5, body: 'great now' }, keyA)).status, 200)
  t.equal((await api('POST', '/api/marketplace/sync/reviews', { rating: 4 }, keyB)).status, 201)
  const listing = (await api('GET', '/api/marketplace/sync', undefined, keyA)).body
  t.match(listing, { rating: 4.5, review_count: 2, installs: 2, versions: [{ version: '2.0.0' }, { version: '1.1.0' }, { version: '1.0.0' }] })
  t.same(listing.reviews.map((r: { rating: number }) => r.rating).sort(), [4, 5])

  // the developer's view: each installation, its permissions, and delivery health over the day
  await api('POST', '/api/products', { name: 'Hat', price: 1 }, keyA)
  await waitFor(() => events('product.created', STORE_A).length === 1, { message: 'product.created at the app' })
  const view = await waitFor(async () => {
    const res = (await api('GET', '/api/apps/sync/installations', undefined, dev)).body
    const mine = res.installations.find((i: { installation_id: string }) => i.installation_id === a.id)
    return mine?.health.sent >= 4 ? res : null
  }, { message: 'store A’s deliveries counted as sent' })
  t.equal(view.installations.length, 2)
  t.match(view.installations.find((i: { tenant_id: string }) => i.tenant_id === STORE_B), { pending_version: '2.0.0', pending_permissions: ['products:read', 'orders:read'], health: { failed: 0 } })
  t.match(view.installations.find((i: { tenant_id: string }) => i.tenant_id === STORE_A), { status: 'active', version: '2.0.0', health: { failed: 0, success_rate: 1 } })

  // a version asking for less: store A narrows at once (and is told), store B's pending 2.0.0 gives way to it
  const v3 = await api('PUT', '/api/apps/sync', manifest(app.url, { version: '3.0.0' }), dev)
  t.match(v3.body, { installations: { followed: 2, pending: 0 } })
  t.match((await api('GET', `/api/installations/${a.id}`, undefined, keyA)).body, { version: '3.0.0', permissions: ['products:read'] })
  t.match((await api('GET', `/api/installations/${b.id}`, undefined, keyB)).body, { version: '3.0.0', pending_version: null, pending_permissions: null })
  const narrowed = await waitFor(() => events('app.permissions_updated', STORE_A).find((d) => d.json.data.version === '3.0.0'), { message: 'the narrowing told' })
  t.same(narrowed.json.data.previous_permissions, ['products:read', 'orders:read'])
  t.equal(events('app.permissions_updated', STORE_B).length, 0, 'store B’s permissions did not change: nothing to tell')

  // client secret rotation: both work during the grace period
  const rotated = (await api('POST', '/api/apps/sync/client-secret/rotate', undefined, dev)).body
  t.match(rotated, { client_id: created.client_id, client_secret: /^bcs_cs_/, previous_expires_at: String })
  for (const secret of [created.client_secret, rotated.client_secret]) {
    t.equal((await server.request('POST', `/api/apps/installations/${b.id}/access_tokens`, undefined, basic(created.client_id, secret))).status, 201)
  }

  // uninstalled: the retired plugin is deleted once its farewell is delivered; the store can still review
  await api('DELETE', `/api/installations/${a.id}`, undefined, keyA)
  await waitFor(() => events('app.uninstalled', STORE_A).length === 1, { message: 'app.uninstalled' })
  await waitFor(async () => (await server.database.db.selectFrom('deliveries').select('status').where('status', 'in', ['pending', 'retry']).execute()).length === 0)
  await runMaintenance(server.database.db, 30)
  const retired = await server.database.db.selectFrom('plugins').select(['status', 'retired_at']).where('app_installation_id', '=', a.id).executeTakeFirstOrThrow()
  t.match(retired, { status: 'deleted', retired_at: Date }, 'housekeeping deletes the retired plugin once it has nothing left to deliver')
  t.equal((await api('POST', '/api/marketplace/sync/reviews', { rating: 3 }, keyA)).status, 200, 'a store that had the app may still review it')
  t.equal((await api('GET', '/api/marketplace/sync', undefined, keyA)).body.installs, 1)

  t.same(storePlugin.received.filter((r) => String(r.json?.event).startsWith('app.')), [], 'the store’s own plugin received no app lifecycle event')
})
