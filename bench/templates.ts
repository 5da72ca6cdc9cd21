import fs from 'node:fs/promises'
import { sql } from 'kysely'
import path from 'node:path'
import { template, type BenchContext } from './context.ts'
import { addPeerJobs, addPlugin, bulkDeliveries, migrateBoth, seedProducts, vacuumAnalyze, withDatabase } from './seed.ts'
import { monoMs } from './stats.ts'

/** Both schemas, no rows: the start of every other template. */
export const baseTemplate = (ctx: BenchContext) =>
  template(ctx, 'base', async () => {
    const name = await ctx.pg.create('base')
    await migrateBoth(ctx.pg.url(name))
    if (ctx.pg.statements) await withDatabase(ctx.pg.url(name), (db) => sql`create extension if not exists pg_stat_statements`.execute(db))
    return name
  })

/** One plugin → the sink and `drain` committed deliveries, written through createProduct. */
export const drainTemplate = (ctx: BenchContext) =>
  template(ctx, 'drain', async () => {
    const name = await ctx.pg.create('drain', await baseTemplate(ctx))
    const url = ctx.pg.url(name)
    const t0 = monoMs()
    await withDatabase(url, (db) => addPlugin(db, ctx.cipher, 'sink', ctx.sink.url))
    await seedProducts(url, ctx.options.drain)
    ctx.log(`seeded ${ctx.options.drain} products through createProduct in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    await withDatabase(url, async (db) => {
      const event = await db.selectFrom('events').select('body').limit(1).executeTakeFirstOrThrow()
      await fs.writeFile(ctx.bodyFile, event.body)
      await vacuumAnalyze(db)
    })
    return name
  })

/** The drain template plus one graphile-worker job per pending delivery (same id, type, URL, body). */
export const peerTemplate = (ctx: BenchContext) =>
  template(ctx, 'peer', async () => {
    const name = await ctx.pg.create('peer', await drainTemplate(ctx))
    await withDatabase(ctx.pg.url(name), async (db) => {
      const added = await addPeerJobs(db)
      if (added !== ctx.options.drain) throw new Error(`added ${added} graphile-worker jobs, expected ${ctx.options.drain}`)
      await vacuumAnalyze(db)
    })
    return name
  })

/** The drain template over `rows` of delivered history (events, deliveries 'sent', their attempts). */
export const historyTemplate = (ctx: BenchContext, rows: number) =>
  template(ctx, `history-${rows}`, async () => {
    const name = await ctx.pg.create(`hist${rows}`, await drainTemplate(ctx))
    const t0 = monoMs()
    await withDatabase(ctx.pg.url(name), async (db) => {
      const plugin = await db.selectFrom('plugins').select('id').executeTakeFirstOrThrow()
      await bulkDeliveries(db, plugin.id, rows, 'sent')
      await vacuumAnalyze(db)
    })
    ctx.log(`history template: ${rows} delivered rows in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    return name
  })

/** The drain template's deliveries topped up to a backlog of `memoryBacklog` pending ones. */
export const memoryTemplate = (ctx: BenchContext) =>
  template(ctx, 'memory', async () => {
    const name = await ctx.pg.create('memory', await drainTemplate(ctx))
    const t0 = monoMs()
    await withDatabase(ctx.pg.url(name), async (db) => {
      const plugin = await db.selectFrom('plugins').select('id').executeTakeFirstOrThrow()
      await bulkDeliveries(db, plugin.id, ctx.options.memoryBacklog - ctx.options.drain, 'pending')
      await vacuumAnalyze(db)
    })
    ctx.log(`memory template: a backlog of ${ctx.options.memoryBacklog} in ${((monoMs() - t0) / 1000).toFixed(1)} s`)
    return name
  })

export const profileDir = async (ctx: BenchContext, name: string): Promise<string> => {
  const dir = path.join(ctx.workDir, 'profiles', name)
  await fs.mkdir(dir, { recursive: true })
  return dir
}
