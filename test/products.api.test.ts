import t from 'tap'
import { sql } from 'kysely'
import { startApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'

const subscribeAll = (url: string) => ({
  name: 'Catalog sync',
  slug: 'catalog-sync',
  webhook_url: url,
  events: ['product.created', 'product.updated', 'product.deleted'],
})

t.test('a product write delivers the spec webhook format, exactly', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  await app.request('POST', '/api/plugins', subscribeAll(receiver.url))
  const created = await app.request('POST', '/api/products', {
    name: 'New Product Name',
    description: 'Product description',
    price: 29.99,
    images: ['https://example.com/image1.jpg'],
    tags: ['tag1', 'tag2'],
    collections: ['collection-1'],
  })
  t.equal(created.status, 201)
  t.match(created.body, { id: String, name: 'New Product Name', price: 29.99, status: 'active' })

  const [hook] = await receiver.waitForCount(1)
  t.equal(hook!.method, 'POST')
  t.equal(hook!.headers['content-type'], 'application/json')
  t.match(hook!.headers['user-agent'], /^BetterCallSold-Webhooks\/\d+\.\d+\.\d+/)
  t.match(hook!.headers['webhook-id'], /^dlv_\d+$/)
  t.match(hook!.headers['webhook-timestamp'], /^\d{10}$/)
  t.equal(hook!.headers['x-bettercallsold-event'], 'product.created')
  const body = hook!.json
  t.same(Object.keys(body).sort(), ['data', 'event', 'id', 'tenant_id', 'timestamp'])
  t.equal(body.event, 'product.created')
  t.equal(body.tenant_id, '11111111-1111-1111-1111-111111111111')
  t.ok(new Date(body.timestamp).toISOString() === body.timestamp, 'ISO timestamp')
  t.same(body.data, {
    product_id: created.body.id,
    name: 'New Product Name',
    description: 'Product description',
    price: 29.99,
    status: 'active',
    images: ['https://example.com/image1.jpg'],
    tags: ['tag1', 'tag2'],
    collections: ['collection-1'],
    inventory_quantity: 0,
    low_stock_threshold: 5,
    created_at: created.body.created_at,
    updated_at: created.body.updated_at,
  })
  t.type(body.data.price, 'number', 'price is a number, not a string')
})

t.test('update and delete emit product.updated (with changed fields) and product.deleted', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  await app.request('POST', '/api/plugins', subscribeAll(receiver.url))
  const { body: product } = await app.request('POST', '/api/products', { name: 'Mug', price: 10 })
  const put = await app.request('PUT', `/api/products/${product.id}`, { price: 12.5, name: 'Mug' })
  t.equal(put.status, 200)
  t.equal(put.body.price, 12.5)
  const patch = await app.request('PATCH', `/api/products/${product.id}`, { status: 'archived' })
  t.equal(patch.body.status, 'archived')
  t.equal((await app.request('DELETE', `/api/products/${product.id}`)).status, 204)
  t.equal((await app.request('GET', `/api/products/${product.id}`)).status, 404)

  const hooks = await receiver.waitForCount(4)
  const events = hooks.map((h) => h.json).sort((a, b) => a.timestamp.localeCompare(b.timestamp))
  t.same(events.map((e) => e.event), ['product.created', 'product.updated', 'product.updated', 'product.deleted'])
  t.same(events[1].data.changed_fields, ['price'], 'name was sent but did not change')
  t.equal(events[1].data.price, 12.5)
  t.same(events[2].data.changed_fields, ['status'])
  t.equal(events[3].data.product_id, product.id)
  t.equal(events[3].data.status, 'archived', 'deleted carries the last snapshot')
})

t.test('lists products newest first with a cursor, and validates input', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  for (const name of ['a', 'b', 'c', 'd', 'e']) await app.request('POST', '/api/products', { name })
  const page1 = await app.request('GET', '/api/products?limit=2')
  t.same(page1.body.products.map((p: { name: string }) => p.name), ['e', 'd'])
  const page2 = await app.request('GET', `/api/products?limit=2&cursor=${page1.body.next_cursor}`)
  t.same(page2.body.products.map((p: { name: string }) => p.name), ['c', 'b'])
  const page3 = await app.request('GET', `/api/products?limit=2&cursor=${page2.body.next_cursor}`)
  t.same(page3.body.products.map((p: { name: string }) => p.name), ['a'])
  t.equal(page3.body.next_cursor, null)

  const before = await rowCounts(app.database.db)
  const bad: [string, string, string, unknown, number, string][] = [
    ['no name', 'POST', '/api/products', { price: 1 }, 400, 'VALIDATION_ERROR'],
    ['negative price', 'POST', '/api/products', { name: 'x', price: -1 }, 400, 'VALIDATION_ERROR'],
    ['price as string', 'POST', '/api/products', { name: 'x', price: '19.99' }, 400, 'VALIDATION_ERROR'],
    ['three decimals', 'POST', '/api/products', { name: 'x', price: 19.999 }, 400, 'INVALID_PRICE'],
    ['bad status', 'POST', '/api/products', { name: 'x', status: 'gone' }, 400, 'VALIDATION_ERROR'],
    ['unknown field', 'POST', '/api/products', { name: 'x', sku: 1 }, 400, 'VALIDATION_ERROR'],
    ['malformed id', 'GET', '/api/products/not-a-uuid', undefined, 404, 'NOT_FOUND'],
    ['unknown id', 'GET', '/api/products/00000000-0000-0000-0000-000000000000', undefined, 404, 'NOT_FOUND'],
    ['update unknown', 'PUT', '/api/products/00000000-0000-0000-0000-000000000000', { name: 'y' }, 404, 'NOT_FOUND'],
    ['delete malformed', 'DELETE', '/api/products/%27%3B%20drop', undefined, 404, 'NOT_FOUND'],
    ['limit too big', 'GET', '/api/products?limit=100000', undefined, 400, 'VALIDATION_ERROR'],
    ['bad cursor', 'GET', '/api/products?cursor=garbage', undefined, 400, 'INVALID_CURSOR'],
  ]
  for (const [name, method, path, body, status, code] of bad) {
    const res = await app.request(method, path, body)
    t.equal(res.status, status, `${name}: status`)
    t.equal(res.body.code, code, `${name}: code`)
  }
  t.same(await rowCounts(app.database.db), before, 'nothing changed')
})

t.test('a rolled-back write leaves no event, no delivery and wakes nothing', async (t) => {
  const receiver = await startReceiver(t)
  const app = await startApp(t)
  await app.request('POST', '/api/plugins', subscribeAll(receiver.url))
  const before = await rowCounts(app.database.db)
  // the product insert and its outbox rows succeed, then the transaction fails
  const { createProduct } = await import('../src/products/product.repository.ts')
  await t.rejects(
    app.database.db.transaction().execute(async (trx) => {
      await createProduct(trx, '11111111-1111-1111-1111-111111111111', { name: 'Ghost' })
      await sql`select 1 / 0`.execute(trx)
    }),
  )
  t.same(await rowCounts(app.database.db), before, 'no product, event or delivery')
  // a committed write afterwards is the first and only thing the receiver sees
  await app.request('POST', '/api/products', { name: 'Real' })
  const hooks = await receiver.waitForCount(1)
  t.equal(hooks[0]!.json.data.name, 'Real')
  t.equal(receiver.received.length, 1)
})
