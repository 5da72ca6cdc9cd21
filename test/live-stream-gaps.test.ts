import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { claimDeliveries } from '../src/relay/sql/claim.ts'
import { recordOutcomes } from '../src/relay/sql/record-outcomes.ts'
import { runMaintenance } from '../src/relay/maintenance.ts'
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
  // T2 writes for a second plugin: two writes reaching the same plugin take turns on
  // its ready-set row from the end of the write to commit (src/outbox/emit.ts, markReady)
  const other = await app.request('POST', '/api/plugins', { name: 'q', slug: 'q', webhook_url: 'http://127.0.0.1:9/hook', events: ['customer.created'] })
  t.equal(other.status, 201)
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
  t.equal((await app.request('POST', '/api/customers', { email: 't2@example.com' })).status, 201)
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

/**
 * The app, RELAY off, for the tests below. After the late-commit resume test one
 * connection of the test's fetch stays "active" on the server (on main too, not
 * understood yet: not a stream, which closes its connection), and app.close() waits
 * about 70 s for Node to time it out: cut connections first.
 */
async function resumeApp(t: Test): Promise<TestApp> {
  const app = await startApp(t, { RELAY: 'off' })
  t.teardown(() => app.app.server.closeAllConnections())
  return app
}

/** A write that draws its delivery id and holds its transaction open until released. */
function heldWrite(app: TestApp, name: string) {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let emitted = false
  const done = app.database.db.transaction().execute(async (trx) => {
    await createProduct(trx, DEFAULT_TENANT, { name })
    emitted = true
    await gate
  })
  return { done, release, emitted: () => waitFor(() => emitted, { message: `${name} to emit` }) }
}

t.test('Last-Event-ID resume brings a delivery whose transaction committed late, whether it commits while away or after', async (t) => {
  const app = await resumeApp(t)
  await plugin(app)
  const other = await app.request('POST', '/api/plugins', { name: 'q', slug: 'q', webhook_url: 'http://127.0.0.1:9/hook', events: ['customer.created'] })
  t.equal(other.status, 201)
  const url = `${app.url}/api/plugins/events/stream`
  const created = (events: { event: string; data: any }[]) => events.filter((x) => x.event === 'created').map((x) => x.data.delivery_id as number)

  // T1 draws its id and holds; T2 draws a later one and commits; the client sees T2, leaves
  const first = await openStream(t, url)
  const t1 = heldWrite(app, 'T1')
  await t1.emitted()
  t.equal((await app.request('POST', '/api/customers', { email: 'a@example.com' })).status, 201)
  await first.waitFor((e) => created(e).length === 1, "T2's delivery")
  const pastT2 = first.lastId()
  await first.close()
  // T1 commits while the client is away
  t1.release()
  await t1.done
  const back = await openStream(t, url, { 'last-event-id': pastT2 })
  const ofP = async () =>
    (await sql<{ id: number }>`select d.id from deliveries d join plugins p on p.id = d.plugin_id where p.slug = 'p' order by d.id`.execute(app.database.db)).rows.map((r) => Number(r.id))
  const [t1Id] = await ofP()
  // T2 committed while T1 held the horizon back: it may come again (a client dedupes by delivery and change)
  t.ok(created(back.events).includes(t1Id!), `the resume brings T1 (${t1Id}): ${created(back.events)}`)
  t.ok(created(back.events).every((id) => id === t1Id || id === created(first.events)[0]), 'and nothing older than T1')

  // again, and this time the late transaction (T3) commits after the client is back
  const t3 = heldWrite(app, 'T3')
  await t3.emitted()
  t.equal((await app.request('POST', '/api/customers', { email: 'b@example.com' })).status, 201)
  const t4Id = Math.max(...(await sql<{ id: number }>`select max(id) as id from deliveries`.execute(app.database.db)).rows.map((r) => Number(r.id)))
  await back.waitFor((e) => created(e).includes(t4Id), "T4's delivery")
  const pastT4 = back.lastId()
  await back.close()
  const again = await openStream(t, url, { 'last-event-id': pastT4 })
  t3.release()
  await t3.done
  const t3Id = (await ofP())[1]!
  t.ok(t3Id < t4Id, 'T3 drew its id before T4')
  await again.waitFor((e) => created(e).includes(t3Id), "T3's delivery, late, after the resume")
})

