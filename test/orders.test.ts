import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { startApp, type TestApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'
import { allEvents, eventLog, ofType, schemaErrors, typesOf, type Envelope } from './helpers/events.ts'

const COMMERCE_EVENTS = [
  'order.created',
  'order.paid',
  'order.shipped',
  'order.delivered',
  'order.cancelled',
  'inventory.updated',
  'inventory.low',
  'inventory.out',
]

/** A plugin on every order and inventory event, so each event also leaves a delivery row. */
async function setup(app: TestApp) {
  const plugin = await app.request('POST', '/api/plugins', {
    name: 'Back office',
    slug: 'back-office',
    webhook_url: 'https://backoffice.example/hooks',
    events: COMMERCE_EVENTS,
  })
  if (plugin.status !== 201) throw new Error(`plugin registration failed: ${JSON.stringify(plugin.body)}`)
  const customer = await app.request('POST', '/api/customers', { email: 'kim@example.com', name: 'Kim', accepts_marketing: true })
  return { customer: customer.body as { id: string } }
}

async function product(app: TestApp, body: Record<string, unknown>): Promise<{ id: string; name: string }> {
  const res = await app.request('POST', '/api/products', { price: 1, ...body })
  if (res.status !== 201) throw new Error(`product creation failed: ${JSON.stringify(res.body)}`)
  return res.body
}

const stockOf = async (app: TestApp, id: string): Promise<number> => (await app.request('GET', `/api/products/${id}`)).body.inventory_quantity

/** Every commerce event emitted in this test's database matches its documented shape. */
async function allMatchTheirSchemas(t: Test, app: TestApp) {
  const events = (await allEvents(app.database.db)).filter((e) => COMMERCE_EVENTS.includes(e.event))
  t.ok(events.length > 0, 'there are events to check')
  t.same(events.flatMap(schemaErrors), [], 'every payload matches its schema')
}

t.test('an order snapshots prices, totals exactly, takes the stock and emits order.created with its inventory events', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const lamp = await product(app, { name: 'Lamp', price: 19.99, inventory_quantity: 10 })
  const fuse = await product(app, { name: 'Fuse', price: 0.1, inventory_quantity: 3 })
  const log = eventLog(app.database.db)
  await log.next()

  const res = await app.request('POST', '/api/orders', {
    customer_id: customer.id,
    items: [
      { product_id: lamp.id, quantity: 3 },
      { product_id: fuse.id, quantity: 3 },
    ],
  })
  t.equal(res.status, 201)
  const order = res.body
  t.match(order, { id: String, customer_id: customer.id, status: 'pending', item_count: 6, tracking_number: null, paid_at: null })
  t.same(order.items, [
    { product_id: lamp.id, name: 'Lamp', unit_price: 19.99, quantity: 3, line_total: 59.97 },
    { product_id: fuse.id, name: 'Fuse', unit_price: 0.1, quantity: 3, line_total: 0.3 },
  ])
  t.equal(order.total, 60.27, 'exact: 19.99 × 3 + 0.1 × 3 in floating point is 60.269999999999996')
  t.not(19.99 * 3 + 0.1 * 3, 60.27, 'the float sum really does drift')
  t.equal(await stockOf(app, lamp.id), 7)
  t.equal(await stockOf(app, fuse.id), 0)

  const events = await log.next()
  t.same(typesOf(events), ['inventory.out', 'inventory.updated', 'inventory.updated', 'order.created'])
  const [created] = ofType(events, 'order.created')
  const { id: _id, ...fields } = order
  t.same(created!.data, { order_id: order.id, ...fields, customer: { email: 'kim@example.com', name: 'Kim', accepts_marketing: true } })
  const changes = ofType(events, 'inventory.updated').map((e) => [e.data.name, e.data.old_quantity, e.data.new_quantity, e.data.reason, e.data.order_id])
  t.same(changes.sort(), [
    ['Fuse', 3, 0, 'order_created', order.id],
    ['Lamp', 10, 7, 'order_created', order.id],
  ])
  t.equal(ofType(events, 'inventory.out')[0]!.data.product_id, fuse.id)

  await app.request('PATCH', `/api/products/${lamp.id}`, { price: 25, name: 'Desk lamp' })
  const later = await app.request('GET', `/api/orders/${order.id}`)
  t.same(later.body, order, 'the order keeps the price and name it was placed with')
  await allMatchTheirSchemas(t, app)
})

