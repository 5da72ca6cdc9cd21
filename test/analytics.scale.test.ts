import t from 'tap'
import { sql } from 'kysely'
import { aggregateOnce } from '../src/analytics/aggregator.ts'
import { pluginTotals } from '../src/analytics/analytics.queries.ts'
import { tile, type Range } from '../src/analytics/range.ts'
import { totalPartsQuery } from '../src/analytics/sql/range-totals.ts'
import { alertOnSloBurn } from '../src/alerts/monitor.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { bearer, developerKey, manifest, storeKey } from './helpers/apps.ts'
import { startApp, type TestApp } from './helpers/app.ts'

const DAY = 86_400_000
const HOUR = 3_600_000

/** `n` attempts of `plugin`, `daysAgo` days before now, recorded as the relay would (one transaction). */
async function attempts(app: TestApp, plugin: string, n: number, daysAgo: number, tenantId = DEFAULT_TENANT, error: string | null = null) {
  await app.database.pool.query(
    `with e as (insert into events (id, tenant_id, type, body, created_at)
                values (gen_random_uuid(), $1, 'product.created', '{}', now() - $4 * interval '1 day') returning id, created_at),
          d as (insert into deliveries (tenant_id, event_id, plugin_id, status, attempts)
                select $1, e.id, $2, $5, 1 from e, generate_series(1, $3::integer) returning id)
     insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms, created_at)
     select d.id, 1, case when $6::text is null then 200 else 500 end, $6, 40, now() - $4 * interval '1 day' from d`,
    [tenantId, plugin, n, daysAgo, error === null ? 'sent' : 'failed', error],
  )
}

async function foldAll(app: TestApp, expected: number) {
  const { rows } = await app.database.pool.query('select count(*)::integer as n from delivery_attempts')
  if (rows[0].n < expected) throw new Error('attempts missing')
  await app.aggregator!.catchUp()
}

const pluginId = async (app: TestApp, slug: string, tenantId = DEFAULT_TENANT) =>
  (await app.database.db.selectFrom('plugins').select('id').where('tenant_id', '=', tenantId).where('slug', '=', slug).executeTakeFirstOrThrow()).id

t.test('a range is cut into running totals for whole days and rollups for its edges', async (t) => {
  const now = new Date('2026-03-10T10:30:00Z')
  const range = (from: string, to: string, granularity: Range['granularity']): Range => ({ from: new Date(from), to: new Date(to), granularity })
  t.same(tile(range('2026-02-08T00:00:00Z', now.toISOString(), 'day'), now), { totals: { from: new Date('2026-02-08T00:00:00Z'), to: null }, rows: [] }, '30 days to now: two running totals')
  t.same(
    tile(range('2026-03-09T10:00:00Z', now.toISOString(), 'hour'), now),
    { totals: { from: new Date('2026-03-10T00:00:00Z'), to: null }, rows: [{ grain: 'hour', from: new Date('2026-03-09T10:00:00Z'), to: new Date('2026-03-10T00:00:00Z') }] },
    '24 hours: the first partial day by the hour, today from the running totals',
  )
  t.same(
    tile(range('2026-03-01T05:00:00Z', '2026-03-04T07:10:00Z', 'hour'), now).rows.map((r) => [r.grain, r.from.toISOString(), r.to.toISOString()]),
    [
      ['hour', '2026-03-01T05:00:00.000Z', '2026-03-02T00:00:00.000Z'],
      ['hour', '2026-03-04T00:00:00.000Z', '2026-03-04T08:00:00.000Z'],
    ],
    'a closed range: both edges by the hour (up to the end of the bucket holding `to`)',
  )
  t.same(
    tile(range('2026-03-10T09:05:00Z', now.toISOString(), 'minute'), now).rows.map((r) => [r.grain, r.from.toISOString()]),
    [
      ['minute', '2026-03-10T09:05:00.000Z'],
      ['hour', '2026-03-10T10:00:00.000Z'],
    ],
    'minutes only up to the next hour',
  )
})

