import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import t from 'tap'
import { APP_EVENT_TYPES, EVENT_TYPES, TEST_EVENT } from '../src/events/catalog.ts'
import { startApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'

// ajv-formats is CommonJS; under NodeNext its callable sits on .default
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

interface Published {
  name: string
  description: string
  available: boolean
  subscribable: boolean
  schema: Record<string, unknown> | null
}

/** A validator of whole webhook bodies of one type, built from what GET /api/event-types publishes. */
function bodyValidator(envelope: any, schema: Record<string, unknown>) {
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  return ajv.compile({ ...envelope, properties: { ...envelope.properties, data: schema } })
}

t.test('GET /api/event-types publishes every catalog entry with the JSON Schema of its data', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const res = await app.request('GET', '/api/event-types')
  t.equal(res.status, 200)
  const published: Published[] = res.body.event_types
  t.same(
    published.map((e) => e.name),
    [...EVENT_TYPES.map((e) => e.name), TEST_EVENT, ...APP_EVENT_TYPES.map((e) => e.name)],
    'every subscribable type, in catalog order, then plugin.test, then the app lifecycle events',
  )
  for (const entry of EVENT_TYPES) {
    const p = published.find((e) => e.name === entry.name)!
    t.match(p, { description: entry.description, available: entry.available, subscribable: true }, `${entry.name}: as in the catalog`)
    const data = 'data' in entry ? entry.data : undefined
    t.same(p.schema, data ? JSON.parse(JSON.stringify(data)) : null, `${entry.name}: the catalog's schema as JSON Schema`)
  }
  t.match(published.find((e) => e.name === 'plugin.test'), { available: true, subscribable: false, schema: { type: 'object' } })
  for (const app of APP_EVENT_TYPES) t.match(published.find((e) => e.name === app.name), { subscribable: false, schema: { type: 'object' } })
  for (const product of ['product.created', 'product.updated', 'product.deleted']) {
    t.match(published.find((e) => e.name === product), { available: true, schema: { type: 'object', additionalProperties: false } })
  }
  const ajv = new Ajv({ strict: false })
  addFormats(ajv)
  for (const p of published) if (p.schema) t.doesNotThrow(() => ajv.compile(p.schema!), `${p.name}: a valid JSON Schema`)
  t.match(res.body.envelope, { type: 'object', required: ['id', 'event', 'tenant_id', 'timestamp', 'data'] })

  const subscribeTest = await app.request('POST', '/api/plugins', { name: 'x', slug: 'x', webhook_url: 'https://x.example/h', events: [TEST_EVENT] })
  t.equal(subscribeTest.body.code, 'UNKNOWN_EVENT', 'plugin.test is published but not subscribable')
})

t.test('every payload the server emits matches the published schema of its event type', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  const catalog = (await app.request('GET', '/api/event-types')).body
  const validators = new Map<string, ReturnType<typeof bodyValidator>>(
    (catalog.event_types as Published[]).filter((e) => e.schema).map((e) => [e.name, bodyValidator(catalog.envelope, e.schema!)]),
  )

  await app.request('POST', '/api/plugins', {
    name: 'Catalog',
    slug: 'catalog',
    webhook_url: receiver.url,
    events: ['product.created', 'product.updated', 'product.deleted'],
  })
  const product = (await app.request('POST', '/api/products', { name: 'Typed', description: null, price: 12.5, tags: ['a'] })).body
  await receiver.waitForCount(1)
  await app.request('PATCH', `/api/products/${product.id}`, { price: 13, status: 'draft' })
  await receiver.waitForCount(2)
  await app.request('DELETE', `/api/products/${product.id}`)
  await receiver.waitForCount(3)
  await app.request('POST', '/api/plugins/catalog/test')
  const bodies = (await receiver.waitForCount(4)).map((r) => r.json)

  t.same(bodies.map((b) => b.event), ['product.created', 'product.updated', 'product.deleted', 'plugin.test'])
  for (const body of bodies) {
    const validate = validators.get(body.event)
    t.ok(validate, `${body.event} has a schema`)
    t.ok(validate!(body), `${body.event}: valid${validate!.errors ? ` (${JSON.stringify(validate!.errors)})` : ''}`)
  }
  t.same(bodies[1].data.changed_fields, ['price', 'status'])

  // the check can fail: an undocumented field, a wrong type, a missing field are all caught
  const created = validators.get('product.created')!
  t.notOk(created({ ...bodies[0], data: { ...bodies[0].data, secret_field: 1 } }), 'an undocumented field')
  t.notOk(created({ ...bodies[0], data: { ...bodies[0].data, price: '12.50' } }), 'a price as a string')
  const { name: _name, ...nameless } = bodies[0].data
  t.notOk(created({ ...bodies[0], data: nameless }), 'a missing field')
  t.notOk(created({ ...bodies[0], extra: true }), 'an undocumented envelope field')
})
