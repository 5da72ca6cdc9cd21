import t from 'tap'
import { startApp, type TestApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'
import { eventLog, schemaErrors, typesOf } from './helpers/events.ts'

const ada = {
  email: 'Ada@Example.com',
  name: 'Ada Lovelace',
  phone: '+44 20 7946 0000',
  addresses: [{ line1: '12 St James Square', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB' }],
  accepts_marketing: true,
}

/** A plugin subscribed to the customer events, so failed writes can be shown to leave no deliveries either. */
async function subscribe(app: TestApp) {
  const res = await app.request('POST', '/api/plugins', {
    name: 'CRM sync',
    slug: 'crm-sync',
    webhook_url: 'https://crm.example/hooks',
    events: ['customer.created', 'customer.updated'],
  })
  if (res.status !== 201) throw new Error(`plugin registration failed: ${JSON.stringify(res.body)}`)
}

t.test('a customer signs up: 201, the customer, and one customer.created of the documented shape', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const log = eventLog(app.database.db)
  const res = await app.request('POST', '/api/customers', ada)
  t.equal(res.status, 201)
  t.same(Object.keys(res.body).sort(), ['accepts_marketing', 'addresses', 'created_at', 'email', 'id', 'name', 'phone', 'updated_at'])
  t.match(res.body, { ...ada, id: String })

  const events = await log.next()
  t.same(typesOf(events), ['customer.created'])
  const [created] = events
  t.same(schemaErrors(created!), [])
  t.same(created!.data, { customer_id: res.body.id, ...ada, created_at: res.body.created_at, updated_at: res.body.updated_at })
  t.equal((await rowCounts(app.database.db)).deliveries, 1, 'fanned out to the subscribed plugin')

  const minimal = await app.request('POST', '/api/customers', { email: 'grace@example.com' })
  t.equal(minimal.status, 201)
  t.match(minimal.body, { email: 'grace@example.com', name: null, phone: null, addresses: [], accepts_marketing: false })
  const [second] = await log.next()
  t.same(schemaErrors(second!), [], 'the optional fields are documented as null / empty')
})

t.test('an email is unique per store whatever its case: 409 EMAIL_TAKEN, nothing written or emitted', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const first = await app.request('POST', '/api/customers', ada)
  const other = await app.request('POST', '/api/customers', { email: 'someone@example.com' })
  const before = await rowCounts(app.database.db)

  const dup = await app.request('POST', '/api/customers', { email: 'ADA@example.COM' })
  t.equal(dup.status, 409)
  t.match(dup.body, { statusCode: 409, error: 'Conflict', code: 'EMAIL_TAKEN', message: /ADA@example\.COM/ })

  const steal = await app.request('PATCH', `/api/customers/${other.body.id}`, { email: 'ada@EXAMPLE.com' })
  t.equal(steal.status, 409, 'an update cannot take another customer’s address either')
  t.equal(steal.body.code, 'EMAIL_TAKEN')
  t.same(await rowCounts(app.database.db), before, 'no customer, event or delivery was written')

  const recase = await app.request('PATCH', `/api/customers/${first.body.id}`, { email: 'ada@example.com' })
  t.equal(recase.status, 200, 'a customer may change the case of their own address')
})

t.test('invalid customers are refused with a 400 and a code, changing nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const before = await rowCounts(app.database.db)
  const cases: [string, unknown][] = [
    ['missing email', { name: 'No Email' }],
    ['malformed email', { email: 'not-an-email' }],
    ['unknown property', { email: 'a@example.com', colour: 'red' }],
    ['accepts_marketing as text', { email: 'a@example.com', accepts_marketing: 'yes' }],
    ['address without line1', { email: 'a@example.com', addresses: [{ city: 'Paris' }] }],
    ['lowercase country', { email: 'a@example.com', addresses: [{ line1: '1 Rue', country: 'fr' }] }],
    ['phone with letters', { email: 'a@example.com', phone: 'call me' }],
  ]
  for (const [name, body] of cases) {
    const res = await app.request('POST', '/api/customers', body)
    t.equal(res.status, 400, `${name}: status`)
    t.match(res.body, { statusCode: 400, error: 'Bad Request', code: 'VALIDATION_ERROR', message: String }, `${name}: shape`)
  }
  t.same(await rowCounts(app.database.db), before)
})

