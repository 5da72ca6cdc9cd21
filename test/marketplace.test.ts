import { sql } from 'kysely'
import t from 'tap'
import { createApp } from '../src/apps/app.repository.ts'
import { createDeveloper } from '../src/apps/developer.repository.ts'
import { checkManifest } from '../src/apps/manifest.ts'
import { editDistance } from '../src/marketplace/typos.ts'
import { startApp } from './helpers/app.ts'

const ALLOW = { ALLOW_PRIVATE_WEBHOOKS: true, HTTPS_ONLY: false }

t.test('edit distance counts a swap of neighbours as one edit', async (t) => {
  t.equal(editDistance('invntory', 'inventory'), 1)
  t.equal(editDistance('analitycs', 'analytics'), 2)
  t.equal(editDistance('ab', 'ba'), 1)
  t.equal(editDistance('', 'abc'), 3)
})

t.test('search: listed apps only, name matches first, typos corrected, facets, every sort paged by keyset without gaps or repeats', async (t) => {
  const server = await startApp(t, { RELAY: 'off' })
  const db = server.database.db
  const { row: developer } = await createDeveloper(db, 'Seeder')
  const { cipher } = server.app.ctx
  const add = async (slug: string, name: string, tagline: string, description: string, categories: string[], listed = true) => {
    const m = checkManifest({ name, tagline, description, categories, version: '1.0.0', webhook_url: 'https://apps.example/h', listed }, ALLOW)
    return (await createApp(db, cipher, developer.id, slug, m)).app
  }
  await add('inventory-sync', 'Inventory sync', 'Warehouse stock in step', 'Keeps stock levels right.', ['inventory'])
  await add('stock-helper', 'Stock helper', 'Restock reminders', 'Watches your inventory and reminds you to restock.', ['inventory', 'productivity'])
  await add('analytics-pro', 'Analytics Pro', 'Sales dashboards', 'Charts of what sells.', ['analytics'])
  await add('report-mailer', 'Report mailer', 'Weekly emails', 'Sends analytics reports by email.', ['analytics', 'marketing'])
  await add('secret-tool', 'Inventory secret tool', 'Private', 'Only for one store.', ['inventory'], false)
  for (let i = 0; i < 26; i++) await add(`filler-${i}`, `Filler ${String.fromCharCode(97 + i)} app`, 'Does things', `Filler number ${i}.`, [i % 2 ? 'shipping' : 'marketing'])
  // installs and ratings as installs and reviews would have left them
  await sql`update apps set installs = (length(slug) * 7) % 13, review_count = 1, rating_sum = (length(slug) % 5) + 1`.execute(db)

  const search = async (query: string) => {
    const res = await server.request('GET', `/api/marketplace?${query}`)
    t.equal(res.status, 200, `${query}: ${JSON.stringify(res.body).slice(0, 200)}`)
    return res.body
  }

  const inventory = await search('q=inventory')
  t.same(inventory.apps.map((a: { slug: string }) => a.slug), ['inventory-sync', 'stock-helper'], 'the name match ranks first; the unlisted app never appears')
  t.same(inventory.facets, [{ category: 'inventory', count: 2 }, { category: 'productivity', count: 1 }], 'facet counts of the query')
  t.same((await search('q=invntory')).apps.map((a: { slug: string }) => a.slug), ['inventory-sync', 'stock-helper'], 'a typo finds the same')
  const typo = await search('q=analitycs')
  t.equal(typo.apps[0].slug, 'analytics-pro', '"analitycs" finds Analytics Pro first')
  t.equal(typo.searched, 'analytics')
  t.same((await search('q=analytics&category=marketing')).apps.map((a: { slug: string }) => a.slug), ['report-mailer'], 'category filter')
  t.same((await search('q=zzzzqqqq')).apps, [], 'nothing near: nothing found')
  t.match(await server.request('GET', '/api/marketplace/secret-tool'), { status: 200, body: { listed: false } }, 'an unlisted app is found by its slug')

  const all = (await search('limit=50&sort=name')).apps.map((a: { slug: string }) => a.slug)
  t.equal(all.length, 30, 'listed apps only')
  for (const sort of ['popular', 'rating', 'newest', 'name'] as const) {
    const whole = (await search(`limit=50&sort=${sort}`)).apps
    const paged: string[] = []
    let cursor: string | null = null
    do {
      const page: { apps: { slug: string }[]; next_cursor: string | null } = await search(`limit=7&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`)
      paged.push(...page.apps.map((a) => a.slug))
      cursor = page.next_cursor
    } while (cursor)
    t.same(paged, whole.map((a: { slug: string }) => a.slug), `${sort}: pages of 7 add up to the whole list, in order`)
  }
  const popular = (await search('limit=50&sort=popular')).apps
  t.ok(popular.every((a: { installs: number }, i: number) => i === 0 || popular[i - 1].installs >= a.installs), 'popular: most installs first')
  const rated = (await search('limit=50&sort=rating')).apps
  t.ok(rated.every((a: { rating: number }, i: number) => i === 0 || rated[i - 1].rating >= a.rating), 'rating: best first')
  const byName = (await search('limit=50&sort=name')).apps.map((a: { name: string }) => a.name.toLowerCase())
  t.same(byName, [...byName].sort(), 'name: alphabetical')
  const relevant: string[] = []
  let cursor: string | null = null
  do {
    const page: { apps: { slug: string }[]; next_cursor: string | null } = await search(`q=filler&limit=4${cursor ? `&cursor=${cursor}` : ''}`)
    relevant.push(...page.apps.map((a) => a.slug))
    cursor = page.next_cursor
  } while (cursor)
  t.equal(new Set(relevant).size, 26, 'relevance pages: every match once')
  t.match(await server.request('GET', `/api/marketplace?sort=name&cursor=${Buffer.from(JSON.stringify(['popular', 1, '00000000-0000-4000-8000-000000000000'])).toString('base64url')}`), {
    status: 400,
    body: { code: 'INVALID_CURSOR' },
  }, 'a cursor of another sort is refused')
  t.match((await server.request('GET', '/api/marketplace/categories')).body.categories, [{ slug: 'analytics', name: 'Analytics' }])
})
