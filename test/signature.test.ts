import t from 'tap'
import { Webhook } from 'standardwebhooks'
import {
  generateSecret,
  InvalidSecretError,
  parseSecret,
  sign,
  signatureHeaders,
} from '../src/webhooks/signature.ts'

// Published test vector of the Standard Webhooks spec and its libraries.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

t.test('known answer: the spec test vector', async (t) => {
  t.equal(sign([SPEC.secret], SPEC.id, SPEC.timestamp, SPEC.payload), SPEC.signature)
  t.equal(sign(SPEC.secret, SPEC.id, SPEC.timestamp, Buffer.from(SPEC.payload)), SPEC.signature, 'single key, Buffer body')
  t.equal(sign([parseSecret(SPEC.secret)], SPEC.id, SPEC.timestamp, SPEC.payload), SPEC.signature, 'pre-parsed key')
  t.strictSame(signatureHeaders([SPEC.secret], SPEC.id, SPEC.timestamp, SPEC.payload), {
    'webhook-id': SPEC.id,
    'webhook-timestamp': String(SPEC.timestamp),
    'webhook-signature': SPEC.signature,
  })
})

t.test('known answer: the standardwebhooks package agrees with the vector', async (t) => {
  const wh = new Webhook(SPEC.secret)
  t.equal(wh.sign(SPEC.id, new Date(SPEC.timestamp * 1000), SPEC.payload), SPEC.signature)
  // Its verify reads the system clock; pin it to the vector's time.
  const realNow = Date.now
  Date.now = () => SPEC.timestamp * 1000
  t.teardown(() => {
    Date.now = realNow
  })
  const headers = signatureHeaders([SPEC.secret], SPEC.id, SPEC.timestamp, SPEC.payload)
  t.strictSame(wh.verify(SPEC.payload, { ...headers }), { test: 2432232314 })
})

t.test('standardwebhooks verifies what we sign', async (t) => {
  const body = JSON.stringify({ event: 'order.created', tenant_id: 't1', timestamp: new Date().toISOString(), data: { n: 1 } })
  const [a, b, stranger] = [generateSecret(), generateSecret(), generateSecret()]

  const single = signatureHeaders([a], 'msg_single', nowSeconds(), body)
  t.strictSame(new Webhook(a).verify(body, { ...single }), JSON.parse(body), 'single secret')

  const rotating = signatureHeaders([a, b], 'msg_rotating', nowSeconds(), body)
  t.equal(rotating['webhook-signature'].split(' ').length, 2, 'one signature per secret')
  t.strictSame(new Webhook(a).verify(body, { ...rotating }), JSON.parse(body), 'old secret during rotation')
  t.strictSame(new Webhook(b).verify(body, { ...rotating }), JSON.parse(body), 'new secret during rotation')
  t.throws(() => new Webhook(stranger).verify(body, { ...rotating }), /No matching signature/, 'other secret rejected')
  t.throws(() => new Webhook(a).verify(body + ' ', { ...single }), /No matching signature/, 'tampered body rejected')
})

t.test('generateSecret', async (t) => {
  const secret = generateSecret()
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
  t.equal(parseSecret(secret).length, 32)
  t.not(generateSecret(), secret)
})

t.test('parseSecret', async (t) => {
  t.same(parseSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), parseSecret(SPEC.secret), 'prefix is optional')
  const unpadded = generateSecret().replace(/=$/, '')
  t.equal(parseSecret(unpadded).length, 32, 'padding is optional')
  t.equal(parseSecret('whsec_' + Buffer.alloc(64, 1).toString('base64')).length, 64, '64 bytes allowed')

  const bad = {
    empty: 'whsec_',
    'not base64': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w',
    'url-safe alphabet': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_',
    truncated: SPEC.secret.slice(0, -4),
    'too long': 'whsec_' + Buffer.alloc(65, 1).toString('base64'),
    'impossible length': 'whsec_' + 'A'.repeat(33),
  }
  for (const [name, secret] of Object.entries(bad)) {
    t.throws(() => parseSecret(secret), InvalidSecretError, name)
  }
  t.throws(() => sign(['whsec_short'], 'id', 1, ''), InvalidSecretError, 'sign validates string secrets')
})

t.test('sign rejects misuse', async (t) => {
  t.throws(() => sign([], 'id', 1, ''), InvalidSecretError, 'no secrets')
  t.throws(() => sign([SPEC.secret], 'id', 1614265330.5, ''), RangeError, 'fractional seconds')
  t.throws(() => sign([SPEC.secret], 'id', Date.now(), ''), RangeError, 'milliseconds')
  t.throws(() => sign([SPEC.secret], 'id', -1, ''), RangeError, 'negative')
})