t.test('totals over 30 days read two running totals per plugin, however many days of rollups are stored, and add up', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS_INTERVAL_MS: '600000' })
  for (const slug of ['a', 'b']) {
    await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: `https://${slug}.example.com/h`, events: ['product.created'] })
  }
  const [a, b] = [await pluginId(app, 'a'), await pluginId(app, 'b')]
  // 60 days of history for a, in one slice and in several: days before, inside and at the edge of the range
  for (const daysAgo of [59, 45, 31, 29, 20, 10, 1, 0]) await attempts(app, a, 3, daysAgo)
  await attempts(app, b, 5, 40)
  await attempts(app, b, 7, 2, DEFAULT_TENANT, 'HTTP 500')
  await foldAll(app, 29)

  const now = new Date()
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 29 * DAY)
  const range: Range = { from, to: now, granularity: 'day' }
  const totals = await pluginTotals(app.database.db, DEFAULT_TENANT, range)
  t.match(totals.get(a), { attempts: 15, sent: 15 }, 'a: the days inside the range (29, 20, 10, 1, 0 days ago)')
  t.match(totals.get(b), { attempts: 7, sent: 0, failed: 7 }, 'b: the failures of two days ago, not the sends of 40 days ago')
  t.equal(totals.get(a)!.latency.reduce((x, y) => x + y, 0), 15, 'the histogram adds up too')

  // attempts of an older day folded after newer days: added to that day and every later running total
  await attempts(app, b, 2, 15)
  await foldAll(app, 31)
  t.match((await pluginTotals(app.database.db, DEFAULT_TENANT, range)).get(b), { attempts: 9, sent: 2, failed: 7 }, 'b: the late day counts')
  const lastTwoWeeks: Range = { from: new Date(from.getTime() + 16 * DAY), to: now, granularity: 'day' }
  t.match((await pluginTotals(app.database.db, DEFAULT_TENANT, lastTwoWeeks)).get(b), { attempts: 7 }, 'and not in a range that starts after it')

  // the same through the API, and what the statement reads: two running totals per plugin
  const overview = (await app.request('GET', `/api/analytics/overview?from=${from.toISOString()}`)).body
  t.match(overview.plugins.find((p: { plugin: string }) => p.plugin === 'a'), { totals: { attempts: 15, success_rate: 1 } })
  const query = totalPartsQuery({ tenantId: DEFAULT_TENANT }, tile(range, now), { latency: true, e2e: false, causes: true })!.compile(app.database.db)
  const { rows } = await app.database.pool.query(`explain (analyze, format json) ${query.sql}`, [...query.parameters])
  const scans: { relation: string; rows: number; loops: number }[] = []
  const walk = (node: Record<string, any>) => {
    if (node['Relation Name']?.startsWith('analytics')) scans.push({ relation: node['Relation Name'], rows: node['Actual Rows'], loops: node['Actual Loops'] })
    for (const child of node.Plans ?? []) walk(child)
  }
  walk(rows[0]['QUERY PLAN'][0].Plan)
  t.same([...new Set(scans.map((s) => s.relation))], ['analytics_total'], 'reads the running totals only, never the day rollups')
  t.ok(scans.every((s) => s.rows * s.loops <= 2), `at most one row per probe, one probe per plugin: ${JSON.stringify(scans)}`)
})

t.test('an app’s developer sees the app’s numbers across its installations, never another developer’s app', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS_INTERVAL_MS: '600000' })
  const [storeA, storeB] = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002']
  const acme = await developerKey(app, 'Acme')
  const rival = await developerKey(app, 'Rival')
  const api = (method: string, path: string, body: unknown, key: string) => app.request(method, path, body, bearer(key))
  t.equal((await api('POST', '/api/apps', { slug: 'sync', ...manifest('https://sync.example.com/hook') }, acme)).status, 201)
  t.equal((await api('POST', '/api/apps', { slug: 'other', ...manifest('https://other.example.com/hook') }, rival)).status, 201)
  const install = async (slug: string, store: string) => {
    const res = await api('POST', `/api/marketplace/${slug}/install`, { accept_permissions: ['products:read'], config: { api_key: 'secret-key-1' } }, await storeKey(app, store))
    t.equal(res.status, 201, `${slug} installed in ${store}`)
    const { rows } = await app.database.pool.query('select plugin_id from installations where id = $1', [res.body.id])
    return rows[0].plugin_id as string
  }
  await attempts(app, await install('sync', storeA), 4, 0, storeA)
  await attempts(app, await install('sync', storeB), 6, 0, storeB, 'HTTP 500')
  await attempts(app, await install('other', storeA), 9, 0, storeA)
  await foldAll(app, 19)

  const mine = await api('GET', '/api/apps/sync/analytics?granularity=hour', undefined, acme)
  t.equal(mine.status, 200)
  t.match(mine.body, { app: 'sync', installations: 2, granularity: 'hour', totals: { attempts: 10, sent: 4, failed: 6, failures: { http_5xx: 6 } } }, 'both stores, added')
  t.equal(mine.body.series.length, 25, 'every hour of the last day')
  t.match((await api('GET', '/api/apps/other/analytics', undefined, rival)).body, { app: 'other', installations: 1, totals: { attempts: 9 } })
  t.match(await api('GET', '/api/apps/other/analytics', undefined, acme), { status: 404, body: { code: 'NOT_FOUND' } }, 'another developer’s app is not found')
  t.match(await api('GET', '/api/apps/sync/analytics', undefined, rival), { status: 404, body: { code: 'NOT_FOUND' } })
  t.match(await app.request('GET', '/api/apps/sync/analytics'), { status: 401, body: { code: 'MISSING_DEVELOPER_KEY' } }, 'a developer key, nothing else')
  t.match(await app.request('GET', '/api/apps/sync/analytics', undefined, bearer(await storeKey(app, storeA))), { status: 401, body: { code: 'INVALID_DEVELOPER_KEY' } })
  t.match(await api('GET', '/api/apps/sync/analytics?granularity=week', undefined, acme), { status: 400 })
})