t.test('an update emits customer.updated naming exactly the fields that changed, and nothing when none did', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { body: customer } = await app.request('POST', '/api/customers', ada)
  const log = eventLog(app.database.db)
  await log.next()

  const put = await app.request('PUT', `/api/customers/${customer.id}`, { name: 'Ada King', phone: ada.phone, accepts_marketing: false })
  t.equal(put.status, 200)
  t.match(put.body, { name: 'Ada King', accepts_marketing: false, email: ada.email, addresses: ada.addresses })
  t.ok(Date.parse(put.body.updated_at) >= Date.parse(customer.updated_at))
  let events = await log.next()
  t.same(typesOf(events), ['customer.updated'])
  t.same(events[0]!.data.changed_fields, ['name', 'accepts_marketing'], 'the unchanged phone is not named')
  t.same(schemaErrors(events[0]!), [])
  const { id: _id, ...now } = put.body
  t.same(events[0]!.data, { customer_id: customer.id, ...now, changed_fields: ['name', 'accepts_marketing'] }, 'the customer as it is now')

  // the same address with its keys in another order is the same address
  const [address] = ada.addresses
  const reordered = { country: address!.country, postal_code: address!.postal_code, city: address!.city, line1: address!.line1 }
  const same = await app.request('PATCH', `/api/customers/${customer.id}`, { addresses: [reordered], name: 'Ada King' })
  t.equal(same.status, 200)
  t.equal(same.body.updated_at, put.body.updated_at, 'a no-op update writes nothing')
  t.same(await log.next(), [], 'and emits nothing')

  const moved = await app.request('PATCH', `/api/customers/${customer.id}`, {
    addresses: [...ada.addresses, { line1: 'Ockham Park', city: 'Surrey', country: 'GB' }],
    phone: null,
  })
  t.equal(moved.status, 200)
  events = await log.next()
  t.same(events.map((e) => e.data.changed_fields), [['phone', 'addresses']])
  t.equal(events[0]!.data.phone, null)
  t.same(schemaErrors(events[0]!), [])

  t.equal((await app.request('PATCH', `/api/customers/${customer.id}`, {})).status, 400, 'an empty update is refused')
  t.equal((await app.request('PATCH', `/api/customers/${customer.id}`, { id: 'x' })).status, 400, 'the id is not updatable')
  t.equal((await app.request('PATCH', '/api/customers/00000000-0000-0000-0000-000000000000', { name: 'x' })).status, 404)
  t.same(await log.next(), [], 'refused updates emit nothing')
})

t.test('lists customers newest first with a cursor, finds one by email in any case, and 404s the unknown', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const ids: string[] = []
  for (let n = 0; n < 5; n++) ids.push((await app.request('POST', '/api/customers', { email: `c${n}@example.com` })).body.id)

  const first = await app.request('GET', '/api/customers?limit=2')
  t.equal(first.status, 200)
  t.same(first.body.customers.map((c: { id: string }) => c.id), [ids[4], ids[3]])
  const second = await app.request('GET', `/api/customers?limit=2&cursor=${first.body.next_cursor}`)
  t.same(second.body.customers.map((c: { id: string }) => c.id), [ids[2], ids[1]])
  const third = await app.request('GET', `/api/customers?limit=2&cursor=${second.body.next_cursor}`)
  t.same(third.body.customers.map((c: { id: string }) => c.id), [ids[0]])
  t.equal(third.body.next_cursor, null)

  const byEmail = await app.request('GET', '/api/customers?email=C3@EXAMPLE.COM')
  t.same(byEmail.body.customers.map((c: { id: string }) => c.id), [ids[3]])

  const one = await app.request('GET', `/api/customers/${ids[0]}`)
  t.equal(one.status, 200)
  t.equal(one.body.email, 'c0@example.com')
  t.equal((await app.request('GET', '/api/customers/00000000-0000-0000-0000-000000000000')).body.code, 'NOT_FOUND')
  t.equal((await app.request('GET', '/api/customers/not-a-uuid')).status, 404)
  t.equal((await app.request('GET', '/api/customers?cursor=garbage')).body.code, 'INVALID_CURSOR')
  t.equal((await app.request('GET', '/api/customers?limit=0')).status, 400)
})

t.test('deletes a customer without orders (no event), and refuses one with orders: 409 CUSTOMER_HAS_ORDERS', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const log = eventLog(app.database.db)
  const { body: gone } = await app.request('POST', '/api/customers', { email: 'gone@example.com' })
  const { body: buyer } = await app.request('POST', '/api/customers', { email: 'buyer@example.com' })
  const { body: product } = await app.request('POST', '/api/products', { name: 'Pen', price: 2, inventory_quantity: 10 })
  t.equal((await app.request('POST', '/api/orders', { customer_id: buyer.id, items: [{ product_id: product.id, quantity: 1 }] })).status, 201)
  await log.next()

  t.equal((await app.request('DELETE', `/api/customers/${gone.id}`)).status, 204)
  t.equal((await app.request('GET', `/api/customers/${gone.id}`)).status, 404)
  t.equal((await app.request('DELETE', `/api/customers/${gone.id}`)).status, 404)
  t.equal((await app.request('POST', '/api/customers', { email: 'gone@example.com' })).status, 201, 'the address is free again')

  const refused = await app.request('DELETE', `/api/customers/${buyer.id}`)
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'CUSTOMER_HAS_ORDERS')
  t.equal((await app.request('GET', `/api/customers/${buyer.id}`)).status, 200)
  t.same(typesOf(await log.next()), ['customer.created'], 'only the re-registration emitted; deletes emit nothing')
})
