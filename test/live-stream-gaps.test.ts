import t from 'tap'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { claimDeliveries } from '../src/relay/sql/claim.ts'
import { recordOutcomes } from '../src/relay/sql/record-outcomes.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { openStream } from './helpers/sse.ts'
import { waitFor } from './helpers/wait.ts'

/** Issue 20, items 3 and 4: the live stream's cursors skip no commit, and a LISTEN reconnect loses no outcome. */
async function plugin(app: TestApp) {
  const res = await app.request('POST', '/api/plugins', { name: 'p', slug: 'p', webhook_url: 'http://127.0.0.1:9/hook', events: ['product.created'] })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
}

t.test('a delivery whose transaction commits after a later one is still announced', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await plugin(app)
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await stream.waitFor((e) => e.some((x) => x.event === 'ready'), 'the stream to be ready')

  // T1 draws its delivery id and stays open; T2 draws a later id and commits first
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let emitted = false
  const t1 = app.database.db.transaction().execute(async (trx) => {
    await createProduct(trx, DEFAULT_TENANT, { name: 'T1' })
    emitted = true
    await gate
  })
  await waitFor(() => emitted, { message: 'T1 to emit' })
  t.equal((await app.request('POST', '/api/products', { name: 'T2' })).status, 201)
  await stream.waitFor((e) => e.filter((x) => x.event === 'created').length === 1, 'T2\'s delivery on the stream')
  release()
  await t1
  await stream.waitFor((e) => e.filter((x) => x.event === 'created').length === 2, 'T1\'s delivery on the stream too')
  const ids = stream.events.filter((x) => x.event === 'created').map((x) => x.data.delivery_id)
  t.ok(ids[1] < ids[0], `T1's lower id ${ids[1]} came after T2's ${ids[0]}, once each`)
})

t.test('an outcome recorded while the stream\'s LISTEN connection was down is sent after it reconnects', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await plugin(app)
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await stream.waitFor((e) => e.some((x) => x.event === 'ready'), 'the stream to be ready')
  await app.request('POST', '/api/products', { name: 'Watched' })
  await stream.waitFor((e) => e.some((x) => x.event === 'created'), 'the delivery on the stream')
  const leaseId = randomUUID()
  const [row] = await claimDeliveries(app.database.pool, 1, leaseId, 60_000)

  // one connection of our own, made before the database stops taking new ones
  const own = new pg.Client({ connectionString: app.database.url })
  // a database cannot refuse connections from inside itself: the server's admin database says it
  const admin = new pg.Client({ connectionString: process.env.TEST_PG_ADMIN_URL })
  await Promise.all([own.connect(), admin.connect()])
  const name = app.database.name
  t.teardown(async () => {
    await admin.query(`alter database ${name} with allow_connections true`)
    await Promise.all([own.end(), admin.end()])
  })
  await admin.query(`alter database ${name} with allow_connections false`)
  const listening = `select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`
  await own.query(`select pg_terminate_backend(pid) from (${listening}) l`)
  await waitFor(async () => (await own.query(listening)).rows.length === 0, { message: 'the listener to be gone' })
  // recorded while the hub cannot reconnect: its notification goes to nobody
  await recordOutcomes(own as unknown as pg.Pool, [
    { id: row!.id, pluginId: row!.plugin_id, leaseId, attempt: 1, statusCode: 200, error: null, durationMs: 4, status: 'sent', delayMs: 0 },
  ], { afterFailures: 100, afterDays: 5 })
  await admin.query(`alter database ${name} with allow_connections true`)
  await stream.waitFor((e) => e.some((x) => x.event === 'sent'), 'the sent outcome after the reconnect', 15_000)
  t.match(stream.events.find((x) => x.event === 'sent')!.data, { delivery_id: row!.id, attempt: { number: 1, status_code: 200 } })
})
