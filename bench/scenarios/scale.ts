import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { leaseMs, loadConfig } from '../../src/config.ts'
import { createDatabase, createPool } from '../../src/db/database.ts'
import { updatePlugin } from '../../src/plugins/plugin.repository.ts'
import { readyOnConflict } from '../../src/relay/sql/ready.ts'
import { claimRolledBack } from '../claim-sample.ts'
import { CLAIM_PLANNER_SETTINGS, prepareVisitSql } from '../../src/relay/sql/claim.ts'
import { rotate, template, type BenchContext } from '../context.ts'
import { addPeerJobs, addPlugin, seedBurst, seedProducts, TENANT, vacuumAnalyze, withDatabase } from '../seed.ts'
import { monoMs, percentiles, type Percentiles } from '../stats.ts'
import { baseTemplate } from '../templates.ts'
import { drainWithPeer, drainWithRelays, type DrainRun } from './drain.ts'

/** Issue 13: the relay's cost beside the number of plugins, and on a burst never analyzed. */

/** Plugins with a backlog in the `plugins` scenario; the others have nothing to do. */
export const BUSY_PLUGINS = 10
/** The default cap (PLUGIN_MAX_IN_FLIGHT): 10 busy plugins can fill a claim of 50 under it. */
const CAP = 20

export interface PluginsRun {
  plugins: number
  /** the claim statement of a full batch (RELAY_CONCURRENCY), 10 plugins busy, ms */
  claim: Percentiles
  /** an idle poll (nothing due anywhere): PostgreSQL's execution time (EXPLAIN ANALYZE), ms */
  idleExecution: Percentiles
  /** one relay draining the 10 busy plugins' backlog */
  rate: number
}

export type PluginsResults = Record<number, PluginsRun[]>

export interface BurstRun {
  size: number
  /** one relay draining a fresh burst (never analyzed, autovacuum off) */
  drain: DrainRun
  /** deliveries/s over the first and the last 10 % of the burst */
  first10: number
  last10: number
  /** received so far, every `timelineStepMs` from the gate */
  timeline: number[]
  timelineStepMs: number
}

export interface BurstResults {
  runs: Record<number, BurstRun[]>
  /** graphile-worker on the same fresh burst (the smallest size), as jobs never analyzed either */
  peer: DrainRun[]
  /** our relay on that burst, in the same rounds as the peer */
  ours: DrainRun[]
  peerSize: number
  /** a backlog held for a paused plugin, resumed into a relay already delivering (a receiver back after an outage) */
  held: BurstRun[]
  heldSize: number
}

/** N - 10 active plugins of N - 10 other tenants, subscribed to the same event, with nothing to do. */
async function addIdlePlugins(url: string, count: number): Promise<void> {
  if (count <= 0) return
  await withDatabase(url, (db) =>
    sql`
      insert into plugins (tenant_id, slug, name, webhook_url, events)
      select gen_random_uuid(), 'idle', 'Idle ' || i, 'http://127.0.0.1:9/idle', '{product.created}'
        from generate_series(1, ${count}::int) i
    `.execute(db),
  )
}

/** The plugins of the scenario, nothing due: for the idle poll. */
const idleTemplate = (ctx: BenchContext, plugins: number) =>
  template(ctx, `plugins-idle-${plugins}`, async () => {
    const name = await ctx.pg.create(`pidle${plugins}`, await baseTemplate(ctx))
    const url = ctx.pg.url(name)
    await withDatabase(url, async (db) => {
      for (let i = 0; i < BUSY_PLUGINS; i++) await addPlugin(db, ctx.cipher, `busy-${i}`, ctx.sink.url)
    })
    await addIdlePlugins(url, plugins - BUSY_PLUGINS)
    await withDatabase(url, vacuumAnalyze)
    return name
  })

/** The same, and a backlog of `pluginsBacklog` deliveries for each busy plugin, written through createProduct. */
const busyTemplate = (ctx: BenchContext, plugins: number) =>
  template(ctx, `plugins-busy-${plugins}`, async () => {
    const name = await ctx.pg.create(`pbusy${plugins}`, await idleTemplate(ctx, plugins))
    const url = ctx.pg.url(name)
    await seedProducts(url, ctx.options.pluginsBacklog)
    await withDatabase(url, vacuumAnalyze)
    return name
  })

