import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { initApp } from '../src/cli/app-init.ts'
import { checkManifestLocally, type ManifestError } from '../src/cli/app-publish.ts'
import { startApp } from './helpers/app.ts'
import { bearer, developerKey, storeKey } from './helpers/apps.ts'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

const execute = promisify(execFile)
const STORE = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd'

/** `bin/app …` as a developer runs it (tap's loader taken out of NODE_OPTIONS): its exit code and what it printed. */
async function app(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin/app'), ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

t.test('bin/app init, publish and dev: a new app folder, refused with the server’s words until right, published, installed, and its handler run on verified deliveries', async (t) => {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-app-cli-'))
  t.teardown(() => fs.rm(work, { recursive: true, force: true }))
  const dir = path.join(work, 'stock-watch')
  const port = await freePort()
  // a manifest with a mistake, checked by a real `bin/app publish` while the server starts: it needs no server
  const broken = path.join(work, 'broken')
  await fs.mkdir(broken)
  await fs.writeFile(path.join(broken, 'app.json'), JSON.stringify({ slug: 'broken', name: 'Broken', version: '1.0.0', webhook_url: 'http://127.0.0.1:1/hook', listed: 'yes' }))
  // every bin/app start costs seconds on a busy machine: what does not depend on another runs side by side
  const [server, init, refused] = await Promise.all([
    startApp(t, { AUTH: 'required' }),
    app({}, 'init', dir, '--port', String(port)),
    app({ BCS_API_URL: 'http://127.0.0.1:1', BCS_DEVELOPER_KEY: 'bcs_dev_unused' }, 'publish', broken),
  ])
  const env = { BCS_API_URL: server.url, BCS_DEVELOPER_KEY: await developerKey(server) }

  // --- init
  t.equal(init.code, 0, init.stderr)
  t.same((await fs.readdir(dir)).sort(), ['.gitignore', 'app.json', 'handler.mjs'])
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'app.json'), 'utf8'))
  t.match(manifest, { slug: 'stock-watch', version: '0.1.0', webhook_url: `http://127.0.0.1:${port}/webhooks` }, 'the slug from the folder, the URL from --port')
  await t.rejects(initApp(dir, { port }), /exists already/, 'init never overwrites a manifest')

  // --- publish refuses what the server refuses, in the server's words (the field named), before calling it
  t.equal(refused.code, 1)
  t.equal(refused.stderr.trim(), 'app.json refused (VALIDATION_ERROR): listed must be true or false; got "yes"', 'bin/app publish names the field')
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['a field of the wrong type', { ...manifest, listed: 'yes' }, /VALIDATION_ERROR/],
    ['a missing field', { ...manifest, name: undefined }, /VALIDATION_ERROR/],
    ['an unknown field', { ...manifest, colour: 'red' }, /VALIDATION_ERROR/],
    ['an unknown event', { ...manifest, events: ['product.exploded'] }, /UNKNOWN_EVENT/],
    ['an event without its permission', { ...manifest, events: ['order.created'] }, /PERMISSION_REQUIRED_FOR_EVENT/],
    ['a config schema outside the subset', { ...manifest, config_schema: { type: 'object', properties: { region: { type: 'string', pattern: 5 } } } }, /INVALID_CONFIG_SCHEMA/],
    ['unsafe Markdown', { ...manifest, description: '<img src=x onerror=alert(1)>' }, /UNSAFE_MARKDOWN/],
  ]
  for (const [what, manifestWithMistake, code] of refusals) {
    const local = (() => {
      try {
        checkManifestLocally(JSON.parse(JSON.stringify(manifestWithMistake)))
      } catch (error) {
        return error as ManifestError
      }
    })()
    const remote = await server.request('POST', '/api/apps', manifestWithMistake, bearer(env.BCS_DEVELOPER_KEY))
    t.match(remote.body.code, code, `${what}: the server refuses it`)
    t.match(local, { code: remote.body.code, message: remote.body.message }, `${what}: and the local check, in the same words (${remote.body.message})`)
  }
  const apps = await server.database.db.selectFrom('apps').select('slug').execute()
  t.same(apps, [], 'nothing was published')

  // --- publish: created, credentials written for the developer only
  await fs.writeFile(path.join(dir, 'app.json'), JSON.stringify(manifest, null, 2))
  const published = await app(env, 'publish', dir)
  t.equal(published.code, 0, published.stderr)
  t.match(published.stdout, /Created app stock-watch 0\.1\.0 \(client_id app_/)
  const credentialsFile = path.join(dir, '.credentials.json')
  t.equal((await fs.stat(credentialsFile)).mode & 0o777, 0o600, 'credentials readable by the developer only')
  const credentials = JSON.parse(await fs.readFile(credentialsFile, 'utf8'))
  t.match(credentials, { slug: 'stock-watch', client_id: /^app_/, client_secret: /^bcs_cs_/, signing_secret: /^whsec_/, api_url: server.url })

  // --- dev: the handler behind a verifying receiver
  const dev = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin/app'), 'dev', dir], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => dev.kill('SIGKILL'))
  let output = ''
  dev.stdout.on('data', (chunk) => (output += chunk))
  dev.stderr.on('data', (chunk) => (output += chunk))
  await waitFor(() => output.includes(`listening on http://127.0.0.1:${port}/webhooks`), { message: `bin/app dev starts: ${output}` })

  const store = await storeKey(server, STORE)
  const installed = await server.request('POST', '/api/marketplace/stock-watch/install', { accept_permissions: ['products:read'] }, bearer(store))
  t.equal(installed.status, 201, JSON.stringify(installed.body))
  await waitFor(() => output.includes(`installed in store ${STORE}: installation ${installed.body.id}`), { message: `app.installed handled: ${output}` })
  const created = await server.request('POST', '/api/products', { name: 'Wool scarf', price: 35 }, bearer(store))
  t.equal(created.status, 201)
  await waitFor(() => output.includes('new product "Wool scarf" at 35 (0 in stock)'), { message: `product.created handled through the store API: ${output}` })
  t.match(output, /→ product\.created dlv_\S+ store dddddddd/, 'each event printed')
  t.match(output, /✔ product\.created dlv_\S+ handled/)

  // a delivery signed with another secret is refused, and the handler never sees it
  const forged = new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64'))
  const body = JSON.stringify({ event: 'product.created', tenant_id: STORE, timestamp: new Date().toISOString(), data: {} })
  const headers = forged.sign('msg_forged', new Date(), body)
  const answer = await fetch(`http://127.0.0.1:${port}/webhooks`, {
    method: 'POST',
    headers: { 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': headers, 'content-type': 'application/json' },
    body,
  })
  t.equal(answer.status, 400)
  await waitFor(() => output.includes('✘ refused a delivery: no_matching_signature'), { message: output })

  // --- publish again: a new version, which the installation follows (it asks for nothing more)
  await fs.writeFile(path.join(dir, 'app.json'), JSON.stringify({ ...manifest, version: '0.2.0' }, null, 2))
  const again = await app(env, 'publish', dir)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, "Published stock-watch 0.2.0: 1 installation(s) moved to it, 0 wait for their store's approval.")
})
