import t from 'tap'
import { startApp, type TestApp } from './helpers/app.ts'

/**
 * Issues 19 and 20: every write that can emit takes the ordered plugins' turns in
 * one global order (src/outbox/emit.ts, outboxTransaction), so no two writes can
 * deadlock on them. Three ordered plugins with overlapping events; every pair of
 * emitting writes (each with itself too) runs concurrently on one product, one
 * customer and one tenant; no request may answer a 5xx.
 */
const ORDERED = {
  o1: ['product.updated', 'inventory.updated', 'customer.created', 'order.created'],
  o2: ['product.updated', 'order.created', 'order.cancelled', 'inventory.low'],
  o3: ['inventory.updated', 'order.cancelled', 'product.created', 'customer.updated', 'product.deleted'],
}
const PER_SIDE = 5

type Write = (i: number) => Promise<number>

t.test('every pair of emitting writes runs concurrently against ordered plugins without a 5xx', async (t) => {
  const app = await startApp(t, { RELAY: 'off', RATE_LIMIT_PER_MINUTE: '1000000' })
  const ok = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(method, path, body)
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body
  }
  for (const [slug, events] of Object.entries(ORDERED)) {
    await ok('POST', '/api/plugins', { name: slug, slug, webhook_url: 'http://127.0.0.1:9/hook', events, ordered: true })
  }
  const product = await ok('POST', '/api/products', { name: 'Shared', price: 1, inventory_quantity: 1_000_000, low_stock_threshold: 10 })
  const customer = await ok('POST', '/api/customers', { email: 'shared@example.com' })
  const pairs = (Object.keys(writes(app, product.id, customer.id, [], [])) as string[]).flatMap((a, n, all) => all.slice(n).map((b) => [a, b]))
  // what the one-shot writes consume: an order to cancel, a product to delete, per request
  const uses = (name: string) => pairs.reduce((n, [a, b]) => n + (a === name ? PER_SIDE : 0) + (b === name ? PER_SIDE : 0), 0)
  const orders: string[] = []
  const doomed: string[] = []
  for (let i = 0; i < uses('cancel order'); i++) {
    orders.push((await ok('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: product.id, quantity: 1 }] })).id)
  }
  for (let i = 0; i < uses('delete product'); i++) doomed.push((await ok('POST', '/api/products', { name: `doomed ${i}` })).id)
  const all = writes(app, product.id, customer.id, orders, doomed)

  const failures: string[] = []
  let requests = 0
  for (const [a, b] of pairs) {
    const statuses = await Promise.all(
      Array.from({ length: PER_SIDE * 2 }, (_, i) => {
        const name = i % 2 ? b! : a!
        return all[name]!(i).then((status) => ({ name, status }))
      }),
    )
    requests += statuses.length
    for (const { name, status } of statuses) if (status >= 300) failures.push(`${a} × ${b}: ${name} answered ${status}`)
  }
  t.same(failures, [], `${requests} concurrent writes over ${pairs.length} pairs, every one 2xx`)
})

function writes(app: TestApp, productId: string, customerId: string, orders: string[], doomed: string[]): Record<string, Write> {
  const status = (p: Promise<{ status: number }>) => p.then((r) => r.status)
  let customers = 0
  return {
    'create product': (i) => status(app.request('POST', '/api/products', { name: `new ${i}` })),
    'update product': (i) => status(app.request('PATCH', `/api/products/${productId}`, { price: 1 + (i % 7) })),
    'adjust stock': (i) => status(app.request('PUT', `/api/products/${productId}/inventory`, { delta: i % 2 ? 1 : -1 })),
    'create order': () =>
      status(app.request('POST', '/api/orders', { customer_id: customerId, items: [{ product_id: productId, quantity: 1 }] })),
    'cancel order': () => status(app.request('POST', `/api/orders/${orders.pop()}/cancel`, {})),
    'delete product': () => status(app.request('DELETE', `/api/products/${doomed.pop()}`)),
    'create customer': () => status(app.request('POST', '/api/customers', { email: `c${customers++}@example.com` })),
    'update customer': (i) => status(app.request('PATCH', `/api/customers/${customerId}`, { name: `Name ${i}` })),
  }
}
