import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { insertPlugin } from '../../src/plugins/plugin.repository.ts'
import { createProduct } from '../../src/products/product.repository.ts'
import { loadConfig } from '../../src/config.ts'
import { runMaintenance } from '../../src/relay/maintenance.ts'
import { ensureSecret } from '../../src/secrets/secret.repository.ts'
import { createDatabase } from '../../src/db/database.ts'
import { rotate, template, type BenchContext } from '../context.ts'
import { failOnExit, startRelay } from '../processes.ts'
import type { Ratio, Row } from '../report.ts'
import { addPlugin, benchProduct, bulkDeliveries, seedBurst, seedProducts, TENANT, vacuumAnalyze, withDatabase } from '../seed.ts'
import { monoMs, percentiles, summarise, type Percentiles } from '../stats.ts'
import { baseTemplate } from '../templates.ts'
import { drainWithRelays } from './drain.ts'
import { sinceCommit } from './latency.ts'

/**
 * Issue 13, platform scale: `fairness-at-scale` (one store's huge backlog beside
 * many small stores' trickle), `retention` (the drain while retention deletes a
 * long history in batches) and `writers` (concurrent writes to one plugin against
 * writes to different plugins: they take turns on the plugin's ready row).
 */

const n = (value: number) => value.toLocaleString('en-US')

// ---------------------------------------------------------------- fairness-at-scale

export interface FairnessRun {
  /** the small stores' trickle, commit → receipt, ms: with nothing else to do */
  idle: Percentiles
  /** the same trickle while one relay drains the big store's backlog */
  burst: Percentiles
  /** the big store's deliveries per second meanwhile */
  backlogRate: number
}

export interface FairnessResults {
  backlog: number
  tenants: number
  rate: number
  runs: FairnessRun[]
}

/** One big store's plugin and `tenants` small stores with one plugin each, all → the sink. */
const fairnessPlugins = (ctx: BenchContext) =>
  template(ctx, `fairness-plugins-${ctx.options.fairnessTenants}`, async () => {
    const name = await ctx.pg.create('fairplug', await baseTemplate(ctx))
    await withDatabase(ctx.pg.url(name), async (db) => {
      await addPlugin(db, ctx.cipher, 'big', ctx.sink.url)
      for (let i = 0; i < ctx.options.fairnessTenants; i++) {
        const plugin = await insertPlugin(db, randomUUID(), { slug: 'small', name: `Small ${i}`, webhook_url: ctx.sink.url, events: ['product.created'] })
        await ensureSecret(db, ctx.cipher, plugin.id)
      }
      await vacuumAnalyze(db)
    })
    return name
  })

