import pg from 'pg'
import t from 'tap'
import { sql } from 'kysely'
import { aggregateOnce } from '../src/analytics/aggregator.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

/** Known latencies: log-uniform from 2 ms to 8 s, deterministic. */
function latencies(n: number): number[] {
  let seed = 42
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  return Array.from({ length: n }, () => Math.round(2 * Math.exp(next() * Math.log(4000))))
}

/** Nearest-rank percentile: the value at rank ⌈q·n⌉ of the sorted list. */
const exact = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!

async function pluginId(app: TestApp, slug: string, tenantId = DEFAULT_TENANT): Promise<string> {
  const row = await app.database.db.selectFrom('plugins').select('id').where('tenant_id', '=', tenantId).where('slug', '=', slug).executeTakeFirstOrThrow()
  return row.id
}

/** Writes `durations.length` sent deliveries with one attempt each, as the relay would have recorded them. */
async function recordAttempts(run: (text: string, values: unknown[]) => Promise<unknown>, plugin: string, durations: number[], error: string | null = null, status = 200) {
  await run(
    `with e as (insert into events (id, tenant_id, type, body) values (gen_random_uuid(), $1, 'product.created', '{}') returning id),
          d as (insert into deliveries (tenant_id, event_id, plugin_id, status, attempts)
                select $1, e.id, $2, $4, 1 from e, generate_series(1, cardinality($3::integer[])) returning id),
          n as (select id, row_number() over (order by id) as i from d)
     insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms)
     select n.id, 1, $6, $5, ($3::integer[])[n.i] from n`,
    [DEFAULT_TENANT, plugin, durations, error === null ? 'sent' : 'failed', error, status],
  )
}

t.test('percentiles from the rollups are within 10 % of the exact percentiles of the same attempts', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS: 'off' })
  await app.request('POST', '/api/plugins', { name: 'Timed', slug: 'timed', webhook_url: 'https://timed.example.com/h', events: ['product.created'] })
  const id = await pluginId(app, 'timed')
  const durations = latencies(3000)
  // in three transactions, so that several slices and upserts add up
  for (let i = 0; i < 3; i++) {
    await recordAttempts((text, values) => app.database.pool.query(text, values), id, durations.slice(i * 1000, (i + 1) * 1000))
  }
  // (a transaction open elsewhere in the cluster, e.g. another test file creating its database, can hold a run back)
  let folded = 0
  await waitFor(async () => (folded += (await aggregateOnce(app.database.db, app.config))?.attempts ?? 0) >= 3000, { message: 'all folded' })
  t.equal(folded, 3000, 'every attempt folded, once')

  const sorted = [...durations].sort((a, b) => a - b)
  for (const granularity of ['minute', 'hour', 'day']) {
    const from = new Date(Date.now() - 3_600_000).toISOString()
    const res = await app.request('GET', `/api/analytics/plugins/timed?granularity=${granularity}&from=${from}`)
    t.equal(res.status, 200, granularity)
    const { totals } = res.body
    t.match(totals, { attempts: 3000, sent: 3000, retried: 0, failed: 0, success_rate: 1 })
    for (const [q, field] of [[0.5, 'p50_ms'], [0.95, 'p95_ms'], [0.99, 'p99_ms']] as const) {
      const truth = exact(sorted, q)
      const error = Math.abs(totals[field] - truth) / truth
      t.ok(error <= 0.1, `${granularity} ${field}: ${totals[field]} vs exact ${truth} (${(error * 100).toFixed(1)} %)`)
    }
    t.ok(totals.e2e_p50_ms !== null, 'commit → delivered measured for sent attempts')
  }
})