t.test('an order beyond the stock is refused with 409 naming every short item, and changes nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const scarce = await product(app, { name: 'Scarce', inventory_quantity: 2 })
  const plenty = await product(app, { name: 'Plenty', inventory_quantity: 50 })
  const gone = await product(app, { name: 'Gone' })
  const before = await rowCounts(app.database.db)

  const res = await app.request('POST', '/api/orders', {
    customer_id: customer.id,
    items: [
      { product_id: scarce.id, quantity: 3 },
      { product_id: plenty.id, quantity: 1 },
      { product_id: gone.id, quantity: 1 },
    ],
  })
  t.equal(res.status, 409)
  t.match(res.body, { statusCode: 409, error: 'Conflict', code: 'INSUFFICIENT_STOCK', message: /Scarce.*Gone/ })
  t.same(res.body.items, [
    { product_id: scarce.id, name: 'Scarce', requested: 3, available: 2 },
    { product_id: gone.id, name: 'Gone', requested: 1, available: 0 },
  ])
  t.same(await rowCounts(app.database.db), before, 'no order, no stock change, no event, no delivery')
  t.equal(await stockOf(app, plenty.id), 50)
})

t.test('malformed or impossible orders are refused with a 4xx and a code, changing nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const pen = await product(app, { name: 'Pen', inventory_quantity: 10 })
  const draft = await product(app, { name: 'Prototype', status: 'draft', inventory_quantity: 10 })
  const gold = await product(app, { name: 'Gold bar', price: 999_999_999_999, inventory_quantity: 5000 })
  const nobody = '00000000-0000-4000-8000-000000000000'
  const line = (product_id: string, quantity = 1) => ({ product_id, quantity })
  const before = await rowCounts(app.database.db)
  const cases: [string, unknown, number, string][] = [
    ['no items', { customer_id: customer.id, items: [] }, 400, 'VALIDATION_ERROR'],
    ['no customer', { items: [line(pen.id)] }, 400, 'VALIDATION_ERROR'],
    ['malformed customer id', { customer_id: 'kim', items: [line(pen.id)] }, 400, 'VALIDATION_ERROR'],
    ['quantity 0', { customer_id: customer.id, items: [line(pen.id, 0)] }, 400, 'VALIDATION_ERROR'],
    ['fractional quantity', { customer_id: customer.id, items: [line(pen.id, 1.5)] }, 400, 'VALIDATION_ERROR'],
    ['a client-side price', { customer_id: customer.id, items: [{ ...line(pen.id), unit_price: 0 }] }, 400, 'VALIDATION_ERROR'],
    ['a client-side total', { customer_id: customer.id, items: [line(pen.id)], total: 0 }, 400, 'VALIDATION_ERROR'],
    ['unknown customer', { customer_id: nobody, items: [line(pen.id)] }, 400, 'UNKNOWN_CUSTOMER'],
    ['unknown product', { customer_id: customer.id, items: [line(pen.id), line(nobody)] }, 400, 'UNKNOWN_PRODUCT'],
    ['the same product twice', { customer_id: customer.id, items: [line(pen.id), line(pen.id.toUpperCase())] }, 400, 'DUPLICATE_PRODUCT'],
    ['a draft product', { customer_id: customer.id, items: [line(pen.id), line(draft.id)] }, 409, 'PRODUCT_UNAVAILABLE'],
    ['a total beyond numeric(15, 2)', { customer_id: customer.id, items: [line(gold.id, 2000)] }, 400, 'AMOUNT_TOO_LARGE'],
  ]
  for (const [name, body, status, code] of cases) {
    const res = await app.request('POST', '/api/orders', body)
    t.equal(res.status, status, `${name}: status`)
    t.equal(res.body.code, code, `${name}: code`)
    t.match(res.body, { statusCode: status, error: String, message: String }, `${name}: shape`)
  }
  t.same(await rowCounts(app.database.db), before)
})

