import t from 'tap'
import { COMMERCE_EVENT_SCHEMAS } from '../src/events/schemas/commerce.ts'
import { startApp } from './helpers/app.ts'
import { schemaErrors, type Envelope } from './helpers/events.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

t.test('a plugin subscribed to everything receives the whole story of a store session, in one piece', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  const catalog = (await app.request('GET', '/api/event-types')).body.event_types as { name: string; subscribable?: boolean }[]
  const everything = catalog.filter((e) => e.subscribable !== false).map((e) => e.name)
  const plugin = await app.request('POST', '/api/plugins', {
    name: 'Store analytics',
    slug: 'store-analytics',
    webhook_url: receiver.url,
    events: everything,
  })
  t.equal(plugin.status, 201, JSON.stringify(plugin.body))
  t.ok(Object.keys(COMMERCE_EVENT_SCHEMAS).every((name) => everything.includes(name)), 'everything includes every commerce event')

  // The merchant lists a limited print and receives five of them.
  const { body: print } = await app.request('POST', '/api/products', {
    name: 'Limited print',
    price: 45,
    low_stock_threshold: 2,
  })
  t.equal((await app.request('PUT', `/api/products/${print.id}/inventory`, { quantity: 5 })).status, 200)

  // A customer signs up, then agrees to the newsletter.
  const { body: customer } = await app.request('POST', '/api/customers', { email: 'mia@example.com', name: 'Mia Wong' })
  t.equal((await app.request('PATCH', `/api/customers/${customer.id}`, { accepts_marketing: true })).status, 200)

  // She orders one, thinks better of it and cancels.
  const line = (quantity: number) => ({ customer_id: customer.id, items: [{ product_id: print.id, quantity }] })
  const { body: first } = await app.request('POST', '/api/orders', line(1))
  t.equal((await app.request('POST', `/api/orders/${first.id}/cancel`, { reason: 'Ordered the wrong size' })).status, 200)

  // She buys three (stock runs low), then the last two (stock runs out), and that order goes all the way.
  const { body: second } = await app.request('POST', '/api/orders', line(3))
  t.equal(second.status, 'pending')
  const { body: last } = await app.request('POST', '/api/orders', line(2))
  t.equal(last.total, 90)
  const refused = await app.request('POST', '/api/orders', line(1))
  t.equal(refused.status, 409, 'nothing is left to sell')
  t.equal((await app.request('POST', `/api/orders/${last.id}/pay`)).status, 200)
  t.equal((await app.request('POST', `/api/orders/${last.id}/ship`, { tracking_number: 'TRACK-0042' })).status, 200)
  t.equal((await app.request('POST', `/api/orders/${last.id}/deliver`)).status, 200)

  const expected: Record<string, number> = {
    'product.created': 1,
    'inventory.updated': 5, // restock, first order, its cancellation, second order, last order
    'customer.created': 1,
    'customer.updated': 1,
    'order.created': 3,
    'order.cancelled': 1,
    'inventory.low': 1,
    'inventory.out': 1,
    'order.paid': 1,
    'order.shipped': 1,
    'order.delivered': 1,
  }
  const total = Object.values(expected).reduce((a, b) => a + b, 0)
  await receiver.waitForCount(total)
  // every delivery is recorded as sent, and there were no more than these to send
  await waitFor(
    async () => {
      const rows = await app.database.db.selectFrom('deliveries').select('status').execute()
      return rows.length === total && rows.every((r) => r.status === 'sent')
    },
    { message: `${total} deliveries sent` },
  )
  t.equal(receiver.received.length, total, 'each event arrived exactly once')

  const events: Envelope[] = receiver.received.map((r) => r.json)
  const counts: Record<string, number> = {}
  for (const e of events) counts[e.event] = (counts[e.event] ?? 0) + 1
  t.same(counts, expected)
  for (const r of receiver.received) t.equal(r.headers['x-bettercallsold-event'], r.json.event)
  t.same(
    events.filter((e) => !e.event.startsWith('product.')).flatMap(schemaErrors),
    [],
    'every customer, order and inventory payload matches its documented shape',
  )

  const byTime = [...events].sort((a, b) => a.timestamp.localeCompare(b.timestamp))
  const one = (type: string, match: (e: Envelope) => boolean = () => true) => {
    const found = events.filter((e) => e.event === type && match(e))
    t.equal(found.length, 1, `one ${type}`)
    return found[0]!
  }
  t.match(one('customer.created').data, { customer_id: customer.id, email: 'mia@example.com', accepts_marketing: false })
  t.same(one('customer.updated').data.changed_fields, ['accepts_marketing'])
  t.match(one('order.cancelled').data, { order_id: first.id, previous_status: 'pending', cancel_reason: 'Ordered the wrong size' })
  t.match(one('inventory.low').data, { product_id: print.id, old_quantity: 5, new_quantity: 2, order_id: second.id, reason: 'order_created' })
  t.match(one('inventory.out').data, { product_id: print.id, old_quantity: 2, new_quantity: 0, order_id: last.id, reason: 'order_created' })
  t.match(one('order.shipped').data, { order_id: last.id, tracking_number: 'TRACK-0042' })
  t.match(one('order.delivered').data, {
    order_id: last.id,
    status: 'delivered',
    customer: { email: 'mia@example.com', name: 'Mia Wong', accepts_marketing: true },
    items: [{ product_id: print.id, name: 'Limited print', unit_price: 45, quantity: 2, line_total: 90 }],
    total: 90,
  })
  const stock = events
    .filter((e) => e.event === 'inventory.updated')
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
    .map((e) => [e.data.reason, e.data.old_quantity, e.data.new_quantity])
  t.same(stock, [
    ['adjustment', 0, 5],
    ['order_created', 5, 4],
    ['order_cancelled', 4, 5],
    ['order_created', 5, 2],
    ['order_created', 2, 0],
  ])
  const lastOrder = byTime.filter((e) => e.event.startsWith('order.') && e.data.order_id === last.id).map((e) => e.event)
  t.same(lastOrder, ['order.created', 'order.paid', 'order.shipped', 'order.delivered'], 'the last order’s story in order')
  t.equal(byTime[0]!.event, 'product.created')
  t.equal(byTime.at(-1)!.event, 'order.delivered')
  t.equal((await app.request('GET', `/api/products/${print.id}`)).body.inventory_quantity, 0)
})
