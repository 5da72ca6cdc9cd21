import pino from 'pino'
import { sql } from 'kysely'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { rotate, type BenchContext } from '../context.ts'
import type { Ratio, Row } from '../report.ts'
import { TENANT, withDatabase } from '../seed.ts'
import { monoMs, percentiles, summarise, type Percentiles } from '../stats.ts'
import { baseTemplate, drainTemplate } from '../templates.ts'
import { drainWithRelays } from './drain.ts'

/**
 * Scenario `analytics` (issue 16): the analytics API over a store with a small and
 * a large history, side by side, and the drain with the aggregator running in
 * every relay (ANALYTICS=on, the default) against switched off.
 *
 * The history is seeded as rollups, in bulk with generate_series, not as raw
 * attempts folded by the aggregator: the API reads rollups only, so what it costs
 * depends on the rollup rows of the range asked, which this reproduces (one
 * store, 100 plugins, 2 event types, 90 days of daily rows, 35 days of hourly
 * rows, 6 hours of minute rows; dense for the large store, as many rows as
 * deliveries for the small one). Nothing is analyzed after seeding: the plans
 * are the ones a fresh database gets.
 */
const PLUGINS = 100
const TYPES = ['product.created', 'order.paid'] as const
const GRAINS = [
  { table: 'analytics_day', step: '1 day', buckets: 90 },
  { table: 'analytics_hour', step: '1 hour', buckets: 35 * 24 },
  { table: 'analytics_minute', step: '1 minute', buckets: 6 * 60 },
] as const

export interface AnalyticsCalls {
  deliveries: number
  rollupRows: number
  plugin30d: Percentiles
  plugin30dHourly: Percentiles
  overview30d: Percentiles
  stats: Percentiles
}

export interface AnalyticsResults {
  calls: AnalyticsCalls[]
  /** drain rates, deliveries/s, per round */
  drainOn: number[]
  drainOff: number[]
}

/** Rollup rows for `deliveries` attempts spread over each grain's range: dense when there are enough, one row per delivery when not. */
async function seedRollups(url: string, deliveries: number): Promise<number> {
  return withDatabase(url, async (db) => {
    await sql`
      insert into plugins (tenant_id, slug, name, webhook_url, events)
      select ${TENANT}::uuid, 'plugin-' || i, 'Plugin ' || i, 'https://plugin-' || i || '.example.com/hook', ${[...TYPES]}::text[]
        from generate_series(1, ${PLUGINS}::integer) i
    `.execute(db)
    let rows = 0
    for (const g of GRAINS) {
      const dense = PLUGINS * TYPES.length * g.buckets
      // a histogram of ~50 ms attempts and ~200 ms commit → delivered, as the aggregator writes them
      const result = await sql`
        with cells as (
          select p.id as plugin_id, t.type, date_trunc(${g.step === '1 day' ? 'day' : g.step === '1 hour' ? 'hour' : 'minute'}, now()) - b * ${g.step}::interval as bucket,
                 greatest(1, ${deliveries}::bigint / ${dense}::bigint)::integer as attempts
            from plugins p, unnest(${[...TYPES]}::text[]) t (type), generate_series(0, ${g.buckets - 1}::integer) b
           where p.tenant_id = ${TENANT}::uuid and ${deliveries}::bigint >= ${dense}::bigint
          union all
          select ids.a[1 + floor(random() * ${PLUGINS})::integer] as plugin_id,
                 (${[...TYPES]}::text[])[1 + floor(random() * ${TYPES.length})::integer],
                 date_trunc(${g.step === '1 day' ? 'day' : g.step === '1 hour' ? 'hour' : 'minute'}, now()) - floor(random() * ${g.buckets})::integer * ${g.step}::interval,
                 1
            from (select array_agg(id) as a from plugins where tenant_id = ${TENANT}::uuid) ids, generate_series(1, ${deliveries}::integer) d
           where ${deliveries}::bigint < ${dense}::bigint
        )
        insert into ${sql.table(g.table)} (tenant_id, plugin_id, event_type, bucket, attempts, sent, retried, failed, latency, e2e, causes)
        select ${TENANT}::uuid, plugin_id, type, bucket, sum(attempts), sum(attempts) - sum(attempts) / 50, sum(attempts) / 100, sum(attempts) / 100,
               array(select case when i between 38 and 44 then sum(attempts) / 7 else 0 end from generate_series(0, 44) i)::integer[],
               array(select case when i between 52 and 58 then sum(attempts) / 7 else 0 end from generate_series(0, 58) i)::integer[],
               array[sum(attempts) / 200, 0, 0, 0, 0, 0, 0, sum(attempts) / 200, 0, 0]::integer[]
          from cells c (plugin_id, type, bucket, attempts) group by plugin_id, type, bucket
      `.execute(db)
      rows += Number(result.numAffectedRows ?? 0)
    }
    return rows
  }, 2)
}

