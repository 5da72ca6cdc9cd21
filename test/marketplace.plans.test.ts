import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely'
import t from 'tap'
import type { DB } from '../src/db/schema.ts'
import { searchApps } from '../src/marketplace/search.ts'
import { installationsWithHealth } from '../src/apps/developer-view.ts'
import { testDatabase } from './helpers/db.ts'

/** Every node of an EXPLAIN (FORMAT JSON) plan, flattened. */
function nodes(plan: any): any[] {
  return [plan, ...((plan.Plans as any[]) ?? []).flatMap(nodes)]
}

t.test('the marketplace’s queries read their indexes on a database that was never analyzed', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  // thousands of apps and words, inserted the fast way; no ANALYZE, as after a restore or a fresh deploy
  await sql`insert into developers (id, name, prefix, key_hash) values ('00000000-0000-4000-8000-000000000001', 'Seed', 'x', 'x')`.execute(db)
  await sql`
    insert into apps (developer_id, slug, name, tagline, description, categories, listed, version, webhook_url, events, permissions,
                      config_schema, client_id, signing_secret, installs, search)
    select '00000000-0000-4000-8000-000000000001', 'app-' || g, 'App ' || md5(g::text), 'Tagline', 'Description ' || md5(g::text),
           array[(array['analytics', 'inventory', 'marketing', 'shipping'])[1 + g % 4]], g % 10 <> 0, '1.0.0', 'https://x.example/h',
           '{}', '[]', '{"type":"object"}', 'app_' || lpad(to_hex(g), 20, '0'), 'x', g % 97,
           setweight(to_tsvector('english', 'App ' || md5(g::text)), 'A') || setweight(to_tsvector('english', 'Description ' || md5(g::text)), 'C')
      from generate_series(1, 20000) g
  `.execute(db)
  await sql`insert into app_search_words (word) select md5(g::text) from generate_series(1, 20000) g`.execute(db)

  const captured: CompiledQuery[] = []
  const logging = new Kysely<DB>({ dialect: new PostgresDialect({ pool: database.pool }), log: (event) => void captured.push(event.query) })
  const explain = async (query: CompiledQuery) => {
    const { rows } = await database.pool.query(`explain (format json) ${query.sql}`, query.parameters as unknown[])
    return nodes(rows[0]['QUERY PLAN'][0].Plan)
  }
  const indexesOf = (plan: any[]) => new Set(plan.map((n) => n['Index Name']).filter(Boolean))
  const seqScans = (plan: any[], table: string) => plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table)

  const cases: [name: string, run: () => Promise<unknown>, index: string][] = [
    ['a text search', () => searchApps(logging, { q: 'c4ca4238a0b923820dcc509a6f75849b', limit: 20 }), 'apps_listed_search'],
    ['the most popular', () => searchApps(logging, { sort: 'popular', limit: 20 }), 'apps_listed_popular'],
    ['the newest', () => searchApps(logging, { sort: 'newest', limit: 20 }), 'apps_listed_newest'],
    ['by name', () => searchApps(logging, { sort: 'name', limit: 20 }), 'apps_listed_name'],
    ['the best rated', () => searchApps(logging, { sort: 'rating', limit: 20 }), 'apps_listed_rating'],
  ]
  for (const [name, run, index] of cases) {
    captured.length = 0
    await run()
    const main = captured.find((q) => /order by/i.test(q.sql) && /limit/i.test(q.sql) && /from apps a/.test(q.sql))!
    const plan = await explain(main)
    t.ok(indexesOf(plan).has(index), `${name}: reads ${index} (plan: ${[...indexesOf(plan)].join(', ') || 'no index'})`)
    t.same(seqScans(plan, 'apps'), [], `${name}: no sequential scan of apps`)
  }

  captured.length = 0
  await searchApps(logging, { q: 'analitycs invntory', limit: 20 })
  const typo = captured.find((q) => /app_search_words/.test(q.sql))!
  const typoPlan = await explain(typo)
  t.ok(indexesOf(typoPlan).has('app_search_words_trgm'), 'typo candidates come from the trigram index')
  t.same(seqScans(typoPlan, 'app_search_words'), [], 'never a scan of the whole vocabulary')

  captured.length = 0
  await installationsWithHealth(logging, '00000000-0000-4000-8000-000000000009', 50)
  const view = await explain(captured[0]!)
  t.same(seqScans(view, 'installations'), [], 'the developer’s view reads installations_app')
  t.same(seqScans(view, 'deliveries'), [], 'and the day’s deliveries by index')
})