t.test('pending → paid → shipped → delivered: one event per step; any other move is 409 INVALID_TRANSITION naming the state', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const kite = await product(app, { name: 'Kite', price: 30, inventory_quantity: 20 })
  const { body: order } = await app.request('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: kite.id, quantity: 1 }] })
  const log = eventLog(app.database.db)
  await log.next()
  const act = (action: string, body?: unknown) => app.request('POST', `/api/orders/${order.id}/${action}`, body)

  async function refused(action: string, current: string) {
    const res = await act(action)
    t.equal(res.status, 409, `${action} from ${current}: 409`)
    t.match(res.body, { code: 'INVALID_TRANSITION', current_status: current, message: new RegExp(`${action} an order that is ${current}`) })
  }
  async function step(action: string, body: unknown, status: string, event: string): Promise<Envelope> {
    const res = await act(action, body)
    t.equal(res.status, 200, `${action}: 200`)
    t.equal(res.body.status, status)
    const events = await log.next()
    t.same(typesOf(events), [event], `${action} emits ${event} alone`)
    t.same(schemaErrors(events[0]!), [])
    const { id: _id, ...fields } = res.body
    t.same(events[0]!.data, { order_id: order.id, ...fields, customer: { email: 'kim@example.com', name: 'Kim', accepts_marketing: true } })
    return events[0]!
  }

  await refused('ship', 'pending')
  await refused('deliver', 'pending')
  const paid = await step('pay', undefined, 'paid', 'order.paid')
  t.type(paid.data.paid_at, 'string')
  await refused('pay', 'paid')
  await refused('deliver', 'paid')
  const shipped = await step('ship', { tracking_number: '1Z999AA10123456784' }, 'shipped', 'order.shipped')
  t.equal(shipped.data.tracking_number, '1Z999AA10123456784')
  t.type(shipped.data.shipped_at, 'string')
  await refused('cancel', 'shipped')
  await refused('ship', 'shipped')
  await refused('pay', 'shipped')
  const delivered = await step('deliver', {}, 'delivered', 'order.delivered')
  t.ok(Date.parse(delivered.data.delivered_at) >= Date.parse(delivered.data.shipped_at))
  for (const action of ['pay', 'ship', 'deliver', 'cancel']) await refused(action, 'delivered')
  t.same(await log.next(), [], 'refused moves emitted nothing')
  t.equal(await stockOf(app, kite.id), 19, 'a delivered order keeps its stock taken')

  t.equal((await app.request('POST', '/api/orders/00000000-0000-4000-8000-000000000000/pay')).status, 404)
  t.equal((await app.request('POST', '/api/orders/nope/pay')).status, 404)
  t.equal((await act('pay', { amount: 30 })).status, 400, 'pay takes no body fields')
  t.equal((await app.request('POST', `/api/orders/${order.id}/refund`)).status, 404, 'no such action')
})