/** The same, and the big store's backlog (the first 100 through createProduct, the rest set-based). */
const fairnessBacklog = (ctx: BenchContext) =>
  template(ctx, `fairness-backlog-${ctx.options.fairnessBacklog}`, async () => {
    const name = await ctx.pg.create('fairback', await fairnessPlugins(ctx))
    const url = ctx.pg.url(name)
    const t0 = monoMs()
    const head = Math.min(100, ctx.options.fairnessBacklog)
    await seedProducts(url, head)
    await withDatabase(url, async (db) => {
      await seedBurst(db, ctx.options.fairnessBacklog - head)
      await vacuumAnalyze(db)
    })
    ctx.log(`fairness template: a backlog of ${ctx.options.fairnessBacklog} in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    return name
  })

/**
 * One relay (default cap, PLUGIN_MAX_IN_FLIGHT 20) on a copy of `templateName`; the
 * small stores write at `rate`/s through createProduct, each write for a random one
 * of them, for `seconds`; commit → receipt of each of their deliveries.
 */
async function trickle(ctx: BenchContext, templateName: string): Promise<{ latencies: Percentiles; backlogRate: number }> {
  const db = await ctx.pg.create('fair', templateName)
  const url = ctx.pg.url(db)
  const relay = startRelay('bench-relay-fair', url, { ...ctx.env, ...ctx.options.relayEnv })
  const crashed = failOnExit([relay])
  const handle = createDatabase(url, 8)
  try {
    const tenants = (await handle.db.selectFrom('plugins').select('tenant_id').where('slug', '=', 'small').execute()).map((r) => r.tenant_id)
    // when each write's commit returned, on the wall clock the sink stamps receipts with
    const returned = new Map<string, number>()
    const write = async (i: number) => {
      const written = await createProduct(handle.db, tenants[i % tenants.length]!, benchProduct(i))
      returned.set(written.emitted.eventId, performance.timeOrigin + performance.now())
      return written.emitted.eventId
    }
    // the relay is up and listening once a first write of its own is received
    await ctx.sink.reset()
    await write(0)
    await Promise.race([ctx.sink.waitForCount(1, 120_000), crashed.promise])
    await ctx.sink.reset(true)
    const before = (await ctx.sink.stats()).count
    const interval = 1000 / ctx.options.fairnessRate
    const total = Math.max(1, Math.round(ctx.options.fairnessRate * ctx.options.fairnessSeconds))
    const ids: Promise<string>[] = []
    const t0 = monoMs()
    for (let i = 0; i < total; i++) {
      const wait = t0 + i * interval - monoMs()
      if (wait > 0) await sleep(wait)
      // a random small store each time: every one of them a plugin with one due delivery
      ids.push(write(1 + Math.floor(Math.random() * tenants.length * 1000)))
    }
    const mine = new Set(await Promise.all(ids))
    const deadline = Date.now() + 120_000
    let stats = await ctx.sink.stats(true)
    for (;;) {
      const seen = stats.receipts.filter(([id]) => mine.has(id)).length
      if (seen >= mine.size) break
      if (Date.now() > deadline) throw new Error(`fairness: ${seen} of the trickle's ${mine.size} deliveries received in 120 s`)
      await Promise.race([sleep(250), crashed.promise])
      stats = await ctx.sink.stats(true)
    }
    const t1 = monoMs()
    crashed.cancel()
    if (stats.duplicates > 0) throw new Error(`fairness: ${stats.duplicates} duplicate deliveries`)
    const receipts = stats.receipts.filter(([id]) => mine.has(id))
    // from the commit PostgreSQL stamped where the server keeps commit times (the bench's
    // own); on a server without them (--pg-url, the test), from when the commit returned
    const latencies = ctx.pg.commitTimes ? await sinceCommit(url, receipts) : receipts.map(([id, at]) => at - returned.get(id)!)
    const backlogRate = ((stats.count - before - receipts.length) / (t1 - t0)) * 1000
    return { latencies: percentiles(latencies), backlogRate }
  } finally {
    await handle.destroy()
    await relay.stop()
    await ctx.pg.drop(db)
  }
}

/** `fairness-at-scale`: the small stores' trickle alone, then beside the big store's backlog, per round. */
export async function fairnessScenario(ctx: BenchContext): Promise<FairnessResults> {
  const idleTemplate = await fairnessPlugins(ctx)
  const backlogTemplate = await fairnessBacklog(ctx)
  const o = ctx.options
  const results: FairnessResults = { backlog: o.fairnessBacklog, tenants: o.fairnessTenants, rate: o.fairnessRate, runs: [] }
  for (let round = 0; round < o.runs; round++) {
    const idle = await trickle(ctx, idleTemplate)
    const burst = await trickle(ctx, backlogTemplate)
    results.runs.push({ idle: idle.latencies, burst: burst.latencies, backlogRate: burst.backlogRate })
    ctx.log(
      `fairness round ${round + 1}: trickle p95/p99 idle ${idle.latencies.p95.toFixed(1)}/${idle.latencies.p99.toFixed(1)} ms, ` +
        `beside the backlog ${burst.latencies.p95.toFixed(1)}/${burst.latencies.p99.toFixed(1)} ms (backlog at ${burst.backlogRate.toFixed(0)}/s)`,
    )
  }
  return results
}

// ---------------------------------------------------------------- retention

export interface RetentionResults {
  history: number
  drain: number
  /** one relay draining `drain` with `history` settled rows 31 days old present */
  without: number[]
  /** the same while retention (runMaintenance, as the relay runs it) deletes them in batches beside it */
  with: number[]
  /** settled deliveries retention deleted during each drain */
  deleted: number[]
}

