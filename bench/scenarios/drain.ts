import pg from 'pg'
import { drainEnv, rotate, type BenchContext } from '../context.ts'
import { cpuMs, postgresCpuMs } from '../cpu.ts'
import { holdTable, resetStatements, topStatements, type StatementStats } from '../postgres.ts'
import { cpuProfileArgs, failOnExit, peakRss, startRelay, startScript, type Child } from '../processes.ts'
import { monoMs } from '../stats.ts'
import { drainTemplate, peerTemplate } from '../templates.ts'

export interface DrainRun {
  /** deliveries (or jobs, or requests) per second */
  rate: number
  ms: number
  count: number
  /** peak RSS of each worker process, bytes */
  peakRss: number[]
  /** the measured interval on the monotonic clock, ms */
  window: [number, number]
  /** CPU each delivery cost, ms: the worker processes (relays, peer, or the ceiling loop), the sink, PostgreSQL */
  cpu: CpuPerDelivery
  /** what PostgreSQL spent its time on during the drain (pg_stat_statements, when loaded) */
  statements?: StatementStats[]
}

export interface CpuPerDelivery {
  worker: number
  sink: number
  postgres: number
}

async function cpuSnapshot(ctx: BenchContext, workers: Child[]): Promise<CpuPerDelivery> {
  const [worker, sink, postgres] = await Promise.all([
    Promise.all(workers.map((c) => cpuMs(c.pid))).then((all) => all.reduce((a, b) => a + b, 0)),
    cpuMs(ctx.sink.pid),
    postgresCpuMs(ctx.postmaster),
  ])
  return { worker, sink, postgres }
}

const perDelivery = (before: CpuPerDelivery, after: CpuPerDelivery, count: number): CpuPerDelivery => ({
  worker: (after.worker - before.worker) / count,
  sink: (after.sink - before.sink) / count,
  postgres: (after.postgres - before.postgres) / count,
})

export interface DrainResults {
  relays: Record<number, DrainRun[]>
  /** --candidate's relays, by count */
  candidate?: Record<number, DrainRun[]>
  ceiling: DrainRun[]
  peer: DrainRun[]
}

/** Generous: a stuck drain fails the bench instead of hanging it. */
const timeoutFor = (count: number) => 60_000 + count * 20

async function countRows(url: string, query: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<{ n: number }>(query)).rows[0]!.n
  } finally {
    await client.end()
  }
}