t.test('cancelling a pending or a paid order restocks its items and emits order.cancelled with its reason', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const mug = await product(app, { name: 'Mug', price: 8, inventory_quantity: 6 })
  const cap = await product(app, { name: 'Cap', price: 12, inventory_quantity: 9 })
  const log = eventLog(app.database.db)
  await log.next()

  const { body: first } = await app.request('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: mug.id, quantity: 2 }] })
  t.same(typesOf(await log.next()), ['inventory.low', 'inventory.updated', 'order.created'], '6 → 4 crosses the threshold of 5')
  const cancelled = await app.request('POST', `/api/orders/${first.id}/cancel`, { reason: 'Customer changed their mind' })
  t.equal(cancelled.status, 200)
  t.match(cancelled.body, { status: 'cancelled', cancel_reason: 'Customer changed their mind', cancelled_at: String })
  t.equal(await stockOf(app, mug.id), 6)
  let events = await log.next()
  t.same(typesOf(events), ['inventory.updated', 'order.cancelled'], 'rising back above the threshold emits no low')
  t.match(ofType(events, 'order.cancelled')[0]!.data, { previous_status: 'pending', cancel_reason: 'Customer changed their mind' })
  t.match(ofType(events, 'inventory.updated')[0]!.data, { old_quantity: 4, new_quantity: 6, delta: 2, reason: 'order_cancelled', order_id: first.id })

  const { body: second } = await app.request('POST', '/api/orders', {
    customer_id: customer.id,
    items: [
      { product_id: cap.id, quantity: 1 },
      { product_id: mug.id, quantity: 1 },
    ],
  })
  await app.request('POST', `/api/orders/${second.id}/pay`)
  await log.next()
  // the cap is gone from the catalogue by the time the order is cancelled: only the mug can go back
  t.equal((await app.request('DELETE', `/api/products/${cap.id}`)).status, 204)
  await log.next()
  const paidCancel = await app.request('POST', `/api/orders/${second.id}/cancel`)
  t.equal(paidCancel.status, 200)
  t.equal(paidCancel.body.cancel_reason, null)
  events = await log.next()
  t.same(typesOf(events), ['inventory.updated', 'order.cancelled'])
  t.match(ofType(events, 'order.cancelled')[0]!.data, { previous_status: 'paid', cancel_reason: null, paid_at: String })
  t.match(ofType(events, 'inventory.updated')[0]!.data, { product_id: mug.id, old_quantity: 5, new_quantity: 6 })

  for (const action of ['pay', 'ship', 'deliver', 'cancel']) {
    const res = await app.request('POST', `/api/orders/${second.id}/${action}`)
    t.equal(res.status, 409, `${action} a cancelled order`)
    t.equal(res.body.current_status, 'cancelled')
  }
  t.equal((await app.request('POST', `/api/orders/${second.id}/cancel`, { reason: '' })).status, 400, 'an empty reason is refused')
  t.same(await log.next(), [])
  await allMatchTheirSchemas(t, app)
})

t.test('lists orders newest first, filtered by status and by customer, with a cursor', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const { body: other } = await app.request('POST', '/api/customers', { email: 'lee@example.com' })
  const tea = await product(app, { name: 'Tea', price: 4.5, inventory_quantity: 100 })
  const ids: string[] = []
  for (const who of [customer.id, other.id, customer.id, customer.id]) {
    ids.push((await app.request('POST', '/api/orders', { customer_id: who, items: [{ product_id: tea.id, quantity: 1 }] })).body.id)
  }
  await app.request('POST', `/api/orders/${ids[2]}/pay`)
  const list = async (query: string) => (await app.request('GET', `/api/orders${query}`)).body

  t.same((await list('')).orders.map((o: { id: string }) => o.id), [...ids].reverse())
  t.same((await list('?status=paid')).orders.map((o: { id: string }) => o.id), [ids[2]])
  t.same((await list(`?customer_id=${other.id}`)).orders.map((o: { id: string }) => o.id), [ids[1]])
  t.same((await list(`?customer_id=${customer.id}&status=pending`)).orders.map((o: { id: string }) => o.id), [ids[3], ids[0]])
  const page1 = await list(`?customer_id=${customer.id}&limit=2`)
  t.same(page1.orders.map((o: { id: string }) => o.id), [ids[3], ids[2]])
  t.match(page1.orders[0], { items: [{ name: 'Tea', unit_price: 4.5, quantity: 1, line_total: 4.5 }], total: 4.5 })
  const page2 = await list(`?customer_id=${customer.id}&limit=2&cursor=${page1.next_cursor}`)
  t.same(page2.orders.map((o: { id: string }) => o.id), [ids[0]])
  t.equal(page2.next_cursor, null)

  t.equal((await app.request('GET', '/api/orders?status=lost')).status, 400)
  t.equal((await app.request('GET', '/api/orders?customer_id=kim')).status, 400)
  t.equal((await app.request('GET', `/api/orders/${ids[0]}`)).body.id, ids[0])
  t.equal((await app.request('GET', '/api/orders/00000000-0000-4000-8000-000000000000')).body.code, 'NOT_FOUND')
})

