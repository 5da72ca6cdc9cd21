import http from 'node:http'
import pg from 'pg'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/helpers/net.ts'
import { rotate, type BenchContext } from '../context.ts'
import { failOnExit, startApi, startRelay, type Child } from '../processes.ts'
import { addPlugin, benchProduct, withDatabase } from '../seed.ts'
import { MARKER } from '../sink-control.ts'
import { monoMs, percentiles, type Percentiles } from '../stats.ts'
import { baseTemplate } from '../templates.ts'

export interface LatencyRun {
  rate: number
  /** writes per second the API answered (the schedule sends at `rate`) */
  achievedRate: number
  writes: number
  /** send of the write → receipt at the sink, ms (it includes the write itself) */
  endToEnd: Percentiles
  /** commit of the write (PostgreSQL's commit timestamp) → receipt at the sink, ms; when the server keeps commit times */
  commitToReceipt?: Percentiles
  /** the write's own response time, ms */
  api: Percentiles
  failedWrites: number
}

export type LatencyResults = Record<number, LatencyRun[]>

async function waitForHealth(url: string, api: Child): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    if (api.child.exitCode !== null) throw new Error(`the API exited:\n${api.output().slice(-3000)}`)
    const ok = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false)
    if (ok) return
    if (Date.now() > deadline) throw new Error(`the API did not become healthy:\n${api.output().slice(-3000)}`)
    await sleep(100)
  }
}

/**
 * Writes through `POST /api/products` at a steady `rate` for `seconds`, open loop:
 * each write is sent when the schedule says, whether or not earlier ones have been
 * answered, so a slow API shows as latency instead of silently lowering the rate.
 * Each product's description carries the send time (ns, monotonic clock).
 */
async function steadyWrites(apiUrl: string, rate: number, seconds: number, agent: http.Agent) {
  const total = Math.max(1, Math.round(rate * seconds))
  const interval = 1000 / rate
  const { hostname, port } = new URL(apiUrl)
  const apiLatencies: number[] = []
  let failed = 0
  const pending: Promise<void>[] = []
  const send = (i: number) =>
    new Promise<void>((resolve) => {
      const sentNs = process.hrtime.bigint()
      const body = JSON.stringify(benchProduct(i, `${MARKER}${sentNs}`))
      const req = http.request(
        { agent, hostname, port, path: '/api/products', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode === 201) apiLatencies.push(Number(process.hrtime.bigint() - sentNs) / 1e6)
            else failed++
            resolve()
          })
        },
      )
      req.on('error', () => {
        failed++
        resolve()
      })
      req.end(body)
    })
  const t0 = monoMs()
  for (let i = 0; i < total; ) {
    const due = t0 + i * interval
    const now = monoMs()
    if (now < due) {
      await sleep(due - now)
      continue
    }
    pending.push(send(i++))
  }
  await Promise.all(pending)
  // answered, not sent: an API that cannot keep up shows here as less than `rate`
  const answeredMs = monoMs() - t0
  return { total, failed, apiLatencies, achievedRate: (total / Math.max(answeredMs, interval)) * 1000 }
}

/**
 * Receipt − commit for each delivery: the commit time PostgreSQL stamped on the
 * transaction that wrote the event (track_commit_timestamp), against the sink's
 * wall clock at receipt. Both clocks are this machine's.
 */
export async function sinceCommit(databaseUrl: string, receipts: [string, number][]): Promise<number[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string; committed: number }>(
      `select id, extract(epoch from pg_xact_commit_timestamp(xmin)) * 1000 as committed from events where id = any($1::uuid[])`,
      [receipts.map(([id]) => id)],
    )
    const committed = new Map(rows.map((r) => [r.id, Number(r.committed)]))
    return receipts.flatMap(([id, at]) => {
      const commit = committed.get(id)
      return commit === undefined ? [] : [at - commit]
    })
  } finally {
    await client.end()
  }
}

/**
 * Scenario 4: the API (RELAY=off) and one bin/relay, each its own process, one
 * plugin subscribed; writes at each rate, commit-to-receipt percentiles at the sink.
 */
export async function latencyScenario(ctx: BenchContext): Promise<LatencyResults> {
  const db = await ctx.pg.create('latency', await baseTemplate(ctx))
  const url = ctx.pg.url(db)
  await withDatabase(url, (d) => addPlugin(d, ctx.cipher, 'sink', ctx.sink.url))
  const port = await freePort()
  const apiUrl = `http://127.0.0.1:${port}`
  const api = startApi('bench-api-latency', url, port, ctx.env)
  const relay = startRelay('bench-relay-latency', url, ctx.env)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const results: LatencyResults = {}
  try {
    await waitForHealth(apiUrl, api)
    const crashed = failOnExit([api, relay])
    const phase = async (rate: number, seconds: number) => {
      await ctx.sink.reset(true)
      const writes = await Promise.race([steadyWrites(apiUrl, rate, seconds, agent), crashed.promise])
      const delivered = writes.total - writes.failed
      await Promise.race([ctx.sink.waitForCount(delivered, 60_000), crashed.promise])
      const received = await ctx.sink.stats(true)
      if (received.unmarked > 0 || received.duplicates > 0) {
        throw new Error(`latency: ${received.unmarked} deliveries without a send time, ${received.duplicates} duplicates`)
      }
      const commitToReceipt = ctx.pg.commitTimes ? await sinceCommit(url, received.receipts) : undefined
      return { writes, received, commitToReceipt }
    }
    // warm-up, not measured: the relay is listening once a write reaches the sink, and both have compiled their hot paths
    await phase(ctx.options.latencyRates[0] ?? 100, Math.min(2, Math.max(0.5, ctx.options.latencySeconds / 4)))
    for (let round = 0; round < ctx.options.runs; round++) {
      for (const rate of rotate(ctx.options.latencyRates, round)) {
        const { writes, received, commitToReceipt } = await phase(rate, ctx.options.latencySeconds)
        ;(results[rate] ??= []).push({
          rate,
          achievedRate: writes.achievedRate,
          writes: writes.total,
          endToEnd: percentiles(received.latencies),
          commitToReceipt: commitToReceipt && percentiles(commitToReceipt),
          api: percentiles(writes.apiLatencies),
          failedWrites: writes.failed,
        })
        ctx.log(`latency round ${round + 1}: ${rate}/s done`)
      }
    }
    crashed.cancel()
  } finally {
    agent.destroy()
    await Promise.all([api.stop(), relay.stop()])
    await ctx.pg.drop(db)
  }
  return results
}
