import t from 'tap'
import { stockEvents } from '../src/inventory/adjust-stock.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'
import { eventLog, ofType, schemaErrors, typesOf } from './helpers/events.ts'

const INVENTORY_EVENTS = ['inventory.updated', 'inventory.low', 'inventory.out']

async function subscribe(app: TestApp) {
  const res = await app.request('POST', '/api/plugins', {
    name: 'Reorder bot',
    slug: 'reorder-bot',
    webhook_url: 'https://reorder.example/hooks',
    events: INVENTORY_EVENTS,
  })
  if (res.status !== 201) throw new Error(`plugin registration failed: ${JSON.stringify(res.body)}`)
}

t.test('stockEvents: low once per crossing of the threshold, out on reaching 0, nothing without a change', async (t) => {
  t.same(stockEvents(3, 3, 5), [])
  t.same(stockEvents(0, 10, 5), ['inventory.updated'], 'rising is only an update')
  t.same(stockEvents(10, 6, 5), ['inventory.updated'])
  t.same(stockEvents(6, 5, 5), ['inventory.updated', 'inventory.low'], 'at the threshold is low')
  t.same(stockEvents(5, 3, 5), ['inventory.updated'], 'already low: no second low')
  t.same(stockEvents(3, 0, 5), ['inventory.updated', 'inventory.out'])
  t.same(stockEvents(9, 0, 5), ['inventory.updated', 'inventory.low', 'inventory.out'], 'straight to 0 is both')
  t.same(stockEvents(1, 0, 0), ['inventory.updated', 'inventory.low', 'inventory.out'], 'threshold 0: low and out together')
  t.same(stockEvents(0, 0, 5), [])
})

t.test('products carry inventory_quantity (default 0) and low_stock_threshold (default 5)', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const plain = await app.request('POST', '/api/products', { name: 'Plain', price: 1 })
  t.equal(plain.status, 201)
  t.match(plain.body, { inventory_quantity: 0, low_stock_threshold: 5 })
  const stocked = await app.request('POST', '/api/products', { name: 'Stocked', price: 1, inventory_quantity: 12, low_stock_threshold: 3 })
  t.match(stocked.body, { inventory_quantity: 12, low_stock_threshold: 3 })
  t.match((await app.request('GET', `/api/products/${stocked.body.id}`)).body, { inventory_quantity: 12, low_stock_threshold: 3 })
  const [created] = ofType(await eventLog(app.database.db).next(), 'product.created').filter((e) => e.data.product_id === stocked.body.id)
  t.match(created!.data, { inventory_quantity: 12, low_stock_threshold: 3 }, 'product events carry the stock')

  const threshold = await app.request('PATCH', `/api/products/${stocked.body.id}`, { low_stock_threshold: 10 })
  t.equal(threshold.status, 200)
  t.equal(threshold.body.low_stock_threshold, 10)
  const direct = await app.request('PATCH', `/api/products/${stocked.body.id}`, { inventory_quantity: 99 })
  t.equal(direct.status, 400, 'stock changes only through the inventory endpoint, which emits the inventory events')
  t.match(direct.body.message, /inventory_quantity/)
  t.equal((await app.request('POST', '/api/products', { name: 'Neg', inventory_quantity: -1 })).status, 400)
  t.equal((await app.request('POST', '/api/products', { name: 'Frac', inventory_quantity: 1.5 })).status, 400)
})

t.test('each inventory event fires exactly when the stock crosses its line, down and up again', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const { body: product } = await app.request('POST', '/api/products', { name: 'Lamp', price: 40 })
  const log = eventLog(app.database.db)
  await log.next()
  const inventory = (body: unknown) => app.request('PUT', `/api/products/${product.id}/inventory`, body)

  // [change, stock after, events]
  const steps: [object, number, string[]][] = [
    [{ quantity: 10 }, 10, ['inventory.updated']],
    [{ delta: -4 }, 6, ['inventory.updated']],
    [{ delta: -1 }, 5, ['inventory.low', 'inventory.updated']],
    [{ delta: -2 }, 3, ['inventory.updated']],
    [{ quantity: 2 }, 2, ['inventory.updated']],
    [{ delta: -2 }, 0, ['inventory.out', 'inventory.updated']],
    [{ quantity: 0 }, 0, []],
    [{ delta: 0 }, 0, []],
    [{ delta: 3 }, 3, ['inventory.updated']],
    [{ quantity: 8 }, 8, ['inventory.updated']],
    [{ delta: -4 }, 4, ['inventory.low', 'inventory.updated']],
    [{ quantity: 20 }, 20, ['inventory.updated']],
    [{ quantity: 0 }, 0, ['inventory.low', 'inventory.out', 'inventory.updated']],
  ]
  let previous = 0
  for (const [change, after, expected] of steps) {
    const res = await inventory(change)
    const label = `${JSON.stringify(change)} at ${previous}`
    t.equal(res.status, 200, `${label}: status`)
    t.equal(res.body.inventory_quantity, after, `${label}: stock`)
    const events = await log.next()
    t.same(typesOf(events), expected, `${label}: events`)
    for (const e of events) {
      t.same(schemaErrors(e), [], `${label}: ${e.event} matches its schema`)
      t.same(
        e.data,
        {
          product_id: product.id,
          name: 'Lamp',
          old_quantity: previous,
          new_quantity: after,
          delta: after - previous,
          low_stock_threshold: 5,
          reason: 'adjustment',
          order_id: null,
        },
        `${label}: ${e.event} data`,
      )
    }
    previous = after
  }
  t.equal((await app.request('GET', `/api/products/${product.id}`)).body.inventory_quantity, 0)
})

