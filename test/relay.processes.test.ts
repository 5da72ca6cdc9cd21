import t from 'tap'
import { sql } from 'kysely'
import { createProduct } from '../src/products/product.repository.ts'
import { insertPlugin } from '../src/plugins/plugin.repository.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { testDatabase, type TestDatabase } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'
import { spawnRelay } from './helpers/relay-process.ts'
import { waitFor } from './helpers/wait.ts'

/** `plugins` × `products` committed deliveries, written through the real write path. */
async function seed(database: TestDatabase, url: string, plugins: number, products: number) {
  for (let i = 0; i < plugins; i++) {
    await insertPlugin(database.db, DEFAULT_TENANT, { slug: `p${i}`, name: `P${i}`, webhook_url: `${url}?p=${i}`, events: ['product.created'] })
  }
  for (let i = 0; i < products; i++) await createProduct(database.db, DEFAULT_TENANT, { name: `product ${i}` })
}

async function statusCounts(database: TestDatabase) {
  const { rows } = await sql<{ status: string; n: number }>`select status, count(*)::int as n from deliveries group by status`.execute(database.db)
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>
}

/** receiver-side identity of a delivery: (webhook-id) */
const ids = (received: { headers: Record<string, unknown> }[]) => received.map((r) => String(r.headers['webhook-id']))

t.test('a relay killed with SIGKILL mid-batch loses nothing: a new relay delivers every delivery', async (t) => {
  const database = await testDatabase(t)
  // hanging answers keep deliveries in flight when the kill comes
  let slow = true
  const receiver = await startReceiver(t, () => (slow ? 'hang' : 200))
  await seed(database, receiver.url, 2, 100)
  const env = { RELAY_CONCURRENCY: '20', WEBHOOK_TIMEOUT_MS: '1000', RELAY_LEASE_MARGIN_MS: '500' }

  const first = spawnRelay(t, database.url, env)
  await receiver.waitForCount(20)
  first.child.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL')
  const stranded = await sql<{ n: number }>`select count(*)::int as n from deliveries where lease_id is not null`.execute(database.db)
  t.ok(stranded.rows[0]!.n > 0, `${stranded.rows[0]!.n} deliveries were claimed by the dead relay`)

  slow = false
  const second = spawnRelay(t, database.url, env)
  await waitFor(async () => (await statusCounts(database)).sent === 200, { timeoutMs: 30_000, message: 'all 200 sent' })
  const delivered = new Set(ids(receiver.received))
  t.equal(delivered.size, 200, 'every delivery reached the receiver at least once')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('three relays drain 2,000 deliveries and POST each exactly once', async (t) => {
  const database = await testDatabase(t)
  const receiver = await startReceiver(t, 200)
  await seed(database, receiver.url, 4, 500)
  t.same(await statusCounts(database), { pending: 2000 })
  const relays = [1, 2, 3].map(() => spawnRelay(t, database.url, { RELAY_CONCURRENCY: '20' }))
  await receiver.waitForCount(2000, 60_000)
  await waitFor(async () => (await statusCounts(database)).sent === 2000, { timeoutMs: 30_000, message: 'all 2000 recorded as sent' })
  t.equal(receiver.received.length, 2000, 'no duplicates')
  t.equal(new Set(ids(receiver.received)).size, 2000, 'each delivery once')
  const attempts = await sql<{ n: number }>`select count(*)::int as n from delivery_attempts`.execute(database.db)
  t.equal(attempts.rows[0]!.n, 2000, 'one attempt each')
  for (const relay of relays) relay.child.kill('SIGTERM')
  t.same(await Promise.all(relays.map((r) => r.exited)), [0, 0, 0])
  const worked = relays.filter((r) => /Webhook sent successfully/.test(r.output())).length
  t.ok(worked >= 2, `${worked} of 3 relays delivered`)
})

t.test('bin/relay aggregates on a thread of its own: what it delivers reaches the rollups, and SIGTERM ends the thread too', async (t) => {
  const database = await testDatabase(t)
  const receiver = await startReceiver(t, 200)
  await seed(database, receiver.url, 1, 20)
  const relay = spawnRelay(t, database.url, { ANALYTICS_INTERVAL_MS: '100' })
  const folded = async () => (await sql<{ n: number }>`select coalesce(sum(attempts), 0)::int as n from analytics_minute`.execute(database.db)).rows[0]!.n
  await waitFor(async () => (await folded()) === 20, { timeoutMs: 30_000, message: 'the 20 attempts folded into the rollups' })
  const started = relay.output().split('\n').filter((line) => line.includes('analytics aggregator started on its own thread'))
  t.equal(started.length, 1, 'one aggregator, started once')
  t.ok(JSON.parse(started[0]!).thread > 0, 'on a worker thread, not the relay\'s own (thread 0)')
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0, 'the relay exits 0 once its thread has stopped')
  t.equal(await folded(), 20, 'each attempt folded once')
})

t.test('SIGTERM lets in-flight deliveries finish, records them, claims nothing more, and exits 0', async (t) => {
  const database = await testDatabase(t)
  const receiver = await startReceiver(t, 'hang')
  await seed(database, receiver.url, 1, 30)
  const relay = spawnRelay(t, database.url, { RELAY_CONCURRENCY: '10', RELAY_SHUTDOWN_GRACE_MS: '20000', WEBHOOK_TIMEOUT_MS: '15000' })
  await receiver.waitForCount(10)
  relay.child.kill('SIGTERM')
  await waitFor(() => /relay stopping: waiting for in-flight deliveries/.test(relay.output()), { message: 'the relay says it is draining' })
  t.equal(relay.child.exitCode, null, 'still running while deliveries are in flight')
  t.equal(receiver.answerHanging(200), 10, 'the ten in flight are answered now')
  t.equal(await relay.exited, 0)
  t.equal(receiver.received.length, 10, 'nothing was claimed after SIGTERM')
  t.same(await statusCounts(database), { sent: 10, pending: 20 })
  const leased = await sql<{ n: number }>`select count(*)::int as n from deliveries where lease_id is not null`.execute(database.db)
  t.equal(leased.rows[0]!.n, 0, 'no claim is left behind')
})

t.test('when the grace period runs out, in-flight deliveries are released for the next relay', async (t) => {
  const database = await testDatabase(t)
  const receiver = await startReceiver(t, 'hang')
  await seed(database, receiver.url, 1, 5)
  const relay = spawnRelay(t, database.url, { RELAY_SHUTDOWN_GRACE_MS: '300', WEBHOOK_TIMEOUT_MS: '15000' })
  await receiver.waitForCount(5)
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0)
  const { rows } = await sql<{ status: string; attempts: number; lease_id: string | null; due: boolean }>`
    select status, attempts, lease_id, next_attempt_at <= now() as due from deliveries`.execute(database.db)
  t.same(rows.map((r) => [r.status, r.attempts, r.lease_id, r.due]), Array(5).fill(['pending', 0, null, true]), 'released: due now, no lease, no attempt used')

  receiver.behaviour = 200
  const next = spawnRelay(t, database.url)
  await waitFor(async () => (await statusCounts(database)).sent === 5, { message: 'the next relay delivers them' })
  next.child.kill('SIGTERM')
  t.equal(await next.exited, 0)
})
