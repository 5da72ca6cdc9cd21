import tap from 'tap'
const t = tap
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import {
  verifyWebhook,
  WebhookBodyError,
  WebhookHeaderError,
  WebhookSecretError,
  WebhookSignatureError,
  WebhookTimestampError,
  WebhookVerificationError,
  type WebhookEvent,
  type WebhookEventOf,
  type WebhookVerificationReason,
} from '../src/receiver/index.ts'
import { createReceiverServer } from '../src/cli/receiver.ts'
import { generateSecret, signatureHeaders, type SignatureHeaders } from '../src/webhooks/signature.ts'

const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

const secret = generateSecret()
const event = { id: 'evt_1', event: 'order.created', tenant_id: 'tenant_1', timestamp: '2025-01-01T00:00:00.000Z', data: { order_id: 42 } }
const body = JSON.stringify(event)
const nowSeconds = () => Math.floor(Date.now() / 1000)
const signed = (payload = body, secrets = [secret], ts = nowSeconds(), id = 'msg_1'): SignatureHeaders =>
  signatureHeaders(secrets, id, ts, payload)

type ErrorClass = abstract new (...args: never[]) => WebhookVerificationError

/** Asserts fn throws the given WebhookVerificationError subclass with the given reason. */
function refuses(t: Pick<typeof tap, 'type' | 'match'>, reason: WebhookVerificationReason, type: ErrorClass, fn: () => unknown, name: string) {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  t.type(caught, type, `${name}: ${type.name}`)
  t.type(caught, WebhookVerificationError, `${name}: is a WebhookVerificationError`)
  t.match(caught, { reason }, `${name}: ${reason}`)
}

t.test('known answer: the spec test vector', async (t) => {
  const headers = { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': SPEC.signature }
  t.strictSame(verifyWebhook(SPEC.secret, headers, SPEC.payload, { now: new Date(SPEC.timestamp * 1000) }), { test: 2432232314 })
  refuses(t, 'timestamp_too_old', WebhookTimestampError, () => verifyWebhook(SPEC.secret, headers, SPEC.payload), 'vector is stale today')
})

t.test('accepts what our sender signs', async (t) => {
  t.strictSame(verifyWebhook(secret, signed(), body), event)
  t.strictSame(verifyWebhook(secret, signed(), Buffer.from(body)), event, 'Buffer body')
  t.strictSame(verifyWebhook(secret, signed(), new Uint8Array(Buffer.from(body))), event, 'Uint8Array body')
  t.strictSame(verifyWebhook(secret.slice('whsec_'.length), signed(), body), event, 'secret without prefix')
})

t.test('accepts what the standardwebhooks package signs', async (t) => {
  const ts = nowSeconds()
  const headers = {
    'webhook-id': 'msg_other_impl',
    'webhook-timestamp': String(ts),
    'webhook-signature': new Webhook(secret).sign('msg_other_impl', new Date(ts * 1000), body),
  }
  t.strictSame(verifyWebhook(secret, headers, body), event)
  refuses(t, 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(generateSecret(), headers, body), 'other secret')
})

t.test('rotation: several secrets and several signatures', async (t) => {
  const [oldSecret, newSecret, stranger] = [generateSecret(), generateSecret(), generateSecret()]
  const both = signed(body, [oldSecret, newSecret])
  t.strictSame(verifyWebhook(oldSecret, both, body), event, 'receiver still on the old secret')
  t.strictSame(verifyWebhook(newSecret, both, body), event, 'receiver already on the new secret')
  t.strictSame(verifyWebhook([stranger, newSecret], signed(body, [newSecret]), body), event, 'any of the receiver secrets')
  t.strictSame(verifyWebhook([oldSecret, stranger], signed(body, [oldSecret]), body), event)
  refuses(t, 'no_matching_signature', WebhookSignatureError, () => verifyWebhook([stranger], both, body), 'none match')

  const h = signed()
  const mixed = { ...h, 'webhook-signature': `v1a,c29tZXRoaW5nIGVsc2U=  v1,AAAA ${h['webhook-signature']} v2,xyz` }
  t.strictSame(verifyWebhook(secret, mixed, body), event, 'other versions and extra spaces ignored')
  const onlyOther = { ...h, 'webhook-signature': h['webhook-signature'].replace('v1,', 'v1a,') }
  refuses(t, 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(secret, onlyOther, body), 'v1a only')
})

t.test('header lookup', async (t) => {
  const h = signed()
  const shouting = { 'Webhook-Id': h['webhook-id'], 'WEBHOOK-TIMESTAMP': h['webhook-timestamp'], 'webhook-Signature': h['webhook-signature'] }
  t.strictSame(verifyWebhook(secret, shouting, body), event, 'case-insensitive record')
  t.strictSame(verifyWebhook(secret, new Headers(shouting), body), event, 'fetch Headers')

  const repeated = { ...h, 'webhook-signature': [`v1,${Buffer.alloc(32).toString('base64')}`, h['webhook-signature']] }
  t.strictSame(verifyWebhook(secret, repeated, body), event, 'repeated signature header as array')
  const fetchRepeated = new Headers(h)
  fetchRepeated.append('webhook-signature', `v1,${Buffer.alloc(32).toString('base64')}`)
  t.strictSame(verifyWebhook(secret, fetchRepeated, body), event, 'repeated signature header joined by fetch')
})

t.test('refusals', async (t) => {
  const h = signed()
  const cases: [string, WebhookVerificationReason, ErrorClass, () => unknown][] = [
    ['tampered body', 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(secret, h, body.replace('42', '43'))],
    ['reformatted body', 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(secret, h, JSON.stringify(event, null, 2))],
    ['tampered id', 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(secret, { ...h, 'webhook-id': 'msg_2' }, body)],
    ['tampered timestamp', 'no_matching_signature', WebhookSignatureError,
      () => verifyWebhook(secret, { ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) }, body)],
    ['tampered signature', 'no_matching_signature', WebhookSignatureError,
      () => verifyWebhook(secret, { ...h, 'webhook-signature': h['webhook-signature'].replace(/.(=?)$/, (c, p) => (c[0] === 'A' ? 'B' : 'A') + p) }, body)],
    ['wrong secret', 'no_matching_signature', WebhookSignatureError, () => verifyWebhook(generateSecret(), h, body)],
    ['stale', 'timestamp_too_old', WebhookTimestampError, () => verifyWebhook(secret, signed(body, [secret], nowSeconds() - 301), body)],
    ['future', 'timestamp_too_new', WebhookTimestampError, () => verifyWebhook(secret, signed(body, [secret], nowSeconds() + 301), body)],
    ['timestamp in ms', 'timestamp_too_new', WebhookTimestampError, () => verifyWebhook(secret, { ...h, 'webhook-timestamp': String(Date.now()) }, body)],
    ['timestamp with junk', 'invalid_timestamp', WebhookTimestampError, () => verifyWebhook(secret, { ...h, 'webhook-timestamp': `${h['webhook-timestamp']}abc` }, body)],
    ['ISO timestamp', 'invalid_timestamp', WebhookTimestampError, () => verifyWebhook(secret, { ...h, 'webhook-timestamp': new Date().toISOString() }, body)],
    ['malformed secret', 'invalid_secret', WebhookSecretError, () => verifyWebhook('whsec_not*base64', h, body)],
    ['truncated secret', 'invalid_secret', WebhookSecretError, () => verifyWebhook(secret.slice(0, 20), h, body)],
    ['no secrets', 'invalid_secret', WebhookSecretError, () => verifyWebhook([], h, body)],
    ['one bad secret among good', 'invalid_secret', WebhookSecretError, () => verifyWebhook([secret, 'whsec_'], h, body)],
  ]
  for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [header]: _omitted, ...rest } = h
    cases.push([`missing ${header}`, 'missing_header', WebhookHeaderError, () => verifyWebhook(secret, rest, body)])
    cases.push([`empty ${header}`, 'missing_header', WebhookHeaderError, () => verifyWebhook(secret, { ...h, [header]: '' }, body)])
    t.throws(() => verifyWebhook(secret, rest, body), { message: `missing ${header} header` }, `names the missing ${header}`)
  }
  for (const [name, reason, type, fn] of cases) refuses(t, reason, type, fn, name)
})