t.test('a transaction that commits late is aggregated once, when it commits; concurrent aggregators count each attempt once', async (t) => {
  const app = await startApp(t, { RELAY: 'off', ANALYTICS: 'off' })
  await app.request('POST', '/api/plugins', { name: 'Late', slug: 'late', webhook_url: 'https://late.example.com/h', events: ['product.created'] })
  const id = await pluginId(app, 'late')
  const late = new pg.Client({ connectionString: app.database.url })
  await late.connect()
  t.teardown(() => late.end())
  const total = async () =>
    Number((await sql<{ n: number }>`select coalesce(sum(attempts), 0)::integer as n from analytics_hour`.execute(app.database.db)).rows[0]!.n)

  // the late transaction draws its attempt id first, then another commits a higher id
  await late.query('begin')
  await recordAttempts((text, values) => late.query(text, values), id, [10])
  await recordAttempts((text, values) => app.database.pool.query(text, values), id, [20])
  const ids = (await app.database.pool.query('select id from delivery_attempts order by id')).rows.map((r) => Number(r.id))
  t.equal(ids.length, 1, 'only the committed attempt is visible yet')
  const { rows: [seq] } = await app.database.pool.query(`select last_value from delivery_attempts_id_seq`)
  t.ok(ids[0] === Number(seq.last_value), 'the committed one has the higher id; the late one holds a lower id')

  await aggregateOnce(app.database.db, app.config)
  t.equal(await total(), 0, 'nothing at or after the open transaction is aggregated: the watermark waits')
  await late.query('commit')
  // (transactions anywhere in the cluster hold the horizon back a moment: other test files create databases)
  await waitFor(async () => {
    await aggregateOnce(app.database.db, app.config)
    return (await total()) === 2
  }, { message: 'both attempts aggregated' })
  t.pass('both, once the late one committed')
  for (let i = 0; i < 3; i++) await aggregateOnce(app.database.db, app.config)
  t.equal(await total(), 2, 'and never again')

  // a rolled-back transaction leaves nothing to count and does not hold the watermark
  await late.query('begin')
  await recordAttempts((text, values) => late.query(text, values), id, [30])
  await late.query('rollback')
  for (let i = 0; i < 5; i++) await recordAttempts((text, values) => app.database.pool.query(text, values), id, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  const runs = await Promise.all([0, 1, 2, 3].map(() => aggregateOnce(app.database.db, app.config)))
  t.ok(runs.some((r) => r === null) || runs.filter((r) => r && r.attempts > 0).length === 1, 'one aggregator works at a time')
  await waitFor(async () => {
    await aggregateOnce(app.database.db, app.config)
    return (await total()) >= 52
  }, { message: 'caught up' })
  for (let i = 0; i < 3; i++) await aggregateOnce(app.database.db, app.config)
  t.equal(await total(), 52, 'every committed attempt exactly once')
})

t.test('failures are counted by cause, from real deliveries through the relay', async (t) => {
  const receiver = await startReceiver(t, (request) => (request.path.endsWith('/gone') ? 503 : request.path.endsWith('/slow') ? 'hang' : 200))
  const closed = await startReceiver(t, 200)
  // long enough that a 503 on a busy machine is not read as a timeout; the hanging one still times out
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '1', WEBHOOK_TIMEOUT_MS: '2000' })
  const closedUrl = closed.url
  // a port nothing listens on any more: connection refused
  await new Promise((resolve) => setImmediate(resolve))
  const plugins = [
    ['ok', receiver.url],
    ['five', `${receiver.url}/gone`],
    ['slow', `${receiver.url}/slow`],
    ['refused', closedUrl.replace(/:\d+\//, ':9/')],
  ] as const
  for (const [slug, url] of plugins) await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: url, events: ['order.paid', 'product.created'] })
  await app.request('POST', '/api/products', { name: 'Lamp' })
  await app.request('POST', '/api/products', { name: 'Desk' })
  const expected = { ok: 'sent', five: 'http_5xx', slow: 'timeout', refused: 'connect' } as const
  for (const [slug, cause] of Object.entries(expected)) {
    const body = await waitFor(
      async () => {
        const b = (await app.request('GET', `/api/analytics/plugins/${slug}`)).body
        return b.totals.attempts === (cause === 'sent' ? 2 : 4) && b
      },
      { message: `${slug}: 2 deliveries × 2 attempts in the rollups` },
    )
    if (cause === 'sent') {
      t.match(body.totals, { attempts: 2, sent: 2, failed: 0, success_rate: 1 }, slug)
      continue
    }
    t.match(body.totals, { attempts: 4, sent: 0, retried: 2, failed: 2, success_rate: 0 }, slug)
    t.equal(body.totals.failures[cause], 4, `${slug}: every failure is ${cause}`)
    t.same(body.by_event_type.map((e: { event: string }) => e.event), ['product.created'], 'by event type')
    t.equal(body.series.length, 25, 'the last day, hour by hour, from the top of the hour a day ago')
  }
})

