import { rotate, type BenchContext } from '../context.ts'
import { drainTemplate, memoryTemplate } from '../templates.ts'
import { drainWithRelays, type DrainRun } from './drain.ts'

export interface MemoryResults {
  /** peak RSS of one relay draining the whole drain backlog, bytes */
  drain: number[]
  /** peak RSS of one relay while it drains `memoryDrain` of the large backlog, bytes */
  backlog: number[]
  /** rate of those partial drains of the large backlog */
  backlogRate: number[]
}

/**
 * Scenario 7: the relay's peak RSS (VmHWM) draining the drain backlog, and draining
 * the first `memoryDrain` of a backlog of `memoryBacklog`: the same work, so any
 * difference is memory that grows with the backlog. One-relay drains already
 * measured by the drain scenario are reused, not repeated.
 */
export async function memoryScenario(ctx: BenchContext, oneRelayDrains: DrainRun[] = []): Promise<MemoryResults> {
  const results: MemoryResults = { drain: oneRelayDrains.map((r) => r.peakRss[0]!), backlog: [], backlogRate: [] }
  const large = await memoryTemplate(ctx)
  const small = await drainTemplate(ctx)
  const kinds = results.drain.length >= ctx.options.runs ? ['backlog' as const] : (['drain', 'backlog'] as const)
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const kind of rotate(kinds, round)) {
      if (kind === 'drain') {
        const run = await drainWithRelays(ctx, small, 1, { count: ctx.options.drain })
        results.drain.push(run.peakRss[0]!)
      } else {
        const run = await drainWithRelays(ctx, large, 1, { count: ctx.options.memoryBacklog, stopAfter: ctx.options.memoryDrain })
        results.backlog.push(run.peakRss[0]!)
        results.backlogRate.push(run.rate)
      }
      ctx.log(`memory round ${round + 1}: ${kind} done`)
    }
  }
  return results
}