async function timeCalls(url: string, path: string, calls: number): Promise<Percentiles> {
  const times: number[] = []
  for (let i = 0; i < calls + 3; i++) {
    const t0 = monoMs()
    const res = await fetch(url + path)
    await res.text()
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`)
    // the first few plan the statements and warm the cache
    if (i >= 3) times.push(monoMs() - t0)
  }
  return percentiles(times)
}

async function measureCalls(ctx: BenchContext, deliveries: number): Promise<AnalyticsCalls> {
  const name = await ctx.pg.create(`an${deliveries}`, await baseTemplate(ctx))
  try {
    const url = ctx.pg.url(name)
    const t0 = monoMs()
    const rollupRows = await seedRollups(url, deliveries)
    ctx.log(`analytics: seeded ${rollupRows} rollup rows for ${deliveries} deliveries in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    const config = loadConfig({ ...ctx.env, DATABASE_URL: url, RELAY: 'off', ANALYTICS: 'off', PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'silent' })
    const service = await startService(config, pino({ level: 'silent' }))
    try {
      const address = service.app.server.address()
      const api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
      const from = encodeURIComponent(new Date(Date.now() - 30 * 86_400_000).toISOString())
      const calls = ctx.options.quick ? 3 : 50
      return {
        deliveries,
        rollupRows,
        plugin30d: await timeCalls(api, `/api/analytics/plugins/plugin-50?from=${from}`, calls),
        plugin30dHourly: await timeCalls(api, `/api/analytics/plugins/plugin-50?from=${from}&granularity=hour`, calls),
        overview30d: await timeCalls(api, `/api/analytics/overview?from=${from}`, calls),
        stats: await timeCalls(api, '/api/plugins/events/stats', calls),
      }
    } finally {
      await service.stop()
    }
  } finally {
    await ctx.pg.drop(name)
  }
}

export async function analyticsScenario(ctx: BenchContext): Promise<AnalyticsResults> {
  // --quick keeps the bench test short: only that the path works
  const sizes = ctx.options.quick ? [500, 5_000] : [10_000, 10_000_000]
  const results: AnalyticsResults = { calls: [], drainOn: [], drainOff: [] }
  for (const deliveries of sizes) results.calls.push(await measureCalls(ctx, deliveries))
  const off: BenchContext = { ...ctx, options: { ...ctx.options, relayEnv: { ...ctx.options.relayEnv, ANALYTICS: 'off' } } }
  const on: BenchContext = { ...ctx, options: { ...ctx.options, relayEnv: { ANALYTICS: 'on', ...ctx.options.relayEnv } } }
  const template = await drainTemplate(ctx)
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const which of rotate(['on', 'off'] as const, round)) {
      const run = await drainWithRelays(which === 'on' ? on : off, template, 1, { count: ctx.options.drain })
      ;(which === 'on' ? results.drainOn : results.drainOff).push(run.rate)
    }
    ctx.log(`analytics round ${round + 1}: drain with the aggregator ${results.drainOn.at(-1)?.toFixed(0)}/s, without ${results.drainOff.at(-1)?.toFixed(0)}/s`)
  }
  return results
}

export function analyticsRows(r: AnalyticsResults): Row[] {
  const rows: Row[] = []
  for (const c of r.calls) {
    const name = `Analytics, ${c.deliveries.toLocaleString('en-US')} deliveries (${c.rollupRows.toLocaleString('en-US')} rollup rows)`
    rows.push({ scenario: name, measure: 'plugin, 30 days by day p50, ms', summary: summarise([c.plugin30d.p50]), digits: 1 })
    rows.push({ scenario: name, measure: 'plugin, 30 days by hour p50, ms', summary: summarise([c.plugin30dHourly.p50]), digits: 1 })
    rows.push({ scenario: name, measure: 'overview, 30 days p50, ms', summary: summarise([c.overview30d.p50]), digits: 1 })
    rows.push({ scenario: name, measure: 'dashboard stats p50, ms', summary: summarise([c.stats.p50]), digits: 1 })
  }
  rows.push({ scenario: 'Drain with the analytics aggregator on', measure: 'deliveries/s', summary: summarise(r.drainOn), digits: 0 })
  rows.push({ scenario: 'Drain with the analytics aggregator off', measure: 'deliveries/s', summary: summarise(r.drainOff), digits: 0 })
  return rows
}

export function analyticsRatios(r: AnalyticsResults): Ratio[] {
  const ratios: Ratio[] = []
  const [small, large] = r.calls
  if (large) {
    ratios.push({ name: 'analytics: plugin 30 days p50 (ms), large store', summary: summarise([large.plugin30d.p50]), target: '≤ 50 ms', pass: large.plugin30d.p50 <= 50 })
    ratios.push({ name: 'analytics: overview 30 days p50 (ms), large store', summary: summarise([large.overview30d.p50]), target: '≤ 100 ms', pass: large.overview30d.p50 <= 100 })
  }
  if (small && large) {
    const ratio = (large.plugin30d.p50 + large.overview30d.p50) / (small.plugin30d.p50 + small.overview30d.p50)
    ratios.push({ name: 'analytics: large / small store, plugin + overview p50', summary: summarise([ratio]), target: '≤ 2', pass: ratio <= 2 })
  }
  const paired = r.drainOn.slice(0, r.drainOff.length).map((x, i) => x / r.drainOff[i]!)
  if (paired.length) {
    const s = summarise(paired)
    ratios.push({ name: 'drain, aggregator on / off', summary: s, target: '≥ 0.95', pass: s.median >= 0.95 })
  }
  return ratios
}