t.test('analytics are tenant-scoped; bad ranges get a 400 and change nothing', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t)
  const other = await createApiKey(app.database.db, '22222222-2222-2222-2222-222222222222', {})
  const asOther = { authorization: `Bearer ${other.key}` }
  await app.request('POST', '/api/plugins', { name: 'Shop', slug: 'shop', webhook_url: receiver.url, events: ['product.created'] })
  await app.request('POST', '/api/plugins', { name: 'Mine', slug: 'mine', webhook_url: receiver.url, events: ['product.created'] }, asOther)
  await app.request('POST', '/api/products', { name: 'Lamp' })
  await waitFor(async () => (await app.request('GET', '/api/analytics/plugins/shop')).body.totals.sent === 1, { message: 'in the rollups' })

  t.match(await app.request('GET', '/api/analytics/plugins/shop', undefined, asOther), { status: 404, body: { code: 'NOT_FOUND' } }, "another store's plugin is not found")
  const overview = await app.request('GET', '/api/analytics/overview', undefined, asOther)
  t.equal(overview.status, 200)
  t.same(overview.body.plugins.map((p: { plugin: string }) => p.plugin), ['mine'], 'the overview lists the caller’s plugins only')
  t.equal(overview.body.plugins[0].totals.attempts, 0)
  const mine = await app.request('GET', '/api/analytics/overview')
  t.match(mine.body.plugins, [{ plugin: 'shop', kind: 'plugin', totals: { attempts: 1, sent: 1, success_rate: 1 }, backlog: { due: 0, oldest_due_age_ms: null }, slo: null }])
  t.same(mine.body.plugins.length, 1)

  const week = new Date(Date.now() - 7 * 86_400_000).toISOString()
  for (const [query, code] of [
    [`from=${new Date().toISOString()}&to=${week}`, 'INVALID_RANGE'],
    [`from=${week}&granularity=minute`, 'INVALID_RANGE'],
    [`from=${new Date(Date.now() - 200 * 86_400_000).toISOString()}&granularity=hour`, 'INVALID_RANGE'],
    ['granularity=second', 'VALIDATION_ERROR'],
    ['from=yesterday', 'VALIDATION_ERROR'],
    ['extra=1', 'VALIDATION_ERROR'],
  ] as const) {
    t.match(await app.request('GET', `/api/analytics/plugins/shop?${query}`), { status: 400, body: { code, statusCode: 400, error: 'Bad Request' } }, query)
  }
  t.match(await app.request('GET', '/api/analytics/plugins/nope'), { status: 404, body: { code: 'NOT_FOUND' } })
})

t.test('an SLO shows its error budget and burn rates, and its fast burn raises one plugin.slo_burn', async (t) => {
  const receiver = await startReceiver(t, 500)
  const alerts = await startReceiver(t, 200)
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0', ALERT_FAILING_AFTER: '1000' })
  await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: alerts.url, events: ['plugin.slo_burn'] })
  const created = await app.request('POST', '/api/plugins', {
    name: 'Shop', slug: 'shop', webhook_url: receiver.url, events: ['product.created'], slo: { success_rate: 0.99, latency_p95_ms: 500 },
  })
  t.match(created.body, { slo: { success_rate: 0.99, latency_p95_ms: 500 } })
  t.match(await app.request('PATCH', '/api/plugins/shop', { slo: { success_rate: 2 } }), { status: 400, body: { code: 'VALIDATION_ERROR' } })
  for (const name of ['A', 'B', 'C']) await app.request('POST', '/api/products', { name })
  const body = await waitFor(async () => {
    const b = (await app.request('GET', '/api/analytics/plugins/shop')).body
    return b.totals.failed === 3 && b
  }, { message: 'three failures in the rollups' })
  t.match(body.slo, { objective: { success_rate: 0.99, latency_p95_ms: 500 }, success_rate: 0, state: 'page', burn_rates: { '5m': 100, '1h': 100 } })
  t.ok(body.slo.budget_remaining < 0, 'the budget is overspent')
  const burn = await alerts.waitForCount(1, 20_000)
  t.match(burn[0]!.json, { event: 'plugin.slo_burn', data: { plugin: 'shop', severity: 'page', last_failure: { cause: 'http_5xx' } } })
  await app.request('POST', '/api/products', { name: 'D' })
  await waitFor(async () => (await app.request('GET', '/api/analytics/plugins/shop')).body.totals.failed === 4, { message: 'a fourth failure' })
  await app.aggregator!.catchUp()
  t.equal(alerts.received.length, 1, 'no second alert while it keeps burning')
})