t.test('Last-Event-ID resume brings an outcome whose statement committed after a later one', async (t) => {
  const app = await resumeApp(t)
  await plugin(app)
  await app.request('POST', '/api/products', { name: 'A' })
  await app.request('POST', '/api/products', { name: 'B' })
  const leaseId = randomUUID()
  const [a, b] = await claimDeliveries(app.database.pool, 2, leaseId, 60_000)
  const outcome = (row: NonNullable<typeof a>) => ({
    id: row.id, pluginId: row.plugin_id, leaseId, attempt: 1, statusCode: 200, error: null, durationMs: 4, status: 'sent' as const, delayMs: 0,
  })
  const url = `${app.url}/api/plugins/events/stream`
  const first = await openStream(t, url)
  // A's outcome draws its attempt id and holds; B's draws a later one and commits first
  const held = new pg.Client({ connectionString: app.database.url })
  await held.connect()
  t.teardown(() => held.end())
  await held.query('begin')
  await recordOutcomes(held as unknown as pg.Pool, [outcome(a!)], { afterFailures: 100, afterDays: 5 })
  await recordOutcomes(app.database.pool, [outcome(b!)], { afterFailures: 100, afterDays: 5 })
  await first.waitFor((e) => e.some((x) => x.event === 'sent'), "B's outcome")
  const pastB = first.lastId()
  await first.close()
  await held.query('commit')
  const back = await openStream(t, url, { 'last-event-id': pastB })
  // B's committed while A's held the horizon back: it may come again (a client dedupes by delivery, change and attempt)
  const sent = back.events.filter((x) => x.event === 'sent').map((x) => x.data.delivery_id)
  t.ok(sent.includes(a!.id), `the resume brings A's outcome: ${sent}`)
  t.ok(sent.every((id) => id === a!.id || id === b!.id), 'and nothing else')
})

t.test('recover, plugin deletion and maintenance\'s cancel each show on the stream', async (t) => {
  const app = await resumeApp(t)
  await plugin(app)
  const second = await app.request('POST', '/api/plugins', { name: 'r', slug: 'r', webhook_url: 'http://127.0.0.1:9/hook', events: ['product.created'] })
  t.equal(second.status, 201)
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await app.request('POST', '/api/products', { name: 'One' })
  await stream.waitFor((e) => e.filter((x) => x.event === 'created').length === 2, 'both deliveries created')
  const of = (slug: string) => stream.events.find((x) => x.event === 'created' && x.data.plugin === slug)!.data.delivery_id as number

  // recover: p's delivery failed for good, then is recovered
  await sql`update deliveries set status = 'failed' where id = ${of('p')}`.execute(app.database.db)
  const recovered = await app.request('POST', '/api/plugins/p/recover', { since: '2000-01-01T00:00:00Z' })
  t.same(recovered.body, { requeued: 1 })
  await stream.waitFor((e) => e.some((x) => x.event === 'requeued'), 'the recovered delivery, requeued')
  t.match(stream.events.find((x) => x.event === 'requeued')!.data, { delivery_id: of('p'), plugin: 'p', status: 'retry', attempt: null })

  // deletion: p's delivery will not be delivered
  t.equal((await app.request('DELETE', '/api/plugins/p')).status, 204)
  await stream.waitFor((e) => e.some((x) => x.event === 'cancelled'), "the deleted plugin's delivery, cancelled")
  t.match(stream.events.find((x) => x.event === 'cancelled')!.data, { delivery_id: of('p'), plugin: 'p', status: 'cancelled', attempt: null })

  // maintenance: a delivery fanned out to r while r was being deleted
  await sql`update plugins set status = 'deleted' where slug = 'r'`.execute(app.database.db)
  t.equal((await runMaintenance(app.database.db, 30)).cancelled, 1)
  await stream.waitFor((e) => e.filter((x) => x.event === 'cancelled').length === 2, "maintenance's cancel")
  t.match(stream.events.filter((x) => x.event === 'cancelled')[1]!.data, { delivery_id: of('r'), plugin: 'r', status: 'cancelled' })
})
