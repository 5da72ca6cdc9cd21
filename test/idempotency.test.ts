import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t from 'tap'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

t.test('a retried POST with the same Idempotency-Key returns the first response and writes nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/plugins', { name: 'P', slug: 'p', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  const headers = { 'idempotency-key': 'order-attempt-1' }
  const first = await app.request('POST', '/api/products', { name: 'Once' }, headers)
  t.equal(first.status, 201)
  t.equal(first.headers.get('idempotent-replayed'), null)
  const after = await rowCounts(app.database.db)
  const again = await app.request('POST', '/api/products', { name: 'Once' }, headers)
  t.equal(again.status, 201)
  t.same(again.body, first.body, 'the same product, the same body')
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  t.same(await rowCounts(app.database.db), after, 'no second product, event or delivery')
})

t.test('the same key with another body is a 422; a malformed key is a 400; other keys are independent', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/products', { name: 'A' }, { 'idempotency-key': 'k1' })
  const before = await rowCounts(app.database.db)
  const reused = await app.request('POST', '/api/products', { name: 'B' }, { 'idempotency-key': 'k1' })
  t.equal(reused.status, 422)
  t.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED')
  const bad = await app.request('POST', '/api/products', { name: 'B' }, { 'idempotency-key': 'x'.repeat(300) })
  t.equal(bad.status, 400)
  t.equal(bad.body.code, 'INVALID_IDEMPOTENCY_KEY')
  t.same(await rowCounts(app.database.db), before)
  t.equal((await app.request('POST', '/api/products', { name: 'B' }, { 'idempotency-key': 'k2' })).status, 201)
})

t.test('concurrent requests with one key create one product', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const results = await Promise.all(
    Array.from({ length: 8 }, () => app.request('POST', '/api/products', { name: 'Race' }, { 'idempotency-key': 'same' })),
  )
  const created = results.filter((r) => r.status === 201)
  t.ok(created.length >= 1, `${created.length} answered 201`)
  t.ok(results.every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS')))
  t.equal(new Set(created.map((r) => r.body.id)).size, 1, 'every 201 names the same product')
  const list = await app.request('GET', '/api/products')
  t.equal(list.body.products.length, 1)
})

t.test('a replayed registration omits the secret, which is never stored in the key table', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const body = { name: 'P', slug: 'p', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] }
  const first = await app.request('POST', '/api/plugins', body, { 'idempotency-key': 'reg' })
  t.equal(first.status, 201)
  const again = await app.request('POST', '/api/plugins', body, { 'idempotency-key': 'reg' })
  t.equal(again.status, 201)
  t.equal(again.body.id, first.body.id)
  t.equal(again.body.secret, undefined)
  const stored = await app.database.db.selectFrom('idempotency_keys').select('response_body').execute()
  t.notMatch(JSON.stringify(stored), /whsec_/)
})

t.test('the replay of a secret or key agrees with the OpenAPI document: the field is optional there and absent here', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const admin = await createApiKey(app.database.db, DEFAULT_TENANT, { admin: true })
  const auth = { authorization: `Bearer ${admin.key}` }
  const doc = (await app.request('GET', '/openapi.json')).body
  const ajv = new Ajv2020({ strict: false })
  addFormats(ajv)
  const plugin = { name: 'P', slug: 'p', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] }
  const cases: [string, string, string, unknown, string, string][] = [
    ['/api/plugins', '/api/plugins', '201', plugin, 'secret', 'reg'],
    ['/api/plugins/{slug}/secret/rotate', '/api/plugins/p/secret/rotate', '200', {}, 'secret', 'rot'],
    ['/api/keys', '/api/keys', '201', { name: 'ci' }, 'key', 'key'],
  ]
  for (const [path, url, status, body, field, key] of cases) {
    const response = doc.paths[path].post.responses[status]
    const schema = response.content['application/json'].schema
    t.notOk(schema.required.includes(field), `${path}: ${field} is not required in the document`)
    t.match(schema.properties[field].description, /idempotent-replayed: true/, `${path}: and the document says when it is absent`)
    t.ok(response.headers['idempotent-replayed'], `${path}: the replay header is documented`)
    const headers = { ...auth, 'idempotency-key': key }
    const first = await app.request('POST', url, body, headers)
    const again = await app.request('POST', url, body, headers)
    t.equal(first.status, Number(status))
    t.type(first.body[field], 'string', `${path}: the first answer carries the ${field}`)
    t.equal(again.headers.get('idempotent-replayed'), 'true')
    t.equal(again.body[field], undefined, `${path}: its replay does not`)
    t.ok(ajv.validate(schema, first.body), `${path}: the first answer matches the document`)
    t.ok(ajv.validate(schema, again.body), `${path}: so does the replay ${ajv.errorsText()}`)
  }
})
