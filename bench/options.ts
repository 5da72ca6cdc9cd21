import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

export const SCENARIOS = ['drain', 'latency', 'write', 'history', 'memory', 'plugins', 'burst', 'fairness-at-scale', 'retention', 'writers', 'analytics'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface BenchOptions {
  quick: boolean
  /** repetitions of every measured run; the median and range are reported */
  runs: number
  /** keep-alive sockets and deliveries in flight, per relay and for the ceiling and the peer */
  concurrency: number
  /** committed deliveries drained per run (through the real write path) */
  drain: number
  relays: number[]
  /** delivered history under the two history runs */
  history: [small: number, large: number]
  /** pending backlog of the memory run, and how many of it are drained while RSS is watched */
  memoryBacklog: number
  memoryDrain: number
  latencyRates: number[]
  latencySeconds: number
  writeSeconds: number
  writeConnections: number
  writePlugins: number[]
  /** claims timed per history database */
  claimSamples: number
  /** `plugins`: active plugins (10 of them busy), one run each */
  pluginCounts: number[]
  /** `plugins`: products written for the 10 busy plugins (each gets one delivery of each) */
  pluginsBacklog: number
  /** `burst`: sizes of the fresh bursts (never analyzed); those of 1,000,000 and more are drained in the first round only */
  burst: number[]
  /** `burst`: the size graphile-worker drains beside ours (one of --burst; the smallest if it is not one) */
  burstPeer: number
  /** `burst`: a backlog held for a paused plugin, resumed into a relay already delivering (0: none) */
  burstHeld: number
  /** `analytics`: deliveries (with attempts and rollups) of the small and the large store */
  analytics: [small: number, large: number]
  /** `fairness-at-scale`: the big store's backlog, the small stores, their writes per second and for how long */
  fairnessBacklog: number
  fairnessTenants: number
  fairnessRate: number
  fairnessSeconds: number
  /** `retention`: settled rows past retention beside the drain's backlog */
  retentionHistory: number
  /** `writers`: concurrent writers, and for how long */
  writersConnections: number
  writersSeconds: number
  /** an extra, unmeasured drain of one relay (and a ceiling run) under --cpu-prof */
  profile: boolean
  only: ScenarioName[]
  /**
   * another bin/relay (e.g. a copy of the tree with a proposed change) drained as
   * one more contender beside ours: before and after, side by side
   */
  candidate: string | undefined
  /** extra settings for every relay (KEY=VALUE,…), applied last: experiments with the relay's configuration */
  relayEnv: Record<string, string>
  /** admin URL of a running PostgreSQL to use instead of starting the embedded one */
  pgUrl: string | undefined
  out: string
}

const FULL = {
  runs: 3,
  concurrency: 50,
  drain: 50_000,
  relays: [1, 2, 4],
  history: [10_000, 1_000_000] as [number, number],
  memoryBacklog: 1_000_000,
  memoryDrain: 50_000,
  latencyRates: [100, 1000],
  latencySeconds: 20,
  writeSeconds: 10,
  writeConnections: 10,
  writePlugins: [0, 1, 10],
  claimSamples: 200,
  pluginCounts: [10, 1_000, 10_000, 50_000],
  pluginsBacklog: 500,
  // above 20,000 the burst is written set-based (bench/seed.ts seedBurst); 1,000,000 is drained once
  burst: [10_000, 20_000, 100_000, 1_000_000],
  burstPeer: 20_000,
  burstHeld: 100_000,
  analytics: [10_000, 10_000_000] as [number, number],
  fairnessBacklog: 1_000_000,
  fairnessTenants: 1_000,
  fairnessRate: 20,
  fairnessSeconds: 20,
  retentionHistory: 2_000_000,
  writersConnections: 8,
  writersSeconds: 10,
}

/** `--quick`: every scenario, tiny, once; the 1 M rows become a few thousand. For the test that keeps the bench alive. */
const QUICK: typeof FULL = {
  runs: 1,
  concurrency: 50,
  drain: 400,
  relays: [1, 2],
  history: [100, 2_000],
  memoryBacklog: 3_000,
  memoryDrain: 400,
  // the full rates are a load test; quick only checks that the path works
  latencyRates: [50, 200],
  latencySeconds: 1,
  writeSeconds: 1,
  writeConnections: 10,
  writePlugins: [0, 1, 10],
  claimSamples: 20,
  pluginCounts: [10, 100],
  pluginsBacklog: 10,
  burst: [400],
  burstPeer: 400,
  burstHeld: 400,
  analytics: [1_000, 20_000] as [number, number],
  fairnessBacklog: 1_000,
  fairnessTenants: 10,
  fairnessRate: 20,
  fairnessSeconds: 1,
  retentionHistory: 3_000,
  writersConnections: 4,
  writersSeconds: 1,
}

const int = (name: string, value: string): number => {
  const n = Number(value.replaceAll('_', ''))
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${value}`)
  return n
}
const ints = (name: string, value: string): number[] => value.split(',').map((v) => int(name, v.trim()))

/** Flags, or BENCH_<FLAG> variables (BENCH_DRAIN=20000), over the full or --quick sizes. */
export function benchOptions(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      concurrency: { type: 'string' },
      drain: { type: 'string' },
      relays: { type: 'string' },
      history: { type: 'string' },
      'memory-backlog': { type: 'string' },
      'memory-drain': { type: 'string' },
      'latency-rates': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'write-seconds': { type: 'string' },
      'write-connections': { type: 'string' },
      'write-plugins': { type: 'string' },
      'claim-samples': { type: 'string' },
      plugins: { type: 'string' },
      'plugins-backlog': { type: 'string' },
      burst: { type: 'string' },
      'burst-peer': { type: 'string' },
      'burst-held': { type: 'string' },
      analytics: { type: 'string' },
      'fairness-backlog': { type: 'string' },
      'fairness-tenants': { type: 'string' },
      'fairness-rate': { type: 'string' },
      'fairness-seconds': { type: 'string' },
      'retention-history': { type: 'string' },
      'writers-connections': { type: 'string' },
      'writers-seconds': { type: 'string' },
      profile: { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      only: { type: 'string' },
      'relay-env': { type: 'string' },
      candidate: { type: 'string' },
      'pg-url': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  })
  const pick = (flag: keyof typeof values): string | undefined => {
    const value = values[flag]
    if (typeof value === 'string') return value
    return env[`BENCH_${flag.toUpperCase().replaceAll('-', '_')}`] || undefined
  }
  const quick = values.quick === true || env.BENCH_QUICK === '1'
  const base = quick ? QUICK : FULL
  const historyValue = pick('history')
  const history = historyValue ? ints('history', historyValue) : base.history
  if (history.length !== 2) throw new Error('--history takes two sizes: small,large')
  const analyticsValue = pick('analytics')
  const analytics = analyticsValue ? ints('analytics', analyticsValue) : base.analytics
  if (analytics.length !== 2) throw new Error('--analytics takes two sizes: small,large')
  const only = (pick('only')?.split(',') ?? [...SCENARIOS]) as ScenarioName[]
  for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`--only: unknown scenario ${name} (${SCENARIOS.join(', ')})`)
  const num = (flag: keyof typeof values, fallback: number) => {
    const v = pick(flag)
    return v === undefined ? fallback : int(flag, v)
  }
  const list = (flag: keyof typeof values, fallback: number[]) => {
    const v = pick(flag)
    return v === undefined ? fallback : ints(flag, v)
  }
  const options: BenchOptions = {
    quick,
    runs: Math.max(1, num('runs', base.runs)),
    concurrency: Math.max(1, num('concurrency', base.concurrency)),
    drain: num('drain', base.drain),
    relays: list('relays', base.relays),
    history: [history[0]!, history[1]!],
    memoryBacklog: num('memory-backlog', base.memoryBacklog),
    memoryDrain: num('memory-drain', base.memoryDrain),
    latencyRates: list('latency-rates', base.latencyRates),
    latencySeconds: num('latency-seconds', base.latencySeconds),
    writeSeconds: num('write-seconds', base.writeSeconds),
    writeConnections: num('write-connections', base.writeConnections),
    writePlugins: list('write-plugins', base.writePlugins),
    claimSamples: num('claim-samples', base.claimSamples),
    pluginCounts: list('plugins', base.pluginCounts).map((n) => Math.max(n, 10)),
    pluginsBacklog: num('plugins-backlog', base.pluginsBacklog),
    burst: list('burst', base.burst),
    burstPeer: num('burst-peer', base.burstPeer),
    burstHeld: num('burst-held', base.burstHeld),
    analytics: [analytics[0]!, analytics[1]!],
    fairnessBacklog: num('fairness-backlog', base.fairnessBacklog),
    fairnessTenants: Math.max(1, num('fairness-tenants', base.fairnessTenants)),
    fairnessRate: Math.max(1, num('fairness-rate', base.fairnessRate)),
    fairnessSeconds: Math.max(1, num('fairness-seconds', base.fairnessSeconds)),
    retentionHistory: num('retention-history', base.retentionHistory),
    writersConnections: Math.max(1, num('writers-connections', base.writersConnections)),
    writersSeconds: Math.max(1, num('writers-seconds', base.writersSeconds)),
    // profiling costs a drain's time; on by default for the full run only
    profile: values['no-profile'] ? false : values.profile === true || env.BENCH_PROFILE === '1' || !quick,
    only,
    relayEnv: Object.fromEntries(
      (pick('relay-env') ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const at = pair.indexOf('=')
          if (at < 1) throw new Error(`--relay-env takes KEY=VALUE pairs, got ${pair}`)
          return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()]
        }),
    ),
    candidate: pick('candidate') ? path.resolve(pick('candidate')!) : undefined,
    pgUrl: pick('pg-url'),
    out: path.resolve(pick('out') ?? fileURLToPath(new URL('./results/', import.meta.url))),
  }
  if (options.memoryDrain > options.memoryBacklog) throw new Error('--memory-drain cannot exceed --memory-backlog')
  if (options.memoryBacklog < options.drain) throw new Error('--memory-backlog cannot be smaller than --drain (it extends the drain backlog)')
  return options
}