/** The claim as a relay runs it (named, on one connection), each sample rolled back. */
async function claimTimes(url: string, batch: number, samples: number, expect: number): Promise<Percentiles> {
  const pool = createPool(url, 1)
  const lease = leaseMs(loadConfig({}))
  const times: number[] = []
  try {
    for (let i = 0; i < samples + 5; i++) {
      const t0 = monoMs()
      const rows = await claimRolledBack(pool, batch, randomUUID(), lease, null, CAP)
      const ms = monoMs() - t0
      if (rows.length !== expect) throw new Error(`the claim returned ${rows.length}, expected ${expect}`)
      if (i >= 5) times.push(ms)
    }
  } finally {
    await pool.end()
  }
  return percentiles(times)
}

/** PostgreSQL's own execution time of an idle claim, from EXPLAIN ANALYZE: no client, no network. */
async function idleExecution(url: string, batch: number, samples: number): Promise<Percentiles> {
  const pool = createPool(url, 1)
  const times: number[] = []
  try {
    // planned as the relay plans it (claimDeliveries sets these in its transaction)
    for (const setting of CLAIM_PLANNER_SETTINGS) await pool.query(`set ${setting}`)
    // an idle poll is the claim's first statement alone: nothing is due, nothing more is asked
    await pool.query(prepareVisitSql('visit'))
    for (let i = 0; i < samples + 5; i++) {
      const { rows } = await pool.query(`explain (analyze, format json) execute visit (${batch}, null)`)
      const plan = rows[0]['QUERY PLAN'][0]
      if (plan.Plan['Actual Rows'] !== 0) throw new Error('an idle claim found a plugin to visit')
      if (i >= 5) times.push(plan['Execution Time'] as number)
    }
  } finally {
    await pool.end()
  }
  return percentiles(times)
}