t.test('stock never goes below 0: 409 INSUFFICIENT_STOCK, and the refused change emits nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const { body: product } = await app.request('POST', '/api/products', { name: 'Kettle', price: 25, inventory_quantity: 3 })
  const before = await rowCounts(app.database.db)

  const res = await app.request('PUT', `/api/products/${product.id}/inventory`, { delta: -5 })
  t.equal(res.status, 409)
  t.match(res.body, { statusCode: 409, error: 'Conflict', code: 'INSUFFICIENT_STOCK', message: /Kettle/ })
  t.same(res.body.items, [{ product_id: product.id, name: 'Kettle', requested: 5, available: 3 }])
  t.same(await rowCounts(app.database.db), before, 'no event, no delivery')
  t.equal((await app.request('GET', `/api/products/${product.id}`)).body.inventory_quantity, 3)
})

t.test('malformed stock changes are refused with a 400, and an unknown product with a 404', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await subscribe(app)
  const { body: product } = await app.request('POST', '/api/products', { name: 'Cup', price: 5, inventory_quantity: 3 })
  const before = await rowCounts(app.database.db)
  const cases: [string, unknown, string][] = [
    ['both', { quantity: 5, delta: 1 }, 'INVALID_STOCK_CHANGE'],
    ['neither', {}, 'INVALID_STOCK_CHANGE'],
    ['negative quantity', { quantity: -1 }, 'VALIDATION_ERROR'],
    ['fractional delta', { delta: 0.5 }, 'VALIDATION_ERROR'],
    ['quantity as text', { quantity: '5' }, 'VALIDATION_ERROR'],
    ['unknown property', { quantity: 5, reason: 'recount' }, 'VALIDATION_ERROR'],
    ['huge quantity', { quantity: 2_000_000_000 }, 'VALIDATION_ERROR'],
  ]
  for (const [name, body, code] of cases) {
    const res = await app.request('PUT', `/api/products/${product.id}/inventory`, body)
    t.equal(res.status, 400, `${name}: status`)
    t.equal(res.body.code, code, `${name}: code`)
  }
  await app.request('PUT', `/api/products/${product.id}/inventory`, { quantity: 1_000_000_000 })
  const over = await app.request('PUT', `/api/products/${product.id}/inventory`, { delta: 1 })
  t.equal(over.status, 400)
  t.equal(over.body.code, 'STOCK_TOO_LARGE')
  await app.request('PUT', `/api/products/${product.id}/inventory`, { quantity: 3 })
  const missing = await app.request('PUT', '/api/products/00000000-0000-0000-0000-000000000000/inventory', { quantity: 1 })
  t.equal(missing.status, 404)
  t.equal((await app.request('PUT', '/api/products/nope/inventory', { quantity: 1 })).status, 404)
  const after = await rowCounts(app.database.db)
  t.equal(after.events, before.events! + 3, 'only the two accepted changes emitted: updated, then updated + low')
})

t.test('concurrent adjustments are serialised: 30 decrements of 1 from 30 leave 0 and one consistent event chain', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const { body: product } = await app.request('POST', '/api/products', { name: 'Bulb', price: 3, inventory_quantity: 30 })
  const log = eventLog(app.database.db)
  await log.next()
  const results = await Promise.all(
    Array.from({ length: 30 }, () => app.request('PUT', `/api/products/${product.id}/inventory`, { delta: -1 })),
  )
  t.same(results.map((r) => r.status), Array(30).fill(200))
  t.equal((await app.request('GET', `/api/products/${product.id}`)).body.inventory_quantity, 0)
  const events = await log.next()
  const updates = ofType(events, 'inventory.updated').map((e) => e.data.old_quantity).sort((a, b) => b - a)
  t.same(updates, Array.from({ length: 30 }, (_, n) => 30 - n), 'each unit left exactly once: 30, 29, … 1')
  t.equal(ofType(events, 'inventory.low').length, 1)
  t.equal(ofType(events, 'inventory.low')[0]!.data.new_quantity, 5)
  t.equal(ofType(events, 'inventory.out').length, 1)
})
