import { sql } from 'kysely'
import { runMigrations } from 'graphile-worker'
import { createDatabase, type Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { readyOnConflict } from '../src/relay/sql/ready.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct } from '../src/products/product.repository.ts'
import type { SecretCipher } from '../src/secrets/cipher.ts'
import { ensureSecret } from '../src/secrets/secret.repository.ts'
import { quietGraphileLogger } from './graphile-logger.ts'

export const TENANT = DEFAULT_TENANT

/** Runs `fn` on a short-lived handle: templates must have no open connection when they are copied. */
export async function withDatabase<T>(url: string, fn: (db: Database) => Promise<T>, poolSize = 5): Promise<T> {
  const handle = createDatabase(url, poolSize)
  try {
    return await fn(handle.db)
  } finally {
    await handle.destroy()
  }
}

/** Our schema (src/db/migrate.ts) and graphile-worker's, side by side in one database. */
export async function migrateBoth(url: string): Promise<void> {
  await withDatabase(url, (db) => migrate(db).then(() => undefined))
  await runMigrations({ connectionString: url, logger: quietGraphileLogger() })
}

/** A plugin subscribed to product.created, with its signing secret, as registration leaves it. */
export async function addPlugin(db: Database, cipher: SecretCipher, slug: string, webhookUrl: string): Promise<string> {
  const plugin = await insertPlugin(db, TENANT, { slug, name: `Bench ${slug}`, webhook_url: webhookUrl, events: ['product.created'] })
  await ensureSecret(db, cipher, plugin.id)
  return plugin.id
}

/** The product every seeded write creates: a realistic size for the event body. */
export const benchProduct = (i: number, description = 'A product written by the benchmark to measure the outbox') => ({
  name: `Bench product ${i}`,
  description,
  price: 19.99,
  status: 'active' as const,
  images: ['https://cdn.example.com/products/bench.jpg'],
  tags: ['bench', 'summer'],
  collections: ['bench'],
  inventory_quantity: 10,
})

/**
 * `count` products through the real write path (createProduct: the insert and its
 * outbox rows in one transaction). For speed, `perTransaction` of them share a
 * transaction (createProduct joins the caller's), on `parallel` connections.
 */
export async function seedProducts(url: string, count: number, perTransaction = 250, parallel = 4): Promise<void> {
  await withDatabase(
    url,
    async (db) => {
      let next = 0
      const worker = async () => {
        while (next < count) {
          const from = next
          const to = Math.min(count, from + perTransaction)
          next = to
          await db.transaction().execute(async (trx) => {
            for (let i = from; i < to; i++) await createProduct(trx, TENANT, benchProduct(i))
          })
        }
      }
      await Promise.all(Array.from({ length: parallel }, worker))
    },
    parallel + 1,
  )
}

/**
 * Bulk rows with generate_series, not through the API: a million rows in
 * a minute. Each event's body is a copy of a real one (written through the write
 * path) with its own id, so bodies have the real size.
 *
 * `status` 'sent': delivered history (with its attempt), `ageDays` old; 'pending': a backlog.
 */
export async function bulkDeliveries(db: Database, pluginId: string, count: number, status: 'sent' | 'pending', ageDays = 1): Promise<void> {
  const sample = await db.selectFrom('events').select(['id', 'body']).limit(1).executeTakeFirstOrThrow()
  const chunk = 100_000
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done)
    await sql`
      with e as (
        insert into events (id, tenant_id, type, body, created_at)
        select id, ${TENANT}::uuid, 'product.created', replace(${sample.body}::text, ${sample.id}::text, id::text), at
          from (select gen_random_uuid() as id,
                       -- a day old: inside the relay's retention (RETENTION_DAYS), which would otherwise delete it mid-run
                       case when ${status} = 'sent' then now() - ${ageDays}::integer * interval '1 day' else now() end as at
                  from generate_series(1, ${n}::int)) g
        returning id, created_at
      ),
      d as (
        insert into deliveries (tenant_id, event_id, plugin_id, status, attempts, next_attempt_at,
                                last_status_code, created_at, updated_at, sent_at)
        select ${TENANT}::uuid, e.id, ${pluginId}::uuid, ${status},
               case when ${status} = 'sent' then 1 else 0 end,
               e.created_at,
               case when ${status} = 'sent' then 200 end,
               e.created_at, e.created_at,
               case when ${status} = 'sent' then e.created_at end
          from e
        returning id, status, created_at
      )
      , attempts as (
        insert into delivery_attempts (delivery_id, attempt, status_code, duration_ms, created_at)
        select id, 1, 200, 3, created_at from d where status = 'sent'
      )
      -- a backlog written around the write path must still put its plugin in the ready set (db/0008)
      insert into plugin_ready (plugin_id, due_at)
      select ${pluginId}::uuid, now() where ${status} = 'pending'
      ${readyOnConflict}
    `.execute(db)
  }
}

/**
 * The peer's backlog: one graphile-worker job per pending delivery, carrying what
 * our claim returns (id, type, URL and the exact body bytes), added with
 * graphile-worker's own add_jobs.
 */
export async function addPeerJobs(db: Database): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n
      from graphile_worker.add_jobs(array(
        select row('deliver',
                   json_build_object('id', d.id, 'type', e.type, 'url', p.webhook_url, 'body', e.body),
                   null, null, null, null, null, null)::graphile_worker.job_spec
          from deliveries d join events e on e.id = d.event_id join plugins p on p.id = d.plugin_id
         where d.status = 'pending'
         order by d.id))
  `.execute(db)
  return rows[0]?.n ?? 0
}

/** Fresh statistics and a clean visibility map, so every copy starts from the same plans. */
export async function vacuumAnalyze(db: Database): Promise<void> {
  await sql`vacuum analyze`.execute(db)
}

/**
 * A burst of `count` product.created events of TENANT, set-based, for sizes the write
 * path cannot seed in minutes (100,000, 1,000,000): per chunk, one statement inserts
 * the events (each a copy of a real body written by createProduct, with its own id)
 * and fans each out as emit() does, to every active subscribed plugin of the tenant
 * (a paused one's parked), and puts those plugins in the ready set as markReady does.
 * The deliveries get what the write path gives them (column defaults, due now);
 * what is left out is the products rows, which the relay never reads. Chunks of
 * 50,000 commit one by one, as many writes would.
 */
export async function seedBurst(db: Database, count: number, chunk = 50_000): Promise<void> {
  const sample = await db.selectFrom('events').select(['id', 'body']).where('type', '=', 'product.created').limit(1).executeTakeFirstOrThrow()
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done)
    await sql`
      with e as (
        insert into events (id, tenant_id, type, body)
        select id, ${TENANT}::uuid, 'product.created', replace(${sample.body}::text, ${sample.id}::text, id::text)
          from (select gen_random_uuid() as id from generate_series(1, ${n}::int)) g
        returning id
      ),
      fanout as (
        insert into deliveries (tenant_id, event_id, plugin_id, next_attempt_at)
        select p.tenant_id, e.id, p.id, case when p.status = 'active' then now() else 'infinity' end
          from e cross join plugins p
         where p.tenant_id = ${TENANT}::uuid and p.status in ('active', 'paused') and 'product.created' = any (p.events)
        returning plugin_id, next_attempt_at
      )
      insert into plugin_ready (plugin_id, due_at)
      select distinct plugin_id, now() from fanout where next_attempt_at <> 'infinity' order by plugin_id
      ${readyOnConflict}
    `.execute(db)
  }
}
