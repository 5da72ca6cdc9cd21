import { randomUUID } from 'node:crypto'
import { leaseMs, loadConfig } from '../../src/config.ts'
import { createPool } from '../../src/db/database.ts'
import { claimRolledBack } from '../claim-sample.ts'
import { drainEnv, rotate, type BenchContext } from '../context.ts'
import { monoMs, percentiles, type Percentiles } from '../stats.ts'
import { historyTemplate } from '../templates.ts'
import { drainWithRelays } from './drain.ts'

export interface HistoryRun {
  history: number
  /** the relay's claim statement (src/relay/sql/claim.ts) of a full batch, ms */
  claim: Percentiles
  /** one relay draining the drain backlog on top of the history */
  rate: number
}

export type HistoryResults = Record<number, HistoryRun[]>

/**
 * Times the relay's own claim statement, a batch of RELAY_CONCURRENCY as the relay
 * asks for it (with the drains' PLUGIN_MAX_IN_FLIGHT), `samples` times, each in a transaction rolled back so every sample
 * sees the same backlog. One connection (a pool of one), so the named statement is
 * prepared once, as in the relay.
 */
async function claimLatency(url: string, batch: number, samples: number, maxInFlight: number): Promise<Percentiles> {
  const pool = createPool(url, 1)
  const lease = leaseMs(loadConfig({}))
  const times: number[] = []
  try {
    for (let i = 0; i < samples + 5; i++) {
      const t0 = monoMs()
      const rows = await claimRolledBack(pool, batch, randomUUID(), lease, null, maxInFlight)
      const ms = monoMs() - t0
      if (rows.length !== batch) throw new Error(`the claim returned ${rows.length} of ${batch}`)
      // the first few plan and warm the cache
      if (i >= 5) times.push(ms)
    }
  } finally {
    await pool.end()
  }
  return percentiles(times)
}

/** Scenario 6: claim latency and a one-relay drain over a small and a large delivered history, side by side. */
export async function historyScenario(ctx: BenchContext): Promise<HistoryResults> {
  const sizes = ctx.options.history
  const templates = new Map<number, string>()
  for (const rows of sizes) templates.set(rows, await historyTemplate(ctx, rows))
  const results: HistoryResults = {}
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const rows of rotate(sizes, round)) {
      const template = templates.get(rows)!
      // the claim is timed on a copy of its own: drainWithRelays makes another
      const db = await ctx.pg.create('claim', template)
      const maxInFlight = Number(drainEnv(ctx, 1).PLUGIN_MAX_IN_FLIGHT)
      const claim = await claimLatency(ctx.pg.url(db), ctx.options.concurrency, ctx.options.claimSamples, maxInFlight).finally(() => ctx.pg.drop(db))
      const drain = await drainWithRelays(ctx, template, 1, { count: ctx.options.drain })
      ;(results[rows] ??= []).push({ history: rows, claim, rate: drain.rate })
      ctx.log(`history round ${round + 1}: ${rows} rows done`)
    }
  }
  return results
}
