import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Webhook } from 'standardwebhooks'
import {
  verifyWebhook,
  WebhookHeaderError,
  WebhookSignatureError,
  WebhookTimestampError,
  type BetterCallSoldEvent,
} from '../src/receiver/index.ts'
import { generateSecret } from '../src/webhooks/signature.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { startReceiver, type Received } from './helpers/receiver.ts'
import { spawnRelay } from './helpers/relay-process.ts'
import { waitFor } from './helpers/wait.ts'

async function register(app: TestApp, url: string, slug = 'signed'): Promise<string> {
  const res = await app.request('POST', '/api/plugins', {
    name: 'Signed',
    slug,
    webhook_url: url,
    events: ['product.created', 'product.updated', 'product.deleted'],
  })
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`)
  return res.body.secret
}

async function rotate(app: TestApp, slug = 'signed', body?: unknown) {
  const res = await app.request('POST', `/api/plugins/${slug}/secret/rotate`, body)
  if (res.status !== 200) throw new Error(`rotate failed: ${JSON.stringify(res.body)}`)
  return res.body as { secret: string; previous_secret_expires_at: string | null }
}

const signatures = (r: Received) => String(r.headers['webhook-signature']).split(' ')

/** The three headers as the standardwebhooks package wants them. */
const swHeaders = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
})

/** Verified by our SDK and by the independent standardwebhooks package, with this secret alone. */
function verifiesWith(t: Test, secret: string, r: Received, name: string): void {
  t.strictSame(verifyWebhook(secret, r.headers, r.body), JSON.parse(r.body), `${name}: our SDK`)
  t.strictSame(new Webhook(secret).verify(r.body, swHeaders(r)), JSON.parse(r.body), `${name}: standardwebhooks`)
}

function refusedWith(t: Test, secret: string, r: Received, name: string): void {
  t.throws(() => verifyWebhook(secret, r.headers, r.body), WebhookSignatureError, `${name}: our SDK refuses`)
  t.throws(() => new Webhook(secret).verify(r.body, swHeaders(r)), /No matching signature/, `${name}: standardwebhooks refuses`)
}

t.test('a live delivery verifies with our SDK and with the standardwebhooks package', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  const secret = await register(app, receiver.url)
  const before = Math.floor(Date.now() / 1000)
  await app.request('POST', '/api/products', { name: 'Signed Product', price: 19.99 })
  const [hook] = await receiver.waitForCount(1)

  const [logged] = (await app.request('GET', '/api/plugins/events')).body.events
  t.equal(hook!.headers['webhook-id'], logged.webhook_id, 'webhook-id is the delivery id of the events log')
  t.match(hook!.headers['webhook-id'], /^dlv_\d+$/, 'no "." in the id (it is the separator of the signed content)')
  const timestamp = Number(hook!.headers['webhook-timestamp'])
  t.ok(timestamp >= before && timestamp <= Math.floor(Date.now() / 1000), 'webhook-timestamp is unix seconds of the attempt')
  t.equal(signatures(hook!).length, 1, 'one signature while there is one secret')
  t.match(hook!.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/)

  verifiesWith(t, secret, hook!, 'the delivery')
  const event: BetterCallSoldEvent = verifyWebhook(secret, hook!.headers, Buffer.from(hook!.body))
  if (event.event !== 'product.created') throw new Error(`expected product.created, got ${event.event}`)
  t.equal(event.data.price, 19.99, 'typed: data narrowed to ProductCreatedData')
  t.same(event, logged.payload, 'the verified body is the payload of the events log')
  refusedWith(t, generateSecret(), hook!, 'another secret')
})

t.test('a retry keeps its webhook-id, is signed afresh, and verifies', async (t) => {
  const receiver = await startReceiver(t, (_request, index) => (index === 0 ? 500 : 204))
  const app = await startApp(t)
  const secret = await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Retried' })
  const [first, retry] = await receiver.waitForCount(2)
  t.equal(retry!.headers['webhook-id'], first!.headers['webhook-id'], 'same webhook-id on the retry')
  t.equal(retry!.body, first!.body, 'same bytes')
  t.ok(Number(retry!.headers['webhook-timestamp']) >= Number(first!.headers['webhook-timestamp']), 'timestamp of the new attempt')
  verifiesWith(t, secret, first!, 'first attempt')
  verifiesWith(t, secret, retry!, 'retry')
  // the receiver has the retry before the relay records its outcome: wait for the record
  const logged = await waitFor(async () => {
    const [event] = (await app.request('GET', '/api/plugins/events')).body.events
    return event?.status === 'sent' ? event : undefined
  }, { message: 'the retry recorded as sent' })
  t.match(logged, { status: 'sent', attempts: 2 })
})

t.test('our SDK refuses a live delivery whose body, id, timestamp or signature was altered', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  const secret = await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Tamper Target' })
  const [hook] = await receiver.waitForCount(1)
  const headers = swHeaders(hook!)
  t.ok(verifyWebhook(secret, headers, hook!.body), 'the untouched delivery verifies')

  const sig = (h: Record<string, string>, body = hook!.body) => () => verifyWebhook(secret, h, body)
  t.throws(sig(headers, hook!.body.replace('Tamper Target', 'Tamper Targes')), WebhookSignatureError, 'body changed')
  t.throws(sig(headers, hook!.body + ' '), WebhookSignatureError, 'a byte appended')
  t.throws(sig(headers, JSON.stringify(JSON.parse(hook!.body), null, 1)), WebhookSignatureError, 'same JSON, other bytes')
  t.throws(sig({ ...headers, 'webhook-id': 'dlv_999999' }), WebhookSignatureError, 'webhook-id changed')
  t.throws(sig({ ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }), WebhookSignatureError, 'timestamp changed')
  const flipped = headers['webhook-signature'].replace(/.(?==$)/, (c) => (c === 'A' ? 'B' : 'A'))
  t.throws(sig({ ...headers, 'webhook-signature': flipped }), WebhookSignatureError, 'signature changed')
  t.throws(sig({ ...headers, 'webhook-signature': '' }), WebhookHeaderError, 'signature removed')
  t.throws(
    () => verifyWebhook(secret, headers, hook!.body, { now: new Date(Date.now() + 10 * 60_000) }),
    WebhookTimestampError,
    'replayed ten minutes later',
  )
})

t.test('the connectivity test is signed like any delivery', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY: 'off' })
  const secret = await register(app, receiver.url)
  const res = await app.request('POST', '/api/plugins/signed/test')
  t.match(res.body, { success: true, status_code: 200 })
  const [hook] = receiver.received
  verifiesWith(t, secret, hook!, 'plugin.test')
  const event = verifyWebhook(secret, hook!.headers, hook!.body)
  if (event.event !== 'plugin.test') throw new Error(`expected plugin.test, got ${event.event}`)
  t.equal(event.data.plugin, 'signed')
})

t.test('during a rotation each delivery carries two signatures, and either secret verifies it', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  const old = await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'Before' })
  const [before] = await receiver.waitForCount(1)
  t.equal(signatures(before!).length, 1)

  const { secret: next, previous_secret_expires_at } = await rotate(app)
  t.ok(Date.parse(previous_secret_expires_at!) > Date.now() + 23 * 3600_000, 'the old secret signs for the default 24 h')
  await app.request('POST', '/api/products', { name: 'During' })
  const [, during] = await receiver.waitForCount(2)
  t.equal(signatures(during!).length, 2, 'two space-separated signatures: the relay saw the rotation at once')
  verifiesWith(t, old, during!, 'old secret')
  verifiesWith(t, next, during!, 'new secret')
  t.ok(verifyWebhook([old, next], during!.headers, during!.body), 'our SDK with both secrets configured')
  refusedWith(t, generateSecret(), during!, 'a stranger')
  refusedWith(t, next, before!, 'the new secret on a delivery signed before the rotation')
})

t.test('the previous secret stops signing when its grace window ends', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { SECRET_ROTATION_GRACE_MS: '3000' })
  const old = await register(app, receiver.url)
  const { secret: next, previous_secret_expires_at } = await rotate(app)
  const expiresAt = Date.parse(previous_secret_expires_at!)

  const sentAt = Date.now()
  t.equal((await app.request('POST', '/api/plugins/signed/test')).body.success, true)
  t.ok(sentAt < expiresAt - 500, 'precondition: this test was sent well inside the grace window')
  const inside = receiver.received[0]!
  t.equal(signatures(inside).length, 2, 'inside the window: old and new sign')
  verifiesWith(t, old, inside, 'old secret inside the window')

  await waitFor(() => Date.now() > expiresAt + 50, { message: 'the grace window to end' })
  await app.request('POST', '/api/products', { name: 'After expiry' })
  const [, after] = await receiver.waitForCount(2)
  t.equal(signatures(after!).length, 1, 'after the window: only the new secret signs')
  verifiesWith(t, next, after!, 'new secret')
  refusedWith(t, old, after!, 'expired secret')
  t.equal((await app.database.db.selectFrom('plugin_secrets').select('id').execute()).length, 2, 'the expired row is kept until the next rotation')
})

t.test('at most five secrets sign at once: a sixth rotation ends the oldest grace early', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY: 'off' })
  const secrets = [await register(app, receiver.url)]
  for (let i = 0; i < 6; i++) secrets.push((await rotate(app)).secret)
  t.equal((await app.request('POST', '/api/plugins/signed/test')).body.success, true)
  const [hook] = receiver.received
  t.equal(signatures(hook!).length, 5, 'five signatures')
  refusedWith(t, secrets[0]!, hook!, 'the original secret')
  refusedWith(t, secrets[1]!, hook!, 'the first rotated secret')
  for (const [i, secret] of secrets.slice(2).entries()) verifiesWith(t, secret, hook!, `secret ${i + 3} of 7`)
  t.equal((await app.request('GET', '/api/plugins/signed/secret')).body.secret, secrets[6], 'the newest is the current one')
})

t.test('a standalone relay process signs with the same SECRETS_KEY, and refuses to start with another', async (t) => {
  const key = randomBytes(32).toString('base64')
  const receiver = await startReceiver(t)
  const app = await startApp(t, { RELAY: 'off', SECRETS_KEY: key })
  const secret = await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'From the relay process' })

  const wrong = spawnRelay(t, app.database.url, { SECRETS_KEY: randomBytes(32).toString('base64') })
  t.equal(await wrong.exited, 1, 'a relay with another key exits 1')
  t.match(wrong.output(), /SECRETS_KEY cannot decrypt the plugin secrets/, 'and says why')
  t.equal(receiver.received.length, 0, 'it sent nothing')

  spawnRelay(t, app.database.url, { SECRETS_KEY: key })
  const [hook] = await receiver.waitForCount(1, 30_000)
  verifiesWith(t, secret, hook!, 'delivered by bin/relay')
})
