import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { InstallationAuth } from '../src/app-auth/index.ts'
import { openApiDocument } from '../src/docs/openapi-document.ts'
import {
  StoreApiAuthenticationError,
  StoreApiNotFoundError,
  StoreApiPermissionError,
  StoreApiRetryableError,
  StoreApiValidationError,
  StoreClient,
} from '../src/store-api/index.ts'
import { startApp } from './helpers/app.ts'
import { bearer, developerKey, storeKey } from './helpers/apps.ts'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * The sample app of examples/low-stock-notifier, run as a developer runs it: the
 * SDK built by the project's own build (into a folder of this test's, so no other
 * test's build is disturbed), installed into a copy of the example by its own
 * package.json with npm offline, started with node as a child process, against a
 * real server and relay.
 */

const ROOT = process.cwd()
const STORE = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'

function run(command: string, args: string[], cwd: string): Promise<string> {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', command, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${output}`)))),
  )
}

/** sdk/ built into a folder of the test's, and the example copied beside it, as the example's `file:../../sdk` expects. */
async function exampleCopy(t: Test): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-example-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  await fs.mkdir(path.join(dir, 'sdk'))
  await fs.copyFile('sdk/package.json', path.join(dir, 'sdk/package.json'))
  // the build's own configuration; JavaScript only and no type check, which `npm test` did before it started
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc')
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(dir, 'sdk/dist'), '--noCheck', '--declaration', 'false'], ROOT)
  const example = path.join(dir, 'examples/low-stock-notifier')
  await fs.mkdir(example, { recursive: true })
  for (const file of ['package.json', 'app.json', 'app.mjs']) await fs.copyFile(path.join('examples/low-stock-notifier', file), path.join(example, file))
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock'], example)
  return example
}