/** Polls `query` (a count) until it is 0; returns when it was seen so. */
async function waitForZero(url: string, query: string, timeoutMs: number): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const n = (await client.query<{ n: number }>(query)).rows[0]!.n
      if (n === 0) return monoMs()
      if (Date.now() > deadline) throw new Error(`${n} rows still left after ${timeoutMs} ms: ${query}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } finally {
    await client.end()
  }
}

/**
 * One drain on a fresh copy of `templateName`: the workers start behind the
 * starting gate (a lock on `gateTable`), the clock starts when the gate opens and
 * stops when `doneQuery` counts 0 (every outcome written), or, with `stopAfter`,
 * when the sink has that many. Workers are then stopped gracefully.
 */
export async function gatedDrain(
  ctx: BenchContext,
  options: {
    templateName: string
    gateTable: string
    doneQuery: string
    count: number
    stopAfter?: number
    start: (databaseUrl: string) => Child[]
    after?: (databaseUrl: string) => Promise<void>
    /** started when the gate opens, stopped when the drain is done (work that runs beside it) */
    during?: (databaseUrl: string) => { stop(): Promise<void> }
  },
): Promise<DrainRun> {
  const db = await ctx.pg.create('run', options.templateName)
  const url = ctx.pg.url(db)
  const gate = await holdTable(url, options.gateTable)
  let children: Child[] = []
  try {
    await ctx.sink.reset()
    children = options.start(url)
    const crashed = failOnExit(children)
    const appPrefix = children[0]!.name.replace(/-\d+$/, '')
    await Promise.race([gate.waitForWaiters(appPrefix, children.length, 120_000), crashed.promise]).catch((error: Error) => {
      error.message += children.map((c) => `\n${c.name} said:\n${c.output().slice(-2000)}`).join('')
      throw error
    })
    if (ctx.pg.statements) await resetStatements(url)
    const cpu0 = await cpuSnapshot(ctx, children)
    const t0 = monoMs()
    await gate.open()
    const beside = options.during?.(url)
    const target = options.stopAfter ?? options.count
    await Promise.race([ctx.sink.waitForCount(target, timeoutFor(target)), crashed.promise])
    const t1 = options.stopAfter ? monoMs() : await Promise.race([waitForZero(url, options.doneQuery, timeoutFor(options.count)), crashed.promise])
    await beside?.stop()
    const cpu1 = await cpuSnapshot(ctx, children)
    const statements = ctx.pg.statements ? await topStatements(url) : undefined
    const rss = await Promise.all(children.map((c) => peakRss(c.pid)))
    crashed.cancel()
    const codes = await Promise.all(children.map((c) => c.stop()))
    for (const [i, code] of codes.entries()) {
      if (code !== 0) throw new Error(`${children[i]!.name} exited with ${code}:\n${children[i]!.output().slice(-3000)}`)
    }
    const received = await ctx.sink.stats()
    if (received.duplicates > 0) throw new Error(`the sink received ${received.duplicates} duplicate deliveries`)
    if (!options.stopAfter && received.count !== options.count) {
      throw new Error(`the sink received ${received.count} requests for ${options.count} deliveries`)
    }
    await options.after?.(url)
    const count = options.stopAfter ?? options.count
    return { rate: (count / (t1 - t0)) * 1000, ms: t1 - t0, count, peakRss: rss, window: [t0, t1], cpu: perDelivery(cpu0, cpu1, count), statements }
  } finally {
    await gate.close()
    await Promise.all(children.map((c) => c.stop(5000)))
    await ctx.pg.drop(db)
  }
}

/** `relays` bin/relay processes draining a copy of `templateName`. */
export function drainWithRelays(
  ctx: BenchContext,
  templateName: string,
  relays: number,
  options: {
    count: number
    stopAfter?: number
    profileDir?: string
    bin?: string
    env?: Record<string, string>
    during?: (databaseUrl: string) => { stop(): Promise<void> }
  },
): Promise<DrainRun> {
  const env = { ...drainEnv(ctx, relays), ...options.env }
  const nodeArgs = options.profileDir ? cpuProfileArgs(options.profileDir) : []
  return gatedDrain(ctx, {
    templateName,
    gateTable: 'deliveries',
    // the due index holds exactly the deliveries not yet done
    doneQuery: `select count(*)::int as n from deliveries where status in ('pending', 'retry')`,
    count: options.count,
    stopAfter: options.stopAfter,
    during: options.during,
    start: (url) => Array.from({ length: relays }, (_, i) => startRelay(`bench-relay-${i + 1}`, url, env, nodeArgs, options.bin)),
    after: options.stopAfter
      ? undefined
      : async (url) => {
          const failed = await countRows(url, `select count(*)::int as n from deliveries where status = 'failed'`)
          if (failed > 0) throw new Error(`${failed} deliveries failed`)
        },
  })
}

/** graphile-worker draining the same backlog, as jobs (bench/peer-worker.ts). */
export async function drainWithPeer(ctx: BenchContext, templateName?: string, count = ctx.options.drain): Promise<DrainRun> {
  return gatedDrain(ctx, {
    templateName: templateName ?? (await peerTemplate(ctx)),
    gateTable: 'graphile_worker._private_jobs',
    // graphile-worker deletes a job when it completes
    doneQuery: 'select count(*)::int as n from graphile_worker._private_jobs',
    count,
    start: (url) => [startScript('bench-peer-1', './peer-worker.ts', { ...ctx.env, DATABASE_URL: url })],
  })
}

/** The bare client loop (bench/ceiling.ts): the same POSTs, no database. */
export async function ceiling(ctx: BenchContext, profileDir?: string): Promise<DrainRun> {
  await ctx.sink.reset()
  const cpu0 = await cpuSnapshot(ctx, [])
  const child = startScript(
    'bench-ceiling',
    './ceiling.ts',
    { ...ctx.env, BENCH_COUNT: String(ctx.options.drain), BENCH_URL: ctx.sink.url, BENCH_BODY_FILE: ctx.bodyFile },
    profileDir ? cpuProfileArgs(profileDir) : [],
  )
  const code = await child.exited
  const line = child.output().trim().split('\n').at(-1) ?? ''
  if (code !== 0) throw new Error(`the ceiling loop exited with ${code}:\n${child.output().slice(-3000)}`)
  const cpu1 = await cpuSnapshot(ctx, [])
  const result = JSON.parse(line) as { count: number; ok: number; ms: number; window: [number, number]; cpuMs: number; errors: Record<string, number> }
  if (result.ok !== result.count) throw new Error(`the ceiling loop had failures: ${JSON.stringify(result.errors)}`)
  const received = await ctx.sink.stats()
  if (received.count !== result.count) throw new Error(`the sink received ${received.count} of the ceiling's ${result.count} requests`)
  const cpu = perDelivery(cpu0, cpu1, result.count)
  cpu.worker = result.cpuMs / result.count
  return { rate: (result.count / result.ms) * 1000, ms: result.ms, count: result.count, peakRss: [], window: result.window, cpu }
}

/** Scenarios 1–3, interleaved: each round runs every contender once, in rotated order. */
export async function drainScenario(ctx: BenchContext): Promise<DrainResults> {
  const results: DrainResults = { relays: {}, ceiling: [], peer: [] }
  const drain = await drainTemplate(ctx)
  await peerTemplate(ctx)
  type Contender = { name: string; run: () => Promise<void> }
  const contenders: Contender[] = [
    ...ctx.options.relays.map((n) => ({
      name: `${n} relay${n === 1 ? '' : 's'}`,
      run: async () => {
        ;(results.relays[n] ??= []).push(await drainWithRelays(ctx, drain, n, { count: ctx.options.drain }))
      },
    })),
    ...(ctx.options.candidate
      ? ctx.options.relays.map((n) => ({
          name: `${n} candidate relay${n === 1 ? '' : 's'}`,
          run: async () => {
            const candidate = (results.candidate ??= {})
            ;(candidate[n] ??= []).push(await drainWithRelays(ctx, drain, n, { count: ctx.options.drain, bin: ctx.options.candidate }))
          },
        }))
      : []),
    { name: 'ceiling', run: async () => void results.ceiling.push(await ceiling(ctx)) },
    { name: 'graphile-worker', run: async () => void results.peer.push(await drainWithPeer(ctx)) },
  ]
  for (let round = 0; round < ctx.options.runs; round++) {
    for (const contender of rotate(contenders, round)) {
      await contender.run()
      ctx.log(`drain round ${round + 1}: ${contender.name} done`)
    }
  }
  return results
}