const retentionTemplate = (ctx: BenchContext) =>
  template(ctx, `retention-${ctx.options.retentionHistory}`, async () => {
    const name = await ctx.pg.create('retention', await baseTemplate(ctx))
    const url = ctx.pg.url(name)
    const t0 = monoMs()
    await withDatabase(url, async (db) => {
      const plugin = await addPlugin(db, ctx.cipher, 'sink', ctx.sink.url)
      await seedProducts(url, 100)
      await seedBurst(db, ctx.options.drain - 100)
      // past RETENTION_DAYS (30): every one of them is retention's to delete
      await bulkDeliveries(db, plugin, ctx.options.retentionHistory, 'sent', 31)
      await vacuumAnalyze(db)
    })
    ctx.log(`retention template: ${ctx.options.retentionHistory} settled rows and a backlog of ${ctx.options.drain} in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    return name
  })

/** `retention`: the drain with a long settled history, with and without retention deleting it meanwhile. */
export async function retentionScenario(ctx: BenchContext): Promise<RetentionResults> {
  // the relays' pace: RETENTION_DUTY_PERCENT as a relay reads it, --relay-env's if it sets one
  const duty = loadConfig(ctx.options.relayEnv).RETENTION_DUTY_PERCENT / 100
  const name = await retentionTemplate(ctx)
  const results: RetentionResults = { history: ctx.options.retentionHistory, drain: ctx.options.drain, without: [], with: [], deleted: [] }
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const deleting of rotate([false, true], round)) {
      let deleted = 0
      const during = (url: string) => {
        // the relay's own maintenance, in a loop of its own beside the drain (a relay runs it every minute)
        const handle = createDatabase(url, 1)
        const stop = new AbortController()
        const loop = (async () => {
          while (!stop.signal.aborted) deleted += (await runMaintenance(handle.db, 30, { duty, signal: stop.signal })).deliveriesDeleted
        })()
        return {
          async stop() {
            stop.abort()
            await loop
            await handle.destroy()
          },
        }
      }
      const run = await drainWithRelays(ctx, name, 1, { count: ctx.options.drain, during: deleting ? during : undefined })
      if (deleting) {
        results.with.push(run.rate)
        results.deleted.push(deleted)
      } else results.without.push(run.rate)
      ctx.log(`retention round ${round + 1}: ${deleting ? `deleting (${n(deleted)} deleted)` : 'not deleting'}: ${run.rate.toFixed(0)}/s`)
    }
  }
  return results
}

// ---------------------------------------------------------------- writers

export interface WritersResults {
  connections: number
  /** writes/s, all writers' products reaching one plugin of one store */
  samePlugin: number[]
  /** writes/s, each writer its own store with its own plugin */
  ownPlugin: number[]
}

const writersTemplate = (ctx: BenchContext) =>
  template(ctx, `writers-${ctx.options.writersConnections}`, async () => {
    const name = await ctx.pg.create('writers', await baseTemplate(ctx))
    await withDatabase(ctx.pg.url(name), async (db) => {
      await addPlugin(db, ctx.cipher, 'sink', ctx.sink.url)
      for (let i = 0; i < ctx.options.writersConnections; i++) {
        await insertPlugin(db, randomUUID(), { slug: 'own', name: `Own ${i}`, webhook_url: ctx.sink.url, events: ['product.created'] })
      }
      await vacuumAnalyze(db)
    })
    return name
  })

/** `connections` writers through createProduct for `seconds`, no relay: writes/s. */
async function writeFor(ctx: BenchContext, templateName: string, shared: boolean): Promise<number> {
  const db = await ctx.pg.create('write', templateName)
  const handle = createDatabase(ctx.pg.url(db), ctx.options.writersConnections)
  try {
    const own = (await handle.db.selectFrom('plugins').select('tenant_id').where('slug', '=', 'own').execute()).map((r) => r.tenant_id)
    let writes = 0
    const until = monoMs() + ctx.options.writersSeconds * 1000
    const t0 = monoMs()
    await Promise.all(
      Array.from({ length: ctx.options.writersConnections }, async (_, w) => {
        const tenant = shared ? TENANT : own[w]!
        while (monoMs() < until) {
          await createProduct(handle.db, tenant, benchProduct(writes))
          writes++
        }
      }),
    )
    return (writes / (monoMs() - t0)) * 1000
  } finally {
    await handle.destroy()
    await ctx.pg.drop(db)
  }
}

/** `writers`: concurrent writes whose deliveries go to one plugin, against to one plugin each. */
export async function writersScenario(ctx: BenchContext): Promise<WritersResults> {
  const name = await writersTemplate(ctx)
  const results: WritersResults = { connections: ctx.options.writersConnections, samePlugin: [], ownPlugin: [] }
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const shared of rotate([true, false], round)) {
      const rate = await writeFor(ctx, name, shared)
      ;(shared ? results.samePlugin : results.ownPlugin).push(rate)
      ctx.log(`writers round ${round + 1}: ${shared ? 'one plugin' : 'a plugin each'}: ${rate.toFixed(0)} writes/s`)
    }
  }
  return results
}

// ---------------------------------------------------------------- report

const paired = (a: number[], b: number[]) => a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]!)

export function platformRows(r: { fairness?: FairnessResults; retention?: RetentionResults; writers?: WritersResults }): Row[] {
  const rows: Row[] = []
  const row = (scenario: string, measure: string, values: number[], digits = 0) => {
    if (values.length > 0) rows.push({ scenario, measure, summary: summarise(values), digits })
  }
  if (r.fairness) {
    const f = r.fairness
    const name = `Fairness: ${n(f.tenants)} small stores writing ${f.rate}/s`
    row(`${name}, idle`, 'commit → receipt p95, ms', f.runs.map((x) => x.idle.p95), 1)
    row(`${name}, idle`, 'commit → receipt p99, ms', f.runs.map((x) => x.idle.p99), 1)
    row(`${name}, beside a ${n(f.backlog)} backlog`, 'commit → receipt p95, ms', f.runs.map((x) => x.burst.p95), 1)
    row(`${name}, beside a ${n(f.backlog)} backlog`, 'commit → receipt p99, ms', f.runs.map((x) => x.burst.p99), 1)
    row(`Fairness: the ${n(f.backlog)} backlog meanwhile`, 'deliveries/s', f.runs.map((x) => x.backlogRate))
  }
  if (r.retention) {
    const t = r.retention
    row(`Retention: drain ${n(t.drain)} beside ${n(t.history)} settled rows, not deleting`, 'deliveries/s', t.without)
    row(`Retention: drain ${n(t.drain)} while retention deletes them`, 'deliveries/s', t.with)
    row(`Retention: deleted during the drain`, 'settled deliveries', t.deleted)
  }
  if (r.writers) {
    const w = r.writers
    row(`Writers: ${w.connections} connections, all to one plugin`, 'writes/s', w.samePlugin)
    row(`Writers: ${w.connections} connections, a plugin each`, 'writes/s', w.ownPlugin)
  }
  return rows
}

export function platformRatios(r: { fairness?: FairnessResults; retention?: RetentionResults; writers?: WritersResults }): Ratio[] {
  const ratios: Ratio[] = []
  const add = (name: string, values: number[], target: string, ok: ((median: number) => boolean) | null) => {
    if (values.length === 0) return
    const summary = summarise(values)
    ratios.push({ name, summary, target, pass: ok ? ok(summary.median) : null })
  }
  if (r.fairness) {
    const f = r.fairness
    add(`fairness: trickle commit → receipt p99 beside a ${n(f.backlog)} backlog (ms)`, f.runs.map((x) => x.burst.p99), '≤ 200 ms', (m) => m <= 200)
    add('fairness: trickle p95, beside the backlog / idle', f.runs.map((x) => x.burst.p95 / x.idle.p95), '(bounded)', null)
  }
  if (r.retention) add('retention: drain while deleting / not deleting', paired(r.retention.with, r.retention.without), '≥ 0.8', (m) => m >= 0.8)
  if (r.writers) add('writers: one plugin / a plugin each', paired(r.writers.samePlugin, r.writers.ownPlugin), '(the ready row turn)', null)
  return ratios
}
