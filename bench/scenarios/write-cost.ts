import autocannon from 'autocannon'
import { sql } from 'kysely'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/helpers/net.ts'
import { rotate, type BenchContext } from '../context.ts'
import { cpuMs, postgresCpuMs } from '../cpu.ts'
import { resetStatements, topStatements, type StatementStats } from '../postgres.ts'
import { failOnExit, startApi } from '../processes.ts'
import { addPlugin, benchProduct, withDatabase } from '../seed.ts'
import { baseTemplate } from '../templates.ts'

export interface WriteRun {
  plugins: number
  /** 201 responses per second */
  rate: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
  /** CPU each write cost, ms: the API process, PostgreSQL */
  cpu: { api: number; postgres: number }
  /** what PostgreSQL spent its time on (pg_stat_statements, when loaded) */
  statements?: StatementStats[]
}

export type WriteResults = Record<number, WriteRun[]>

/**
 * Scenario 5: `POST /api/products` flat out (autocannon, driven from this process,
 * against the API in its own process with RELAY=off: the cost of the write and its
 * outbox rows alone, no relay competing for the cores), with 0, 1 and 10 plugins
 * subscribed. Every run starts from empty products/events/deliveries tables, so a
 * later run does not pay for an earlier one's rows.
 */
export async function writeScenario(ctx: BenchContext): Promise<WriteResults> {
  const db = await ctx.pg.create('write', await baseTemplate(ctx))
  const url = ctx.pg.url(db)
  const most = Math.max(0, ...ctx.options.writePlugins)
  const slugs = Array.from({ length: most }, (_, i) => `sub${i}`)
  await withDatabase(url, async (d) => {
    for (const slug of slugs) await addPlugin(d, ctx.cipher, slug, ctx.sink.url)
  })
  const port = await freePort()
  const api = startApi('bench-api-write', url, port, ctx.env)
  const results: WriteResults = {}
  const body = JSON.stringify(benchProduct(0))
  const cannon = (seconds: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}/api/products`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections: ctx.options.writeConnections,
      duration: seconds,
    })
  try {
    await withDatabase(url, async (d) => {
      const deadline = Date.now() + 60_000
      while (!(await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false))) {
        if (api.child.exitCode !== null || Date.now() > deadline) throw new Error(`the API did not start:\n${api.output().slice(-3000)}`)
        await sleep(100)
      }
      const crashed = failOnExit([api])
      // bench-only set-up, straight in the tables: `subscribed` plugins live, the rest gone
      const subscribe = async (subscribed: number) => {
        await sql`update plugins set status = case when slug = any(${slugs.slice(0, subscribed)}::text[]) then 'active' else 'deleted' end`.execute(d)
        await sql`truncate products, events, deliveries, delivery_attempts cascade`.execute(d)
      }
      await subscribe(Math.min(1, most))
      await Promise.race([cannon(Math.max(1, Math.ceil(ctx.options.writeSeconds / 4))), crashed.promise]) // warm-up
      for (let round = 0; round < ctx.options.runs; round++) {
        for (const plugins of rotate(ctx.options.writePlugins, round)) {
          await subscribe(plugins)
          if (ctx.pg.statements) await resetStatements(url)
          const before = await Promise.all([cpuMs(api.pid), postgresCpuMs(ctx.postmaster)])
          const result = await Promise.race([cannon(ctx.options.writeSeconds), crashed.promise])
          const after = await Promise.all([cpuMs(api.pid), postgresCpuMs(ctx.postmaster)])
          const statements = ctx.pg.statements ? await topStatements(url, 6) : undefined
          if (result.non2xx > 0) throw new Error(`${result.non2xx} writes were refused with ${plugins} plugins: the rate would not be of writes`)
          // one statement, one snapshot: writes still in flight when autocannon stops commit in between otherwise
          const { rows } = await sql<{ products: number; deliveries: number }>`
            select (select count(*)::int from products) as products, (select count(*)::int from deliveries) as deliveries
          `.execute(d)
          const counted = rows[0]!
          if (counted.deliveries !== counted.products * plugins) {
            throw new Error(`${counted.products} products with ${plugins} plugins made ${counted.deliveries} deliveries`)
          }
          ;(results[plugins] ??= []).push({
            plugins,
            rate: result['2xx'] / result.duration,
            p50Ms: result.latency.p50,
            p99Ms: result.latency.p99,
            non2xx: result.non2xx,
            errors: result.errors,
            cpu: { api: (after[0] - before[0]) / counted.products, postgres: (after[1] - before[1]) / counted.products },
            statements,
          })
          ctx.log(`write round ${round + 1}: ${plugins} plugins done`)
        }
      }
      crashed.cancel()
    })
  } finally {
    await api.stop()
    await ctx.pg.drop(db)
  }
  return results
}