/** `plugins`: claim p50, idle poll and a one-relay drain with 10 busy plugins among N active ones. */
export async function pluginsScenario(ctx: BenchContext): Promise<PluginsResults> {
  const counts = ctx.options.pluginCounts
  const results: PluginsResults = {}
  for (const plugins of counts) {
    const t0 = monoMs()
    await busyTemplate(ctx, plugins)
    ctx.log(`plugins template: ${plugins} plugins, ${ctx.options.pluginsBacklog * BUSY_PLUGINS} deliveries in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
  }
  const count = ctx.options.pluginsBacklog * BUSY_PLUGINS
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const plugins of rotate(counts, round)) {
      const busy = await busyTemplate(ctx, plugins)
      const idle = await idleTemplate(ctx, plugins)
      const claimDb = await ctx.pg.create('pclaim', busy)
      const claim = await claimTimes(ctx.pg.url(claimDb), ctx.options.concurrency, ctx.options.claimSamples, Math.min(ctx.options.concurrency, count)).finally(() =>
        ctx.pg.drop(claimDb),
      )
      const idleDb = await ctx.pg.create('pidle', idle)
      const idleRun = await idleExecution(ctx.pg.url(idleDb), ctx.options.concurrency, ctx.options.claimSamples).finally(() => ctx.pg.drop(idleDb))
      // the default cap per plugin: 10 busy plugins share the relay as they would in production
      const drain = await drainWithRelays(ctx, busy, 1, { count, env: { PLUGIN_MAX_IN_FLIGHT: String(CAP) } })
      ;(results[plugins] ??= []).push({ plugins, claim, idleExecution: idleRun, rate: drain.rate })
      ctx.log(`plugins round ${round + 1}: ${plugins} plugins: claim p50 ${claim.p50.toFixed(2)} ms, idle ${idleRun.p50.toFixed(3)} ms, ${drain.rate.toFixed(0)}/s`)
    }
  }
  return results
}

/** Autovacuum may not analyze these during a burst run: every plan is the one PostgreSQL makes with no statistics. */
async function noAutovacuum(url: string, tables: string[]): Promise<void> {
  await withDatabase(url, async (db) => {
    for (const table of tables) await sql`alter table ${sql.raw(table)} set (autovacuum_enabled = false)`.execute(db)
  })
}

const OUR_TABLES = ['deliveries', 'events', 'plugins', 'plugin_ready', 'delivery_attempts', 'products', 'plugin_secrets']
const PEER_TABLES = ['graphile_worker._private_jobs', 'graphile_worker._private_job_queues', 'graphile_worker._private_tasks']

/** Bursts up to this size are written through createProduct; above it, the rest set-based (seedBurst). */
export const WRITE_PATH_BURST = 20_000

/**
 * A fresh burst of `size` products (one plugin, one delivery each); never analyzed.
 * Through createProduct up to WRITE_PATH_BURST (20,000 took 30–70 s here), the rest
 * of a larger one set-based (bench/seed.ts seedBurst: the same events and
 * deliveries in chunks of 50,000, without the products rows; 1,000,000 through
 * createProduct would take the better part of an hour on this machine).
 */
const burstTemplate = (ctx: BenchContext, size: number) =>
  template(ctx, `burst-${size}`, async () => {
    const name = await ctx.pg.create(`burst${size}`, await baseTemplate(ctx))
    const url = ctx.pg.url(name)
    await noAutovacuum(url, [...OUR_TABLES, ...PEER_TABLES])
    await withDatabase(url, (db) => addPlugin(db, ctx.cipher, 'sink', ctx.sink.url))
    const t0 = monoMs()
    const written = size <= WRITE_PATH_BURST ? size : 100
    await seedProducts(url, written)
    if (size > written) await withDatabase(url, (db) => seedBurst(db, size - written))
    ctx.log(
      `burst template: ${size} products (${written} through createProduct${size > written ? ', the rest set-based' : ''}) in ${((monoMs() - t0) / 1000).toFixed(1)} s, never analyzed`,
    )
    return name
  })

/** The same burst as graphile-worker jobs (added with its add_jobs), never analyzed either. */
const burstPeerTemplate = (ctx: BenchContext, size: number) =>
  template(ctx, `burst-peer-${size}`, async () => {
    const name = await ctx.pg.create(`bpeer${size}`, await burstTemplate(ctx, size))
    await withDatabase(ctx.pg.url(name), async (db) => {
      const added = await addPeerJobs(db)
      if (added !== size) throw new Error(`added ${added} graphile-worker jobs, expected ${size}`)
    })
    return name
  })

/** Samples the sink's count every `stepMs` until stopped; the timeline starts at the first sample. */
function sampleSink(ctx: BenchContext, stepMs: number) {
  const samples: { at: number; count: number }[] = []
  let running = true
  const done = (async () => {
    while (running) {
      samples.push({ at: monoMs(), count: (await ctx.sink.stats()).count })
      await new Promise((resolve) => setTimeout(resolve, stepMs))
    }
  })()
  return {
    samples,
    async stop() {
      running = false
      await done
    },
  }
}

/** When the sink's count first reached `n`, interpolated between samples. */
function reachedAt(samples: { at: number; count: number }[], n: number, end: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!
    const b = samples[i]!
    if (b.count >= n) return b.count === a.count ? b.at : a.at + ((n - a.count) / (b.count - a.count)) * (b.at - a.at)
  }
  return end
}

/**
 * Deliveries/s over the first and the last tenth of `size` deliveries the sink
 * received between t0 and t1, counting from `base` (what it had at t0), and the
 * timeline from t0, every second for the large bursts, every 250 ms for the others.
 */
function tenths(samples: { at: number; count: number }[], t0: number, t1: number, base: number, size: number) {
  const stepMs = size >= 100_000 ? 1000 : 250
  const inside = [{ at: t0, count: 0 }, ...samples.filter((s) => s.at > t0 && s.at <= t1).map((s) => ({ at: s.at, count: s.count - base })), { at: t1, count: size }]
  const tenth = size / 10
  const first10 = tenth / ((reachedAt(inside, tenth, t1) - t0) / 1000)
  const last10 = tenth / ((t1 - reachedAt(inside, size - tenth, t1)) / 1000)
  const timeline: number[] = []
  for (let at = t0 + stepMs; at < t1 + stepMs; at += stepMs) timeline.push(Math.round(inside.filter((s) => s.at <= at).at(-1)!.count))
  return { first10, last10, timeline, timelineStepMs: stepMs }
}

async function burstRun(ctx: BenchContext, size: number): Promise<BurstRun> {
  const sampler = sampleSink(ctx, 50)
  let drain: DrainRun
  try {
    drain = await drainWithRelays(ctx, await burstTemplate(ctx, size), 1, { count: size })
  } finally {
    await sampler.stop()
  }
  const [t0, t1] = drain.window
  return { size, drain, ...tenths(sampler.samples, t0, t1, 0, size) }
}

/**
 * Deliveries the relay makes to another plugin before the held burst is resumed: its
 * first seconds. Copied from the burst's own deliveries, so a burst smaller than
 * the warm-up gives as many as it has.
 */
const warmUp = (ctx: BenchContext, size: number) => Math.min(size, ctx.options.quick ? 200 : 10_000)

/**
 * A receiver back after an outage: `size` deliveries parked for a paused plugin
 * (fanned out as seedBurst does, never analyzed), and warmUp() deliveries of the
 * same events due to a second plugin, which the relay delivers first.
 */
const heldBurstTemplate = (ctx: BenchContext, size: number) =>
  template(ctx, `burst-held-${size}`, async () => {
    const name = await ctx.pg.create(`bheld${size}`, await baseTemplate(ctx))
    const url = ctx.pg.url(name)
    await noAutovacuum(url, OUR_TABLES)
    await withDatabase(url, async (db) => {
      const held = await addPlugin(db, ctx.cipher, 'held', ctx.sink.url)
      await sql`update plugins set status = 'paused' where id = ${held}`.execute(db)
    })
    await seedProducts(url, 100)
    await withDatabase(url, async (db) => {
      await seedBurst(db, size - 100)
      const warm = await addPlugin(db, ctx.cipher, 'warm', ctx.sink.url)
      await sql`
        with warm as (
          insert into deliveries (tenant_id, event_id, plugin_id, next_attempt_at)
          select tenant_id, event_id, ${warm}::uuid, now()
            from deliveries
           order by id
           limit ${warmUp(ctx, size)}
          returning plugin_id
        )
        insert into plugin_ready (plugin_id, due_at)
        select distinct plugin_id, now() from warm
        ${readyOnConflict}
      `.execute(db)
    })
    return name
  })

/**
 * The held burst: one relay delivers the warm-up, then the paused plugin is resumed
 * (updatePlugin, as `PATCH /api/plugins/:slug` does: its parked deliveries become due
 * in the resume's transaction). The clock of the burst starts when the resume commits.
 */
async function heldBurstRun(ctx: BenchContext, size: number): Promise<BurstRun> {
  const sampler = sampleSink(ctx, 50)
  const warm = warmUp(ctx, size)
  let resumed = 0
  let drain: DrainRun
  try {
    drain = await drainWithRelays(ctx, await heldBurstTemplate(ctx, size), 1, {
      count: size + warm,
      during: (url) => {
        const handle = createDatabase(url, 1)
        const resume = (async () => {
          await ctx.sink.waitForCount(warm, 120_000)
          await updatePlugin(handle.db, TENANT, 'held', { status: 'active' })
          resumed = monoMs()
        })()
        // a failed resume leaves the burst parked: the drain fails on its timeout (stop() would rethrow it)
        resume.catch(() => {})
        return {
          async stop() {
            await resume
            await handle.destroy()
          },
        }
      },
    })
  } finally {
    await sampler.stop()
  }
  // the warm-up was all delivered before the resume, and none of the held burst can be before it commits
  const t1 = drain.window[1]
  return { size, drain: { ...drain, rate: (size / (t1 - resumed)) * 1000, window: [resumed, t1] }, ...tenths(sampler.samples, resumed, t1, warm, size) }
}

/** Bursts of this size and more are drained in the first round only: each takes minutes. */
const ONCE_BURST = 1_000_000

/**
 * `burst`: one relay draining fresh bursts (sizes from --burst) that were never
 * analyzed, with autovacuum off for their tables, written through createProduct;
 * and graphile-worker on the same fresh burst of --burst-peer, alternated with ours.
 */
export async function burstScenario(ctx: BenchContext): Promise<BurstResults> {
  const sizes = ctx.options.burst
  const peerSize = sizes.includes(ctx.options.burstPeer) ? ctx.options.burstPeer : Math.min(...sizes)
  const results: BurstResults = { runs: {}, peer: [], ours: [], peerSize, held: [], heldSize: ctx.options.burstHeld }
  for (const size of sizes) await burstTemplate(ctx, size)
  if (ctx.options.burstHeld > 0) await heldBurstTemplate(ctx, ctx.options.burstHeld)
  await burstPeerTemplate(ctx, peerSize)
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const size of rotate(sizes, round)) {
      if (round > 0 && size >= ONCE_BURST) continue
      const run = await burstRun(ctx, size)
      ;(results.runs[size] ??= []).push(run)
      if (size === peerSize) results.ours.push(run.drain)
      ctx.log(`burst round ${round + 1}: ${size}: ${run.drain.rate.toFixed(0)}/s, first 10 % ${run.first10.toFixed(0)}/s, last 10 % ${run.last10.toFixed(0)}/s`)
    }
    if (ctx.options.burstHeld > 0) {
      const held = await heldBurstRun(ctx, ctx.options.burstHeld)
      results.held.push(held)
      ctx.log(`burst round ${round + 1}: ${ctx.options.burstHeld} held, resumed into a running relay: ${held.drain.rate.toFixed(0)}/s, first 10 % ${held.first10.toFixed(0)}/s, last 10 % ${held.last10.toFixed(0)}/s`)
    }
    const peer = await drainWithPeer(ctx, await burstPeerTemplate(ctx, peerSize), peerSize)
    results.peer.push(peer)
    ctx.log(`burst round ${round + 1}: graphile-worker on ${peerSize}: ${peer.rate.toFixed(0)}/s`)
  }
  return results
}
