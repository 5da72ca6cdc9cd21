import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { createLogger } from '../src/logger.ts'
import { verifyWebhook } from '../src/receiver/index.ts'
import { createCipher, SecretDecryptionError, SecretsKeyError } from '../src/secrets/cipher.ts'
import { loadSecretCipher } from '../src/secrets/secrets-key.ts'
import { startService } from '../src/service.ts'
import { generateSecret } from '../src/webhooks/signature.ts'
import { startApp, testConfig, type TestApp } from './helpers/app.ts'
import { rowCounts, testDatabase, type TestDatabase } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/
const newKey = () => randomBytes(32).toString('base64')

const plugin = (url: string, slug = 'vault') => ({ name: 'Vault', slug, webhook_url: url, events: ['product.created', 'product.updated'] })

async function register(app: Pick<TestApp, 'request'>, url: string, slug = 'vault'): Promise<string> {
  const res = await app.request('POST', '/api/plugins', plugin(url, slug))
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`)
  return res.body.secret
}

/** The service as startApp runs it, but logging everything (trace) into `lines`, through the real redaction. */
async function startLogged(t: Test, overrides: Parameters<typeof testConfig>[1] = {}) {
  const database = await testDatabase(t)
  const config = testConfig(database, { LOG_LEVEL: 'trace', ...overrides })
  const lines: string[] = []
  const logger = createLogger(config, { destination: { write: (line: string) => void lines.push(line) } })
  const service = await startService(config, logger)
  t.teardown(() => service.stop())
  const base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, text, body: text ? JSON.parse(text) : undefined, headers: res.headers }
  }
  return { service, database, config, logger, lines, request }
}

/** Every row of every table as text, as a raw select would show it. */
async function everythingStored(database: TestDatabase): Promise<string> {
  const { rows } = await sql<{ dump: string }>`
    select string_agg(query_to_xml(format('select * from %I', c.relname), true, false, '')::text, '') as dump
      from pg_class c join pg_namespace s on s.oid = c.relnamespace
     where s.nspname = 'public' and c.relkind = 'r'
  `.execute(database.db)
  return rows[0]!.dump
}

t.test('registration returns a whsec_ secret once, and GET /secret returns it on demand', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const created = await app.request('POST', '/api/plugins', plugin('https://vault.example/hook'))
  t.equal(created.status, 201)
  t.match(created.body.secret, SECRET, 'whsec_ + base64 of 32 bytes')
  t.equal(Buffer.from(created.body.secret.slice(6), 'base64').length, 32)
  t.equal(created.headers.get('cache-control'), 'no-store', 'not kept by caches')

  const read = await app.request('GET', '/api/plugins/vault/secret')
  t.equal(read.status, 200)
  t.same(read.body, { secret: created.body.secret })
  t.equal(read.headers.get('cache-control'), 'no-store')

  const other = await register(app, 'https://vault.example/other', 'other')
  t.not(other, created.body.secret, 'each plugin has its own secret')
  t.equal((await app.request('GET', '/api/plugins/nope/secret')).body.code, 'NOT_FOUND')
  t.equal((await app.request('POST', '/api/plugins/nope/secret/rotate')).body.code, 'NOT_FOUND')
  await app.request('DELETE', '/api/plugins/other')
  t.equal((await app.request('GET', '/api/plugins/other/secret')).status, 404, 'a deleted plugin has no secret to read')
})

t.test('rotation: a new current secret, the previous one dated to expire after the grace, bad input refused', async (t) => {
  const app = await startApp(t, { RELAY: 'off', SECRET_ROTATION_GRACE_MS: '600000' })
  const first = await register(app, 'https://vault.example/hook')

  const before = Date.now()
  const rotated = await app.request('POST', '/api/plugins/vault/secret/rotate')
  t.equal(rotated.status, 200)
  t.match(rotated.body.secret, SECRET)
  t.not(rotated.body.secret, first)
  const expires = Date.parse(rotated.body.previous_secret_expires_at)
  t.ok(expires >= before + 600_000 - 1000 && expires <= Date.now() + 600_000 + 1000, 'previous secret expires SECRET_ROTATION_GRACE_MS from now')
  t.equal((await app.request('GET', '/api/plugins/vault/secret')).body.secret, rotated.body.secret, 'GET returns the new one')

  const own = generateSecret()
  const brought = await app.request('POST', '/api/plugins/vault/secret/rotate', { secret: own.slice('whsec_'.length) })
  t.equal(brought.body.secret, own, 'a secret brought without its prefix is stored and returned as whsec_…')
  t.equal((await app.request('GET', '/api/plugins/vault/secret')).body.secret, own)

  const stored = await rowCounts(app.database.db)
  const bad: [string, unknown, string, RegExp?][] = [
    ['not base64', { secret: 'whsec_not base64!' }, 'INVALID_SECRET', /base64/],
    ['too short a key', { secret: `whsec_${randomBytes(16).toString('base64')}` }, 'INVALID_SECRET', /24-64 bytes, got 16/],
    ['too long a key', { secret: `whsec_${randomBytes(65).toString('base64')}` }, 'INVALID_SECRET', /got 65/],
    ['not a string', { secret: 42 }, 'VALIDATION_ERROR'],
    ['unknown property', { secret: own, grace: 1 }, 'VALIDATION_ERROR', /grace/],
  ]
  for (const [name, body, code, message] of bad) {
    const res = await app.request('POST', '/api/plugins/vault/secret/rotate', body)
    t.equal(res.status, 400, `${name}: 400`)
    t.equal(res.body.code, code, `${name}: ${code}`)
    if (message) t.match(res.body.message, message, `${name}: says why`)
  }
  t.same(await rowCounts(app.database.db), stored, 'refused rotations changed nothing')
  t.equal((await app.request('GET', '/api/plugins/vault/secret')).body.secret, own, 'the current secret is unchanged')
})

t.test('the secret appears in no other response, in no log line, and nowhere in the database in clear', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startLogged(t)
  const secret = (await app.request('POST', '/api/plugins', plugin(receiver.url))).body.secret as string
  const rotated = (await app.request('POST', '/api/plugins/vault/secret/rotate')).body.secret as string
  t.equal((await app.request('GET', '/api/plugins/vault/secret')).body.secret, rotated)

  // everything else a client can ask for, with deliveries signed by both secrets in the log
  const product = (await app.request('POST', '/api/products', { name: 'Quiet', price: 5 })).body
  await receiver.waitForCount(1)
  const others: [string, Awaited<ReturnType<typeof app.request>>][] = [
    ['GET /api/plugins', await app.request('GET', '/api/plugins')],
    ['GET /api/plugins/vault', await app.request('GET', '/api/plugins/vault')],
    ['PUT /api/plugins/vault', await app.request('PUT', '/api/plugins/vault', { name: 'Vault 2' })],
    ['POST /api/plugins/vault/test', await app.request('POST', '/api/plugins/vault/test')],
    ['PATCH /api/products/:id', await app.request('PATCH', `/api/products/${product.id}`, { price: 6 })],
    ['GET /api/products', await app.request('GET', '/api/products')],
    ['GET /api/event-types', await app.request('GET', '/api/event-types')],
    ['POST /api/plugins/events', await app.request('POST', '/api/plugins/events')],
  ]
  await receiver.waitForCount(3)
  await waitFor(async () => (await app.request('GET', '/api/plugins/events')).body.events.every((e: { status: string }) => e.status === 'sent'), {
    message: 'every delivery sent',
  })
  const log = await app.request('GET', '/api/plugins/events')
  others.push(['GET /api/plugins/events', log], ['GET /api/plugins/events/:id', await app.request('GET', `/api/plugins/events/${log.body.events[0].id}`)])
  t.ok(verifyWebhook(rotated, receiver.received[0]!.headers, receiver.received[0]!.body), 'deliveries were signed with it')

  // a secret written to the log by mistake, under the conventional key, is redacted
  app.logger.info({ plugin: { slug: 'vault', secret } }, 'careless line')

  const keyBodies = [secret, rotated].map((s) => s.slice('whsec_'.length))
  for (const [name, res] of others) {
    t.ok(res.status < 300, `${name}: succeeded (${res.status})`)
    t.notOk(keyBodies.some((k) => res.text.includes(k)) || res.text.includes('whsec_'), `${name}: no secret in the response`)
  }
  const logText = app.lines.join('')
  t.match(logText, /Webhook sent successfully/, 'the log was captured (deliveries are in it)')
  t.match(logText, /"careless line"/)
  t.match(logText, /"secret":"\[redacted\]"/, 'the careless secret is redacted')
  for (const k of keyBodies) t.notOk(logText.includes(k), 'no secret in any log line')
  t.notOk(logText.includes('whsec_'), 'no whsec_ in any log line')

  const dump = await everythingStored(app.database)
  t.ok(dump.includes('Quiet'), 'the dump holds the data (sanity)')
  for (const k of keyBodies) t.notOk(dump.includes(k), 'no secret in clear anywhere in the database')
  t.notOk(dump.includes('whsec_'), 'no whsec_ anywhere in the database')
  const rows = await app.database.db.selectFrom('plugin_secrets').select('ciphertext').execute()
  t.equal(rows.length, 2, 'the current secret and the one in its grace window')
  for (const { ciphertext } of rows) {
    t.match(ciphertext, /^v2:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/, 'AES-256-GCM, versioned, bound to its plugin')
    t.throws(() => createCipher(randomBytes(32)).decrypt(ciphertext), SecretDecryptionError, 'unreadable without the key')
  }
})

t.test('SECRETS_KEY: production requires it, and a key that cannot read the stored secrets stops the start', async (t) => {
  const database = await testDatabase(t)
  const silent = createLogger({ LOG_LEVEL: 'silent' })
  await t.rejects(
    loadSecretCipher({ NODE_ENV: 'production', DATA_DIR: t.testdir(), SECRETS_KEY: undefined }),
    new SecretsKeyError('SECRETS_KEY is required when NODE_ENV=production; generate one with: openssl rand -base64 32'),
    'production without SECRETS_KEY (startService loads it before anything else)',
  )
  await t.rejects(startService(testConfig(database, { SECRETS_KEY: 'too-short' }), silent), SecretsKeyError, 'a malformed key')

  const key = newKey()
  const first = await startService(testConfig(database, { SECRETS_KEY: key, RELAY: 'off' }), silent)
  const base = `http://127.0.0.1:${(first.app.server.address() as AddressInfo).port}`
  const created = await fetch(`${base}/api/plugins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(plugin('https://vault.example/hook')),
  })
  t.equal(created.status, 201)
  await first.stop()

  await t.rejects(
    startService(testConfig(database, { SECRETS_KEY: newKey(), RELAY: 'off' }), silent),
    { name: 'SecretsKeyError', message: /SECRETS_KEY cannot decrypt the plugin secrets stored in this database/ },
    'another key is refused at start, not discovered at the first delivery',
  )
  const again = await startService(testConfig(database, { SECRETS_KEY: key, RELAY: 'off' }), silent)
  await again.stop()
  t.pass('the right key starts')
})

t.test('a secret that cannot be decrypted fails its delivery with the reason and sends nothing', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY: 'off' })
  await register(app, receiver.url)
  t.equal((await app.request('POST', '/api/plugins/vault/test')).body.success, true, 'signed and sent while the key matches')
  // a row written under another key (say, by a process configured with the wrong SECRETS_KEY)
  const foreign = createCipher(randomBytes(32)).encrypt(generateSecret())
  await app.database.db.updateTable('plugin_secrets').set({ ciphertext: foreign }).execute()

  const res = await app.request('POST', '/api/plugins/vault/test')
  t.match(res.body, { success: false, status_code: null, error: /^not sent, cannot sign: secrets cannot be decrypted with this SECRETS_KEY/ })
  t.equal(receiver.received.length, 1, 'nothing unsigned or wrongly signed reached the receiver')
  const [logged] = (await app.request('GET', '/api/plugins/events')).body.events
  t.match(logged, { status: 'failed', last_error: /cannot sign/ }, 'the events log says why')
})

t.test('a plugin stored without a secret gets one when first needed, and its deliveries are signed with it', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  // as a plugin registered before signing existed, or written straight into the table
  await app.database.db
    .insertInto('plugins')
    .values({ tenant_id: '11111111-1111-1111-1111-111111111111', slug: 'legacy', name: 'Legacy', webhook_url: receiver.url, events: ['product.created'] })
    .execute()
  await app.request('POST', '/api/products', { name: 'First signed' })
  const [hook] = await receiver.waitForCount(1)
  const secret = (await app.request('GET', '/api/plugins/legacy/secret')).body.secret
  t.match(secret, SECRET)
  t.equal(verifyWebhook(secret, hook!.headers, hook!.body).event, 'product.created', 'the relay created the secret and signed with it')
  t.equal((await app.database.db.selectFrom('plugin_secrets').select('id').execute()).length, 1, 'exactly one secret was created')
})

t.test('a grace beyond 2^31 ms (~24.8 days) rotates like any other: the longest allowed grace, 30 days', async (t) => {
  const graceMs = 30 * 24 * 3600 * 1000
  const app = await startApp(t, { RELAY: 'off', SECRET_ROTATION_GRACE_MS: String(graceMs) })
  await register(app, 'https://vault.example/hook')
  const before = Date.now()
  const rotated = await app.request('POST', '/api/plugins/vault/secret/rotate')
  t.equal(rotated.status, 200, JSON.stringify(rotated.body))
  const expires = Date.parse(rotated.body.previous_secret_expires_at)
  t.ok(expires >= before + graceMs - 1000 && expires <= Date.now() + graceMs + 1000, 'the previous secret signs for 30 days')
})

t.test('a ciphertext moved to another plugin does not decrypt; secrets stored unbound are bound at start', async (t) => {
  const database = await testDatabase(t)
  const first = await startApp(t, { RELAY: 'off' }, database)
  const secretA = await register(first, 'https://a.example/hook', 'a')
  await register(first, 'https://b.example/hook', 'b')
  const id = async (slug: string) => (await sql<{ id: string }>`select id from plugins where slug = ${slug}`.execute(database.db)).rows[0]!.id

  // someone who can write rows moves A's current secret onto B, to read it through B
  const [a, b] = [await id('a'), await id('b')]
  await sql`delete from plugin_secrets where plugin_id = ${b}`.execute(database.db)
  await sql`update plugin_secrets set plugin_id = ${b} where plugin_id = ${a}`.execute(database.db)
  const moved = await first.request('GET', '/api/plugins/b/secret')
  t.equal(moved.status, 500, 'refused')
  t.notOk(JSON.stringify(moved.body).includes(secretA.slice(6)), "A's secret is not served")
  await sql`update plugin_secrets set plugin_id = ${a} where plugin_id = ${b}`.execute(database.db)

  // rows written before binding: what an earlier version stored (v1, no associated data)
  const cipher = await loadSecretCipher(testConfig(database))
  const legacy = generateSecret()
  await sql`update plugin_secrets set ciphertext = ${cipher.encrypt(legacy)} where plugin_id = ${a}`.execute(database.db)
  const second = await startApp(t, { RELAY: 'off' }, database)
  const rows = (await sql<{ ciphertext: string }>`select ciphertext from plugin_secrets`.execute(database.db)).rows
  t.ok(rows.every((r) => r.ciphertext.startsWith('v2:')), 'every row is bound after the start')
  t.equal((await second.request('GET', '/api/plugins/a/secret')).body.secret, legacy, 'and reads as the same secret')
})
