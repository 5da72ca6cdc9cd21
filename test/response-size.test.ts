import { sql } from 'kysely'
import t from 'tap'
import { startApp } from './helpers/app.ts'

const INLINE = 1024
const TOTAL = 64 * 1024

t.test('the events log carries payloads up to MAX_INLINE_PAYLOAD_BYTES each and MAX_LIST_RESPONSE_BYTES a page, with a link to the rest', async (t) => {
  const app = await startApp(t, { RELAY: 'off', MAX_INLINE_PAYLOAD_BYTES: String(INLINE), MAX_LIST_RESPONSE_BYTES: String(TOTAL) })
  t.equal((await app.request('POST', '/api/plugins', { name: 'Log', slug: 'log', webhook_url: 'https://hooks.example.com/x', events: ['product.created'], status: 'paused' })).status, 201)
  const big = await app.request('POST', '/api/products', { name: 'Big', tags: Array.from({ length: 5 }, (_, i) => `${i}`.repeat(1000)) })
  t.equal(big.status, 201)
  const small = await app.request('POST', '/api/products', { name: 'Small' })
  t.equal(small.status, 201)

  const { events } = (await app.request('GET', '/api/plugins/events')).body
  const [newest, large] = events
  t.match(newest, { payload: { data: { name: 'Small' } }, payload_truncated: false, payload_url: `/api/plugins/events/${newest.id}` })
  t.equal(newest.payload_bytes, Buffer.byteLength(JSON.stringify(newest.payload)), 'payload_bytes is the size of the payload as sent')
  t.match(large, { payload: null, payload_truncated: true, payload_url: `/api/plugins/events/${large.id}` })
  t.ok(large.payload_bytes > INLINE, `the large payload has ${large.payload_bytes} bytes`)
  const whole = (await app.request('GET', large.payload_url)).body
  t.match(whole, { payload: { data: { name: 'Big' } }, payload_truncated: false, payload_bytes: large.payload_bytes }, 'its link returns it whole')

  // many small ones: included in page order until their bytes reach the page's budget
  for (let i = 0; i < 150; i++) await app.request('POST', '/api/products', { name: `P${i}`, description: 'z'.repeat(400) })
  const page = (await app.request('GET', '/api/plugins/events?limit=500')).body.events as { payload_bytes: number; payload_truncated: boolean }[]
  const included = page.filter((e) => !e.payload_truncated)
  const inlineSum = included.reduce((sum, e) => sum + e.payload_bytes, 0)
  t.ok(inlineSum <= TOTAL && inlineSum > TOTAL - INLINE, `${included.length} payloads, ${inlineSum} bytes, fill the page's budget and no more`)
  const firstLeftOut = page.findIndex((e) => e.payload_truncated && e.payload_bytes <= INLINE)
  t.ok(firstLeftOut > 0 && page.slice(firstLeftOut).every((e) => e.payload_truncated), 'past the budget every payload is left out, newest kept')
  t.equal(page.length, 152, 'every delivery is still listed')
})

t.test('GET /api/plugins pages by cursor and by bytes of config and metadata, keeping its shape and order', async (t) => {
  const app = await startApp(t, { RELAY: 'off', MAX_LIST_RESPONSE_BYTES: String(TOTAL) })
  const config = { blob: 'c'.repeat(10_000) }
  for (let i = 0; i < 7; i++) {
    const res = await app.request('POST', '/api/plugins', { name: `P${i}`, slug: `p${i}`, webhook_url: 'https://hooks.example.com/x', events: ['product.created'], config, metadata: config })
    t.equal(res.status, 201)
  }
  const all = async (query: string) => {
    const pages: string[][] = []
    let cursor: string | null = null
    do {
      const res: { status: number; body: { plugins: { slug: string }[]; next_cursor: string | null } } = await app.request(
        'GET',
        `/api/plugins?${query}${cursor ? `&cursor=${cursor}` : ''}`,
      )
      t.equal(res.status, 200)
      pages.push(res.body.plugins.map((p) => p.slug))
      cursor = res.body.next_cursor
    } while (cursor && pages.length < 20)
    return pages
  }
  const slugs = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']
  const byBytes = await all('limit=500')
  t.same(byBytes.flat(), slugs, 'every plugin once, oldest first')
  t.same(byBytes.map((p) => p.length), [3, 3, 1], '~20 KB a plugin: three fit in a 64 KiB page')
  t.same((await all('limit=2')).map((p) => p.length), [2, 2, 2, 1], 'and by limit')

  const first = (await app.request('GET', '/api/plugins')).body
  t.same(Object.keys(first).sort(), ['next_cursor', 'plugins'], 'the response keeps `plugins`, adding `next_cursor`')
  t.match(first.plugins[0], { slug: 'p0', config, metadata: config })

  // rows created in one millisecond: the cursor keeps the microseconds, so none is skipped
  await sql`update plugins set created_at = '2026-01-01T00:00:00.000001Z'::timestamptz + (substr(slug, 2)::int * interval '1 microsecond')`.execute(app.database.db)
  t.same((await all('limit=1')).flat(), slugs, 'one a page, none skipped')

  for (const cursor of ['nope', Buffer.from('2026-01-01|x').toString('base64url'), 'x'.repeat(201)]) {
    t.match(await app.request('GET', `/api/plugins?cursor=${cursor}`), { status: 400 }, `cursor ${cursor.slice(0, 20)}`)
  }
  t.match(await app.request('GET', '/api/plugins?limit=501'), { status: 400, body: { code: 'VALIDATION_ERROR' } })
})

t.test('GET /api/products ends a page at MAX_LIST_RESPONSE_BYTES too, and its cursor goes on from there', async (t) => {
  const app = await startApp(t, { RELAY: 'off', MAX_LIST_RESPONSE_BYTES: String(TOTAL) })
  const tags = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(2000, 't'))
  for (let i = 0; i < 7; i++) t.equal((await app.request('POST', '/api/products', { name: `P${i}`, tags })).status, 201)
  const pages: string[][] = []
  let cursor: string | null = null
  do {
    const res: { body: { products: { name: string }[]; next_cursor: string | null } } = await app.request('GET', `/api/products?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
    pages.push(res.body.products.map((p) => p.name))
    cursor = res.body.next_cursor
  } while (cursor && pages.length < 10)
  t.same(pages.flat(), ['P6', 'P5', 'P4', 'P3', 'P2', 'P1', 'P0'], 'every product once, newest first')
  t.same(pages.map((p) => p.length), [3, 3, 1], '~20 KB a product: three a 64 KiB page')
  t.same((await app.request('GET', '/api/products?limit=2')).body.products.length, 2, 'the limit still applies')
})