t.test('malformed but correctly signed bodies', async (t) => {
  for (const [name, payload] of [['not JSON', '{"event": '], ['empty', ''], ['array', '[1]'], ['string', '"x"'], ['null', 'null']] as const) {
    refuses(t, 'malformed_body', WebhookBodyError, () => verifyWebhook(secret, signed(payload), payload), name)
  }
  t.throws(() => verifyWebhook(secret, signed(), event as never), TypeError, 'parsed JSON instead of the raw body')
})

t.test('tolerance', async (t) => {
  const now = new Date('2025-06-01T12:00:00Z')
  const at = (offset: number) => signed(body, [secret], now.getTime() / 1000 + offset)
  t.ok(verifyWebhook(secret, at(-300), body, { now }), 'exactly 300s old')
  t.ok(verifyWebhook(secret, at(300), body, { now }), 'exactly 300s ahead')
  refuses(t, 'timestamp_too_old', WebhookTimestampError, () => verifyWebhook(secret, at(-61), body, { now, toleranceSeconds: 60 }), 'custom tolerance, old')
  refuses(t, 'timestamp_too_new', WebhookTimestampError, () => verifyWebhook(secret, at(61), body, { now, toleranceSeconds: 60 }), 'custom tolerance, new')
  t.ok(verifyWebhook(secret, at(-3600), body, { now, toleranceSeconds: 3600 }), 'wider tolerance')
})

t.test('event typing', async (t) => {
  type Events = WebhookEventOf<{ 'order.created': { order_id: number }; 'plugin.installed': { plugin: string } }>
  const e = verifyWebhook<Events>(secret, signed(), body)
  if (e.event === 'order.created') {
    const id: number = e.data.order_id // narrowed by the discriminant
    t.equal(id, 42)
  } else {
    t.fail('expected order.created')
  }
  const plain: WebhookEvent = verifyWebhook(secret, signed(), body)
  t.equal(plain.tenant_id, 'tenant_1')
})

t.test('dev receiver', async (t) => {
  const lines: string[] = []
  const server = createReceiverServer({ secrets: [generateSecret(), secret], log: (l) => lines.push(l) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
  const post = (headers: Record<string, string>, payload = body) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload })

  const h = { ...signed(body, [secret], nowSeconds(), 'msg_dev_1') }
  t.equal((await post(h)).status, 204, 'verified delivery')
  t.match(lines.at(-1), /^✔ order\.created msg_dev_1\n\{\n {2}"order_id": 42\n\}$/)

  t.equal((await post(h)).status, 200, 'retry of the same webhook-id')
  t.match(lines.at(-1), /duplicate msg_dev_1/)

  const bad = await post({ ...h, 'webhook-id': 'msg_dev_2' })
  t.equal(bad.status, 400, 'tampered id')
  t.strictSame(await bad.json(), { error: 'no_matching_signature' })
  t.match(lines.at(-1), /^✘ no_matching_signature/)

  t.equal((await post({})).status, 400, 'unsigned')
  t.match(lines.at(-1), /^✘ missing_header/)
  t.equal((await fetch(url)).status, 405, 'GET')
})
