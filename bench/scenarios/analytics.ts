import pino from 'pino'
import { sql } from 'kysely'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { rotate, type BenchContext } from '../context.ts'
import type { Ratio, Row } from '../report.ts'
import { seedAnalyticsStore } from '../analytics-seed.ts'
import { withDatabase } from '../seed.ts'
import { monoMs, percentiles, summarise, type Percentiles } from '../stats.ts'
import { baseTemplate, drainTemplate } from '../templates.ts'
import { drainWithRelays } from './drain.ts'

/**
 * Scenario `analytics` (issue 16): the analytics API over a store with a small and
 * a large history, side by side, and the drain with the aggregator running in
 * every relay (ANALYTICS=on, the default) against switched off.
 *
 * Each store is the issue's: one store, 100 plugins (each with an SLO), 2 event
 * types, `deliveries` deliveries with their attempts over 90 days and the
 * rollups they make, written set-based (bench/analytics-seed.ts), and 200 due
 * deliveries per plugin for the overview's backlog. Nothing is analyzed after
 * seeding: the plans are the ones a fresh database gets.
 */
export interface AnalyticsCalls {
  deliveries: number
  rollupRows: number
  seedSeconds: number
  plugin30d: Percentiles
  plugin30dHourly: Percentiles
  overview30d: Percentiles
  /** the dashboard's default range: its first partial day is read by the hour */
  overview24h: Percentiles
  stats: Percentiles
}

export interface AnalyticsResults {
  calls: AnalyticsCalls[]
  /** drain rates, deliveries/s, per round */
  drainOn: number[]
  drainOff: number[]
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
    const rollupRows = await withDatabase(
      url,
      async (db) => {
        await seedAnalyticsStore(db, deliveries, { log: ctx.log })
        const { rows } = await sql<{ n: number }>`
          select (select count(*) from analytics_minute) + (select count(*) from analytics_hour) + (select count(*) from analytics_day) as n`.execute(db)
        return Number(rows[0]!.n)
      },
      3,
    )
    const seedSeconds = (monoMs() - t0) / 1000
    ctx.log(`analytics: seeded ${deliveries} deliveries with their attempts and ${rollupRows} rollup rows in ${seedSeconds.toFixed(1)} s`)
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
        seedSeconds,
        plugin30d: await timeCalls(api, `/api/analytics/plugins/plugin-50?from=${from}`, calls),
        plugin30dHourly: await timeCalls(api, `/api/analytics/plugins/plugin-50?from=${from}&granularity=hour`, calls),
        overview30d: await timeCalls(api, `/api/analytics/overview?from=${from}`, calls),
        overview24h: await timeCalls(api, '/api/analytics/overview', calls),
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
  const sizes = ctx.options.analytics
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
    rows.push({ scenario: name, measure: 'overview, 24 hours p50, ms', summary: summarise([c.overview24h.p50]), digits: 1 })
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