t.test('the sample app: published, installed by a store, told of low stock, reads the product with its token, and is locked out by the uninstall', async (t) => {
  const [server, example] = await Promise.all([startApp(t, { AUTH: 'required' }), exampleCopy(t)])
  const api = (method: string, path: string, body: unknown, key?: string) => server.request(method, path, body, key ? bearer(key) : {})

  const served = await server.request('GET', '/openapi.json')
  t.same(served.body.paths, (await openApiDocument()).paths, 'the generators read the very routes and schemas /openapi.json serves')

  // --- the developer publishes the example's own manifest, pointed at where the app listens
  const port = await freePort()
  const developer = await developerKey(server)
  const manifest = JSON.parse(await fs.readFile(path.join(example, 'app.json'), 'utf8'))
  const published = await api('POST', '/api/apps', { ...manifest, webhook_url: `http://127.0.0.1:${port}/webhooks` }, developer)
  t.equal(published.status, 201, JSON.stringify(published.body))
  const { client_id, client_secret, signing_secret } = published.body

  // --- the app, as `npm run example:app` starts it
  const notes = path.join(example, 'notes.log')
  const state = path.join(example, 'state.json')
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, 'app.mjs'], {
    cwd: example,
    env: {
      ...process.env,
      PORT: String(port),
      BCS_API_URL: server.url,
      APP_CLIENT_ID: client_id,
      APP_CLIENT_SECRET: client_secret,
      APP_SIGNING_SECRET: signing_secret,
      NOTES_FILE: notes,
      STATE_FILE: state,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  await waitFor(() => output.includes('listening'), { message: `the app starts: ${output}` })
  const noted = () => fs.readFile(notes, 'utf8').catch(() => '')

  // --- a store with a product installs the app
  const store = await storeKey(server, STORE)
  const lamp = await api('POST', '/api/products', { name: 'Brass lamp', price: 49.5, inventory_quantity: 10, low_stock_threshold: 3 }, store)
  t.equal(lamp.status, 201)
  const installed = await api('POST', '/api/marketplace/low-stock-notifier/install', { accept_permissions: ['inventory:read', 'products:read'] }, store)
  t.equal(installed.status, 201, JSON.stringify(installed.body))
  const installationId: string = installed.body.id
  await waitFor(async () => (await noted()).includes(`installed in store ${STORE} (installation ${installationId}`), {
    message: `app.installed noted: ${output}`,
  })
  t.same(JSON.parse(await fs.readFile(state, 'utf8')), { [STORE]: installationId }, 'the app keeps the installation id app.installed gave it')

  // --- stock falls below the threshold: the app is told, reads the product with a token, writes the line
  const sold = await api('PUT', `/api/products/${lamp.body.id}/inventory`, { quantity: 2 }, store)
  t.equal(sold.status, 200)
  const line = await waitFor(async () => (await noted()).split('\n').find((l) => l.includes('is low on stock')), { message: `the note: ${output}` })
  // the price is not in inventory.low: the app read it from the API
  t.match(line, `store ${STORE}: "Brass lamp" is low on stock: 2 left (threshold 3, price 49.50, active)`)
  const tokens = await server.database.db
    .selectFrom('app_access_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('installation_id', '=', installationId)
    .executeTakeFirstOrThrow()
  t.equal(Number(tokens.n), 1, 'it minted one installation token for it')

  // the same credentials, through the same SDK, here: a token of the installation reads the store as granted
  const auth = new InstallationAuth({ apiUrl: server.url, clientId: client_id, clientSecret: client_secret })
  const client = new StoreClient({ apiUrl: server.url, auth: auth.forInstallation(installationId) })
  t.equal((await client.products.get(lamp.body.id)).inventory_quantity, 2)
  const held = await auth.token(installationId)

  // --- the store uninstalls: the app hears of it and forgets the installation, and the token it held is refused
  const removed = await api('DELETE', `/api/installations/${installationId}`, undefined, store)
  t.equal(removed.status, 204, JSON.stringify(removed.body))
  await waitFor(async () => (await noted()).includes(`uninstalled from store ${STORE}`), { message: `app.uninstalled noted: ${output}` })
  t.same(JSON.parse(await fs.readFile(state, 'utf8')), {}, 'the app forgot the installation')
  const refused = await new StoreClient({ apiUrl: server.url, auth: held }).products.get(lamp.body.id).catch((error: unknown) => error)
  t.ok(refused instanceof StoreApiAuthenticationError, `a token minted before the uninstall is refused: ${String(refused)}`)
  t.match(refused, { statusCode: 401, code: 'INVALID_ACCESS_TOKEN', route: 'GET /api/products/{id}' })
  // the helper still holds that token: refused once, dropped, and no new one is minted for the installation
  const first = await client.products.get(lamp.body.id).catch((error: unknown) => error)
  t.match(first, { statusCode: 401, code: 'INVALID_ACCESS_TOKEN' })
  const again = await client.products.get(lamp.body.id).catch((error: unknown) => error)
  t.ok(again instanceof StoreApiNotFoundError, `and no new token is minted for it: ${String(again)}`)
  t.match(again, { statusCode: 404, route: 'POST /api/apps/installations/{installation_id}/access_tokens' })
  t.equal(auth.mints, 2, 'the helper minted twice: the token it used, and the refused attempt')
  t.notMatch(output, /refused a delivery|failed:/, 'every delivery verified and handled')
})

t.test('the installation auth helper shares one mint among concurrent callers and refreshes before expiry; the store client maps refusals to typed errors', async (t) => {
  const server = await startApp(t, { AUTH: 'required' })
  const developer = await developerKey(server)
  const published = await server.request(
    'POST',
    '/api/apps',
    {
      slug: 'reader',
      name: 'Reader',
      version: '1.0.0',
      webhook_url: `http://127.0.0.1:${await freePort()}/webhooks`,
      permissions: [{ permission: 'products:read', purpose: 'Read products' }],
    },
    bearer(developer),
  )
  t.equal(published.status, 201)
  const store = await storeKey(server, STORE)
  const installed = await server.request('POST', '/api/marketplace/reader/install', { accept_permissions: ['products:read'] }, bearer(store))
  t.equal(installed.status, 201)
  const installationId: string = installed.body.id

  let clock = Date.now()
  const auth = new InstallationAuth({
    apiUrl: server.url,
    clientId: published.body.client_id,
    clientSecret: published.body.client_secret,
    now: () => clock,
  })
  const burst = await Promise.all(Array.from({ length: 20 }, () => auth.token(installationId)))
  t.equal(new Set(burst).size, 1, 'twenty concurrent callers get one token')
  t.equal(auth.mints, 1, 'from one request')
  t.equal(await auth.token(installationId), burst[0], 'and later callers get it from the cache')
  t.equal(auth.mints, 1)

  // 56 minutes on (tokens live an hour, refreshed 5 minutes before): a new one, minted once for a burst again
  clock += 56 * 60 * 1000
  const refreshed = await Promise.all(Array.from({ length: 10 }, () => auth.token(installationId)))
  t.equal(new Set(refreshed).size, 1)
  t.not(refreshed[0], burst[0], 'a fresh token before the old one expires')
  t.equal(auth.mints, 2, 'one more mint for the burst')
  const minted = await server.database.db.selectFrom('app_access_tokens').select('expires_at').where('installation_id', '=', installationId).execute()
  t.equal(minted.length, 2, 'the server minted exactly the two')

  const client = new StoreClient({ apiUrl: server.url, auth: auth.forInstallation(installationId) })
  // a token the server calls expired while the app's clock still trusts it (clocks drift): refused once, replaced at once
  await server.database.db.updateTable('app_access_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('installation_id', '=', installationId).execute()
  t.same(await client.products.list({ limit: 5 }), { products: [], next_cursor: null }, 'an expired token is replaced and the call succeeds')
  t.equal(auth.mints, 3, 'with one more mint')
  const listed = await client.products.list({ limit: 5 })
  t.same(listed, { products: [], next_cursor: null }, 'a typed read of the store, as granted')

  const write = await client.products.create({ name: 'Sneaky', price: 1 }).catch((error: unknown) => error)
  t.ok(write instanceof StoreApiPermissionError, String(write))
  t.match(write, { statusCode: 403, code: 'MISSING_PERMISSION', body: { permission: 'products:write' } }, 'a write without products:write')

  const invalid = await client.products.list({ limit: 0 }).catch((error: unknown) => error)
  t.ok(invalid instanceof StoreApiValidationError, String(invalid))
  t.match(invalid, { statusCode: 400, code: 'VALIDATION_ERROR', details: [{ field: 'limit', in: 'query', problem: /at least 1/ }] }, 'details name the field')

  const missing = await client.products.get('12345678-1234-4234-8234-123456789012').catch((error: unknown) => error)
  t.ok(missing instanceof StoreApiNotFoundError, String(missing))

  // the API unreachable while a token is due for refresh: the token, still valid, keeps working until it expires
  let down = false
  const proxy = http.createServer(async (request, response) => {
    if (down) return response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'down', code: 'SERVICE_UNAVAILABLE' }))
    const upstream = await fetch(server.url + request.url, { method: request.method, headers: { authorization: request.headers.authorization ?? '' } })
    response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => proxy.close())
  let proxyClock = Date.now()
  const viaProxy = new InstallationAuth({
    apiUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    clientId: published.body.client_id,
    clientSecret: published.body.client_secret,
    now: () => proxyClock,
  })
  const before = await viaProxy.token(installationId)
  down = true
  proxyClock += 57 * 60 * 1000
  t.equal(await viaProxy.token(installationId), before, 'the refresh failed (503): the cached token, not yet expired, is used')
  proxyClock += 4 * 60 * 1000
  const expired = await viaProxy.token(installationId).catch((error: unknown) => error)
  t.ok(expired instanceof StoreApiRetryableError, String(expired))
  t.match(expired, { statusCode: 503, retryAfterSeconds: 5 }, 'past its expiry, the outage is the caller’s to see')
  down = false
  t.not(await viaProxy.token(installationId), before, 'and once the API answers, a new token')

  const wrong = new InstallationAuth({ apiUrl: server.url, clientId: published.body.client_id, clientSecret: 'bcs_cs_wrong' })
  const denied = await wrong.token(installationId).catch((error: unknown) => error)
  t.ok(denied instanceof StoreApiAuthenticationError, String(denied))
  t.match(denied, { statusCode: 401, code: 'INVALID_CLIENT_CREDENTIALS' })
})