t.test('20 concurrent orders for the last 5 units: exactly 5 succeed, nothing is oversold, the inventory events add up', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const last = await product(app, { name: 'Last edition', price: 99.99, inventory_quantity: 5, low_stock_threshold: 2 })
  const log = eventLog(app.database.db)
  await log.next()

  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      app.request('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: last.id, quantity: 1 }] }),
    ),
  )
  const statuses = results.map((r) => r.status)
  t.equal(statuses.filter((s) => s === 201).length, 5, 'five orders got a unit')
  t.equal(statuses.filter((s) => s === 409).length, 15, 'the rest were told the stock ran out')
  t.ok(results.filter((r) => r.status === 409).every((r) => r.body.code === 'INSUFFICIENT_STOCK'))
  t.equal(await stockOf(app, last.id), 0)
  const placed = await app.database.db.selectFrom('order_items').select(sql<number>`sum(quantity)::int`.as('units')).executeTakeFirstOrThrow()
  t.equal(placed.units, 5, 'five units sold in all')

  const events = await log.next()
  t.equal(ofType(events, 'order.created').length, 5)
  const updates = ofType(events, 'inventory.updated')
  t.equal(updates.reduce((sum, e) => sum - e.data.delta, 0), 5, 'the decrements add up to 5')
  t.same(updates.map((e) => e.data.old_quantity).sort(), [1, 2, 3, 4, 5], 'each unit left exactly once')
  t.ok(updates.every((e) => e.data.new_quantity === e.data.old_quantity - 1))
  t.same(ofType(events, 'inventory.low').map((e) => e.data.new_quantity), [2], 'one low, when 3 became 2')
  t.same(ofType(events, 'inventory.out').map((e) => e.data.old_quantity), [1], 'exactly one out')
  const orderIds = new Set(results.filter((r) => r.status === 201).map((r) => r.body.id))
  t.ok(updates.every((e) => orderIds.has(e.data.order_id)), 'each decrement names a placed order')
  await allMatchTheirSchemas(t, app)
})

t.test('concurrent orders naming the same products in opposite orders neither deadlock nor oversell', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const left = await product(app, { name: 'Left glove', inventory_quantity: 10 })
  const right = await product(app, { name: 'Right glove', inventory_quantity: 10 })
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, n) =>
      app.request('POST', '/api/orders', {
        customer_id: customer.id,
        items: (n % 2 ? [left, right] : [right, left]).map((p) => ({ product_id: p.id, quantity: 1 })),
      }),
    ),
  )
  const statuses = results.map((r) => r.status)
  t.equal(statuses.filter((s) => s === 201).length, 10)
  t.equal(statuses.filter((s) => s === 409).length, 20, 'no 500 from a deadlock: every refusal is a clean 409')
  t.equal(await stockOf(app, left.id), 0)
  t.equal(await stockOf(app, right.id), 0)
})

t.test('a write that fails after emitting takes its events with it: the order, stock and outbox stay as they were', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { customer } = await setup(app)
  const vase = await product(app, { name: 'Vase', inventory_quantity: 2 })
  const db = app.database.db
  // a fault late in the transaction: after order.created and inventory.updated were emitted, inventory.out fails
  await sql`
    create function fail_on_out() returns trigger language plpgsql as $$
    begin
      if new.type = 'inventory.out' then raise exception 'simulated failure'; end if;
      return new;
    end $$;
    create trigger fail_on_out before insert on events for each row execute function fail_on_out();
  `.execute(db)
  const before = await rowCounts(db)

  const order = { customer_id: customer.id, items: [{ product_id: vase.id, quantity: 2 }] }
  const failed = await app.request('POST', '/api/orders', order)
  t.equal(failed.status, 500)
  t.same(await rowCounts(db), before, 'no order, item, event or delivery survived')
  t.equal(await stockOf(app, vase.id), 2, 'the stock is untouched')

  await sql`drop trigger fail_on_out on events`.execute(db)
  t.equal((await app.request('POST', '/api/orders', order)).status, 201, 'the same order succeeds once the fault is gone')
  const after = await rowCounts(db)
  t.equal(after.events! - before.events!, 3, 'order.created, inventory.updated, inventory.out')
  t.equal(after.deliveries! - before.deliveries!, 3)
})