t.test('the SLO check reads a bounded batch of watched plugins, least recently checked first, never the quiet ones', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS_INTERVAL_MS: '600000' })
  const slo = { success_rate: 0.99 }
  for (const slug of ['s1', 's2', 's3', 'quiet']) {
    await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: `https://${slug}.example.com/h`, events: ['product.created'], slo })
  }
  const ids = await Promise.all(['s1', 's2', 's3'].map((s) => pluginId(app, s)))
  for (const id of ids) await attempts(app, id, 2, 0)
  await foldAll(app, 6)
  const watched = async () =>
    (await app.database.pool.query<{ slug: string; checked: boolean }>(
      `select p.slug, a.slo_checked_at is not null as checked from plugin_alerts a join plugins p on p.id = a.plugin_id
        where a.slo_watch_until is not null order by p.slug`,
    )).rows
  t.same((await watched()).map((w) => w.slug), ['s1', 's2', 's3'], 'plugins with an SLO and attempts are watched; the quiet one is not')

  await sql`update plugin_alerts set slo_checked_at = null`.execute(app.database.db)
  await app.database.db.transaction().execute((trx) => alertOnSloBurn(trx, 2))
  t.equal((await watched()).filter((w) => w.checked).length, 2, 'one run checks a batch of 2')
  await app.database.db.transaction().execute((trx) => alertOnSloBurn(trx, 1))
  const after = await app.database.pool.query('select plugin_id from plugin_alerts where slo_checked_at is not null')
  t.equal(after.rowCount, 3, 'the next run takes the one not yet checked')

  // six hours later, quiet and not burning: off the watch
  await sql`update plugin_alerts set slo_watch_until = now() - interval '1 second'`.execute(app.database.db)
  await app.database.db.transaction().execute((trx) => alertOnSloBurn(trx, 10))
  t.same(await watched(), [], 'no plugin is read any more')
})

t.test('burn rates from whole hours and edge minutes equal the ones from every minute of the window', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS: 'off' })
  await app.request('POST', '/api/plugins', { name: 'b', slug: 'b', webhook_url: 'https://b.example.com/h', events: ['product.created'] })
  const id = await pluginId(app, 'b')
  const now = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 17_000)
  // 7 hours of minutes, each with its own mix of failures, and the hour rows that add them up
  await app.database.pool.query(
    `insert into analytics_minute (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
     select $1, $2, 'product.created', date_trunc('minute', $3::timestamptz) - m * interval '1 minute', 10, 10 - (m * 7) % 11, (m * 7) % 11, 0, '{}', '{}', '{}'
       from generate_series(0, 420) m`,
    [DEFAULT_TENANT, id, now],
  )
  await app.database.pool.query(
    `insert into analytics_hour (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
     select tenant_id, plugin_id, event_type, date_trunc('hour', bucket), sum(attempts), sum(sent), sum(retried), 0, '{}', '{}', '{}'
       from analytics_minute group by 1, 2, 3, 4`,
  )
  const { sloStates, WINDOWS } = await import('../src/analytics/slo.ts')
  const state = (await sloStates(app.database.db, [{ id, slo: { success_rate: 0.9 } }], now)).get(id)!
  for (const [w, span] of Object.entries(WINDOWS)) {
    const { rows } = await app.database.pool.query(
      `select sum(attempts)::float8 as a, sum(sent)::float8 as s from analytics_minute where plugin_id = $1 and bucket > $2::timestamptz - $3 * interval '1 minute'`,
      [id, now, span],
    )
    const expected = Math.round(((rows[0].a - rows[0].s) / rows[0].a / 0.1) * 10_000) / 10_000
    t.equal(state.burn_rates[w as keyof typeof WINDOWS], expected, `${w}: ${expected}`)
  }
})
