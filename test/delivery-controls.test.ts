import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin, updatePlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { runMaintenance } from '../src/relay/maintenance.ts'
import { beginClaim, claimArguments, claimDeliveries, CLAIM_PLANNER_SETTINGS, prepareClaimSql } from '../src/relay/sql/claim.ts'
import { recordOutcomes, type RecordedOutcome } from '../src/relay/sql/record-outcomes.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { testDatabase } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'
import { openStream } from './helpers/sse.ts'
import { waitFor } from './helpers/wait.ts'

const policy = { afterFailures: 100, afterDays: 5 }

async function register(app: TestApp, url: string, extra: Record<string, unknown> = {}, slug = 'p') {
  const res = await app.request('POST', '/api/plugins', { name: slug, slug, webhook_url: url, events: ['product.created'], ...extra })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return res.body
}
const log = async (app: TestApp, query = '') => (await app.request('GET', `/api/plugins/events${query}`)).body.events as any[]

t.test('fencing: a relay whose lease expired cannot record over the newer claim', async (t) => {
  const database = await testDatabase(t)
  await insertPlugin(database.db, DEFAULT_TENANT, { slug: 'p', name: 'P', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  await createProduct(database.db, DEFAULT_TENANT, { name: 'x' })
  const stale = randomUUID()
  const [first] = await claimDeliveries(database.pool, 10, stale, 60_000)
  t.ok(first, 'the first relay claims it')
  t.same(await claimDeliveries(database.pool, 10, randomUUID(), 60_000), [], 'a claimed delivery is not claimed twice')
  // the first relay stalls past its lease (back-dated, as pg-boss's fencing tests do)
  await sql`update deliveries set next_attempt_at = now() - interval '1 second'`.execute(database.db)
  // and so have the ready set's due_at and floor, which the empty claim above set to the end of that lease
  await sql`update plugin_ready set due_at = now() - interval '1 second', pending_floor = '-infinity'`.execute(database.db)
  const fresh = randomUUID()
  const [second] = await claimDeliveries(database.pool, 10, fresh, 60_000)
  t.equal(second?.id, first!.id, 'another relay claims it again')

  const outcome = (leaseId: string, status: RecordedOutcome['status']): RecordedOutcome => ({
    id: first!.id, pluginId: first!.plugin_id, leaseId, attempt: 1, statusCode: status === 'sent' ? 200 : 500,
    error: null, durationMs: 5, status, delayMs: 1000,
  })
  t.same([...(await recordOutcomes(database.pool, [outcome(stale, 'failed')], policy))], [], 'the stale relay is fenced off')
  let row = await database.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow()
  t.equal(row.status, 'pending', 'its outcome changed nothing')
  t.equal(row.lease_id, fresh)
  t.same([...(await recordOutcomes(database.pool, [outcome(fresh, 'sent')], policy))], [first!.id], 'the holder records')
  row = await database.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow()
  t.equal(row.status, 'sent')
  const attempts = await database.db.selectFrom('delivery_attempts').select('status_code').orderBy('id').execute()
  // the attempt insert is fenced like the update: the stale relay's outcome leaves no log line (issue 20)
  t.same(attempts.map((a) => a.status_code), [200], 'only the lease holder\'s attempt is on record')
})

t.test('a plugin\'s own retry policy: a schedule, or a number of retries', async (t) => {
  const receiver = await startReceiver(t, 500)
  const app = await startApp(t)
  const bad = [
    { schedule_seconds: Array(16).fill(1) },
    { schedule_seconds: [-1] },
    { schedule_seconds: [8 * 24 * 3600] },
    { max_retries: 16 },
    { max_retries: 2, schedule_seconds: [1] },
    'fast',
  ]
  for (const retry_policy of bad) {
    const res = await app.request('POST', '/api/plugins', { name: 'x', slug: 'x', webhook_url: receiver.url, events: ['product.created'], retry_policy })
    t.equal(res.status, 400, `${JSON.stringify(retry_policy)} is refused`)
  }
  const plugin = await register(app, receiver.url, { retry_policy: { schedule_seconds: [0, 1] } })
  t.same(plugin.retry_policy, { schedule_seconds: [0, 1] })
  await app.request('POST', '/api/products', { name: 'x' })
  const failed = await waitFor(async () => (await log(app)).find((e) => e.status === 'failed'), { message: 'failed after the schedule' })
  t.equal(failed.attempts, 3, 'first attempt + two scheduled retries')
  const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at)
  t.ok(gaps[1]! >= 850, `the second retry waited its second (${gaps[1]} ms)`)

  await app.request('PATCH', '/api/plugins/p', { retry_policy: { max_retries: 0 } })
  await app.request('POST', '/api/products', { name: 'y' })
  await waitFor(async () => (await log(app)).filter((e) => e.status === 'failed').length === 2, { message: 'the second failed at once' })
  t.equal((await log(app))[0].attempts, 1)
})

t.test('429 and 503 with Retry-After are honoured, up to a bound', async (t) => {
  const receiver = await startReceiver(t, (_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : i === 1 ? { status: 503, headers: { 'retry-after': '86400' } } : 200))
  const app = await startApp(t, { RETRY_AFTER_MAX_MS: '1500' })
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'x' })
  await receiver.waitForCount(3, 10_000)
  const [a, b, c] = receiver.received
  t.ok(b!.at - a!.at >= 950, `waited ${b!.at - a!.at} ms for Retry-After: 1 (the backoff would be 50 ms)`)
  t.ok(c!.at - b!.at >= 1400 && c!.at - b!.at < 5000, `waited ${c!.at - b!.at} ms: a day's Retry-After cut to the 1.5 s bound`)
})

t.test('410 Gone disables the plugin at once; it keeps its delivery and resumes with enable', async (t) => {
  const receiver = await startReceiver(t, 410)
  const app = await startApp(t)
  const stream = await openStream(t, `${app.url}/api/plugins/events/stream`)
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: 'kept' })
  const plugin = await waitFor(async () => {
    const p = (await app.request('GET', '/api/plugins/p')).body
    return p.status === 'disabled' && p
  }, { message: 'plugin disabled' })
  t.match(plugin, { disabled_reason: /410 Gone/, disabled_at: String })
  await stream.waitFor((events) => events.some((e) => e.event === 'disabled'), 'the live stream says so')
  t.match(stream.events.find((e) => e.event === 'disabled')!.data, { plugin: 'p', attempt: { status_code: 410 } })
  const [delivery] = await log(app)
  t.match(delivery, { status: 'retry', attempts: 1, last_status_code: 410, next_attempt_at: null }, 'kept, waiting for the plugin')
  t.equal((await app.request('POST', '/api/plugins/events')).body.processed, 0, 'nothing goes to a disabled plugin')

  receiver.behaviour = 200
  const enabled = await app.request('POST', '/api/plugins/p/enable')
  t.match(enabled.body, { status: 'active', disabled_reason: null, disabled_at: null })
  await waitFor(async () => (await log(app))[0].status === 'sent', { message: 'the kept delivery is sent' })
  t.equal(receiver.received.length, 2)
  t.equal((await app.request('POST', '/api/plugins/nope/enable')).status, 404)
})

t.test('a plugin whose deliveries keep failing is disabled automatically, and a success resets the count', async (t) => {
  const receiver = await startReceiver(t, 500)
  const app = await startApp(t, { PLUGIN_DISABLE_AFTER_FAILURES: '3', WEBHOOK_MAX_RETRIES: '0' })
  await register(app, receiver.url)
  const failures = async (n: number) => waitFor(async () => (await log(app, '?status=failed')).length === n, { message: `${n} failed` })
  await app.request('POST', '/api/products', { name: '1' })
  await failures(1)
  await app.request('POST', '/api/products', { name: '2' })
  await failures(2)
  receiver.behaviour = 200
  await app.request('POST', '/api/products', { name: '3' })
  await waitFor(async () => (await log(app, '?status=sent')).length === 1, { message: 'one sent' })
  receiver.behaviour = 500
  await app.request('POST', '/api/products', { name: '4' })
  await failures(3)
  await app.request('POST', '/api/products', { name: '5' })
  await failures(4)
  t.equal((await app.request('GET', '/api/plugins/p')).body.status, 'active', 'the success broke the run: 2 in a row only')
  await app.request('POST', '/api/products', { name: '6' })
  await failures(5)
  const plugin = (await app.request('GET', '/api/plugins/p')).body
  t.match(plugin, { status: 'disabled', disabled_reason: 'its last 3 deliveries all failed' })
})

t.test('a plugin failing for longer than PLUGIN_DISABLE_AFTER_DAYS is disabled', async (t) => {
  const receiver = await startReceiver(t, 500)
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0' })
  await register(app, receiver.url)
  await app.request('POST', '/api/products', { name: '1' })
  await waitFor(async () => (await log(app, '?status=failed')).length === 1, { message: 'failed' })
  await sql`update plugins set failing_since = now() - interval '6 days'`.execute(app.database.db)
  await app.request('POST', '/api/products', { name: '2' })
  const plugin = await waitFor(async () => {
    const p = (await app.request('GET', '/api/plugins/p')).body
    return p.status === 'disabled' && p
  }, { message: 'disabled' })
  t.match(plugin.disabled_reason, /^every delivery has failed since \d{4}-\d\d-\d\d/)
})

t.test('manual recovery: retry one delivery, or recover every failed one since a time, as new attempts', async (t) => {
  const receiver = await startReceiver(t, 500)
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '0' })
  await register(app, receiver.url)
  const since = new Date().toISOString()
  for (const name of ['a', 'b', 'c']) await app.request('POST', '/api/products', { name })
  await waitFor(async () => (await log(app, '?status=failed')).length === 3, { message: 'three failed' })
  receiver.behaviour = 200

  const [one] = await log(app)
  const retried = await app.request('POST', `/api/plugins/events/${one.id}/retry`)
  t.ok(retried.status < 300, `retry answered ${retried.status}`)
  await waitFor(async () => (await log(app, '?status=sent')).length === 1, { message: 'the retried one is sent' })
  const detail = (await app.request('GET', `/api/plugins/events/${one.id}`)).body
  t.same(detail.attempt_log.map((a: any) => [a.attempt, a.status_code]), [[1, 500], [2, 200]], 'a new attempt of the same delivery')

  const recovered = await app.request('POST', '/api/plugins/p/recover', { since })
  t.same(recovered.body, { requeued: 2 })
  await waitFor(async () => (await log(app, '?status=sent')).length === 3, { message: 'all three sent' })
  const ids = receiver.received.filter((r) => r.json).map((r) => r.headers['webhook-id'])
  t.equal(new Set(ids).size, 3, 'the same three webhook-ids, each retried under its own id')
  t.equal((await app.request('POST', '/api/plugins/p/recover', { since: 'yesterday' })).status, 400)
  t.equal((await app.request('POST', '/api/plugins/events/999999/retry')).status, 404)
})

t.test('fairness: one plugin hanging on a backlog does not hold up another plugin\'s deliveries', async (t) => {
  const slow = await startReceiver(t, 'hang')
  const fast = await startReceiver(t, 200)
  // the hanging requests outlive the test (no timeout frees a place for a ninth on a slow
  // machine), and the relay's shutdown does not wait for them
  const app = await startApp(t, { WEBHOOK_TIMEOUT_MS: '60000', RELAY_SHUTDOWN_GRACE_MS: '0', RELAY_CONCURRENCY: '20', PLUGIN_MAX_IN_FLIGHT: '8' })
  await register(app, slow.url, {}, 'slow')
  await register(app, fast.url, { events: ['product.updated'] }, 'fast')
  for (let i = 0; i < 60; i++) await app.request('POST', '/api/products', { name: `backlog ${i}` })
  await slow.waitForCount(8)
  const { body: product } = await app.request('POST', '/api/products', { name: 'to update' })
  for (let i = 0; i < 5; i++) {
    const written = Date.now()
    await app.request('PATCH', `/api/products/${product.id}`, { name: `update ${i}` })
    await fast.waitForCount(i + 1, 5000)
    t.ok(fast.received[i]!.at - written < 1000, `update ${i} arrived in ${fast.received[i]!.at - written} ms beside a hanging plugin`)
  }
  t.equal(slow.received.length, 8, 'the hanging plugin holds no more than its share')
})

t.test('a claim reads only what it can take: its cost does not grow with backlogs it cannot claim', async (t) => {
  const database = await testDatabase(t)
  const plugin = (slug: string) =>
    insertPlugin(database.db, DEFAULT_TENANT, { slug, name: slug, webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  const busy = await plugin('busy')
  await plugin('idle')
  // 20,000 due deliveries of one plugin, written directly: the write path is not under test
  await sql`
    with e as (
      insert into events (id, tenant_id, type, body)
      select gen_random_uuid(), ${DEFAULT_TENANT}, 'product.created', '{}' from generate_series(1, 20000)
      returning id
    )
    insert into deliveries (tenant_id, event_id, plugin_id) select ${DEFAULT_TENANT}, id, ${busy.id}::uuid from e
  `.execute(database.db)
  await sql`insert into plugin_ready (plugin_id, due_at) values (${busy.id}::uuid, now())`.execute(database.db)
  await sql`analyze`.execute(database.db)

  // the plan a relay runs after its first few claims: PostgreSQL's generic plan of the named statement
  const client = await database.pool.connect()
  t.teardown(() => client.release())
  await client.query('set plan_cache_mode = force_generic_plan')
  for (const setting of CLAIM_PLANNER_SETTINGS) await client.query(`set ${setting}`)
  await client.query(prepareClaimSql('claim'))
  const explain = async (limit: number, maxInFlight: number) => {
    // as claimDeliveries does: the plugins to visit first (this begins the transaction), then the claim, explained
    const v = await beginClaim(client, limit, null)
    const { rows } = await client.query(
      `explain (analyze, buffers, format json) execute claim (${claimArguments(client, v, { limit, leaseId: randomUUID(), leaseMs: 60_000, maxInFlight })})`,
    )
    const plan = rows[0]['QUERY PLAN'][0].Plan
    // what choosing the rows read (the update of the chosen ones costs the same in any plan)
    const choose = plan.Plans.find((p: any) => p['Subplan Name'] === 'CTE candidates')
    return { rows: plan['Actual Rows'] as number, buffers: (choose['Shared Hit Blocks'] as number) + (choose['Shared Read Blocks'] as number) }
  }
  const done = () => client.query('rollback')

  // the busy plugin at its cap: its 20,000 due rows cannot be taken, and are not read
  await claimDeliveries(database.pool, 10, randomUUID(), 60_000, null, 10)
  let claim = await explain(50, 10)
  t.equal(claim.rows, 0, 'nothing claimable')
  t.ok(claim.buffers < 100, `an empty claim beside a capped backlog of 20,000 read ${claim.buffers} buffers`)
  await done()

  // a cap far above the claim's size: each plugin's look-up reads what the claim can take, not its whole share
  claim = await explain(10, 10_000)
  t.equal(claim.rows, 10, 'a claim of 10 takes 10')
  t.ok(claim.buffers < 100, `a claim of 10 from a backlog of 20,000 under a cap of 10,000 read ${claim.buffers} buffers`)
  await done()
})

t.test('an ordered plugin gets one delivery at a time, in commit order; a failing head blocks it alone', async (t) => {
  const receiver = await startReceiver(t, (_r, i) => (i === 0 ? 500 : 200))
  const other = await startReceiver(t, 200)
  const app = await startApp(t)
  await register(app, receiver.url, { ordered: true })
  await register(app, other.url, {}, 'unordered')
  // concurrent writes: ids are taken in turn, so commit order is id order
  await Promise.all(Array.from({ length: 10 }, (_, i) => app.request('POST', '/api/products', { name: `n${i}` })))
  await other.waitForCount(10)
  await receiver.waitForCount(11, 15_000)
  const ids = receiver.received.map((r) => Number(String(r.headers['webhook-id']).slice(4)))
  t.equal(ids[0], ids[1], 'the failed head is retried before anything else')
  const delivered = ids.slice(1)
  t.same(delivered, [...delivered].sort((a, b) => a - b), 'then the rest in order')
  const committed = (await log(app, '?plugin=p')).map((e) => e.id).reverse()
  t.same(delivered, committed, 'exactly the commit order')
})

t.test('retention deletes settled deliveries, attempts and events older than RETENTION_DAYS, and nothing else', async (t) => {
  const database = await testDatabase(t)
  await insertPlugin(database.db, DEFAULT_TENANT, { slug: 'p', name: 'P', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  for (let i = 0; i < 6; i++) await createProduct(database.db, DEFAULT_TENANT, { name: `p${i}` })
  const ids = (await database.db.selectFrom('deliveries').select('id').orderBy('id').execute()).map((r) => r.id)
  // old and sent, old and failed, old but still pending, recent and sent
  await sql`update deliveries set status = 'sent', created_at = now() - interval '40 days' where id = ${ids[0]!}`.execute(database.db)
  await sql`update deliveries set status = 'failed', created_at = now() - interval '40 days' where id = ${ids[1]!}`.execute(database.db)
  await sql`update deliveries set created_at = now() - interval '40 days' where id = ${ids[2]!}`.execute(database.db)
  await sql`update deliveries set status = 'sent' where id = ${ids[3]!}`.execute(database.db)
  await sql`update events set created_at = now() - interval '40 days'`.execute(database.db)
  await sql`insert into delivery_attempts (delivery_id, attempt, status_code, duration_ms) values (${ids[0]!}, 1, 200, 1)`.execute(database.db)
  const result = await runMaintenance(database.db, 30)
  t.match(result, { deliveriesDeleted: 2, eventsDeleted: 2 })
  const left = (await database.db.selectFrom('deliveries').select('id').orderBy('id').execute()).map((r) => r.id)
  t.same(left, ids.slice(2), 'pending and recent rows stay')
  const attempts = await sql<{ n: number }>`select count(*)::int as n from delivery_attempts`.execute(database.db)
  t.equal(attempts.rows[0]!.n, 0, 'their attempts went with them')
  t.same(await runMaintenance(database.db, 30), { unparked: 0, cancelled: 0, deliveriesDeleted: 0, eventsDeleted: 0 }, 'a second run finds nothing')
})

t.test('without foreign keys, every delivery still has its event and its plugin: through deletes, test deliveries and retention', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t, { RELAY: 'off' })
  await register(app, receiver.url, {}, 'kept')
  await register(app, receiver.url, {}, 'gone')
  for (let i = 0; i < 4; i++) await app.request('POST', '/api/products', { name: `p${i}` })
  t.equal((await app.request('POST', '/api/plugins/gone/test')).status, 200, 'a test delivery makes its own event')
  t.equal((await app.request('DELETE', '/api/plugins/gone')).status, 204)
  t.equal((await app.request('POST', '/api/plugins/events')).body.processed, 4, "the kept plugin's four are sent")
  // everything settled is old now: the four sent, the test delivery, the deleted plugin's four (cancelled)
  await sql`update deliveries set created_at = now() - interval '40 days' where status in ('sent', 'cancelled')`.execute(app.database.db)
  await sql`update events set created_at = now() - interval '40 days'`.execute(app.database.db)
  const first = await runMaintenance(app.database.db, 30)
  t.match(first, { deliveriesDeleted: 9, eventsDeleted: 5 })
  for (let i = 0; i < 2; i++) await app.request('POST', '/api/products', { name: `after ${i}` })
  // old but undelivered: retention must keep them and, though old too, their events
  await sql`update deliveries set created_at = now() - interval '40 days'`.execute(app.database.db)
  await sql`update events set created_at = now() - interval '40 days'`.execute(app.database.db)
  t.match(await runMaintenance(app.database.db, 30), { deliveriesDeleted: 0, eventsDeleted: 0 })
  const orphans = await sql<{ events: number; plugins: number; deliveries: number }>`
    select (select count(*)::int from deliveries d where not exists (select 1 from events e where e.id = d.event_id)) as events,
           (select count(*)::int from deliveries d where not exists (select 1 from plugins p where p.id = d.plugin_id)) as plugins,
           (select count(*)::int from deliveries) as deliveries
  `.execute(app.database.db)
  t.same(orphans.rows[0], { events: 0, plugins: 0, deliveries: 2 }, 'the two undelivered remain, and nothing refers to a missing row')
  const gone = await sql<{ status: string }>`select status from plugins where slug = 'gone'`.execute(app.database.db)
  t.same(gone.rows, [{ status: 'deleted' }], 'a deleted plugin keeps its row')
})

t.test('fresh deliveries are not queued behind a mountain of due retries', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t, { RELAY: 'off', PLUGIN_MAX_IN_FLIGHT: '4', RELAY_CONCURRENCY: '4' })
  await register(app, receiver.url)
  for (let i = 0; i < 40; i++) await app.request('POST', '/api/products', { name: `old ${i}` })
  // forty retries, all due, older than anything fresh
  await sql`update deliveries set status = 'retry', attempts = 1, next_attempt_at = now() - interval '1 hour'`.execute(app.database.db)
  for (let i = 0; i < 4; i++) await app.request('POST', '/api/products', { name: `fresh ${i}` })
  const processed = await app.request('POST', '/api/plugins/events')
  t.equal(processed.body.processed, 44)
  const order = receiver.received.map((r) => r.json.data.name as string)
  const lastFresh = Math.max(...order.map((name, i) => (name.startsWith('fresh') ? i : -1)))
  t.ok(lastFresh < 12, `the fresh ones went out among the first 12 of 44 (the last at position ${lastFresh + 1})`)
})

/**
 * A resume (or enable) holds its plugin row and then unparks the plugin's deliveries;
 * a delete of the same plugin locks those deliveries (cancelling them) before the
 * plugin row, the order the relay's outcome statement takes. Waiting for each other
 * they deadlocked, and one answered 500 (found by test/contract.fuzz.test.ts, seed
 * 1112639564). Played here in that order, step by step: the delete's first half
 * holds the deliveries, the resume runs, the delete finishes. Both must succeed.
 */
t.test('a resume racing a delete of the same plugin: no deadlock, and the delete wins cleanly', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const plugin = await insertPlugin(db, DEFAULT_TENANT, { slug: 'racy', name: 'Racy', webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  await sql`update plugins set status = 'paused' where id = ${plugin.id}`.execute(db)
  for (let i = 0; i < 3; i++) await createProduct(db, DEFAULT_TENANT, { name: `parked ${i}` })

  const deleter = await database.pool.connect()
  t.teardown(() => deleter.release())
  // the delete's first statement (cancelUndelivered): the deliveries, locked until it commits
  await deleter.query('begin')
  const cancelled = await deleter.query(
    `update deliveries set status = 'cancelled', lease_id = null, updated_at = now() where plugin_id = $1 and status in ('pending', 'retry')`,
    [plugin.id],
  )
  t.equal(cancelled.rowCount, 3, 'the delete holds the three parked deliveries')

  let settled = false
  const resume = updatePlugin(db, DEFAULT_TENANT, 'racy', { status: 'active' }).finally(() => {
    settled = true
  })
  // the resume either finished, or waits on a lock the delete holds (the old order)
  await waitFor(
    async () =>
      settled ||
      (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db)).rows[0]!.n > 0,
    { message: 'the resume to finish or to wait' },
  )
  // the delete's second statement: the plugin row, which the resume held
  const deleted = await deleter.query(`update plugins set status = 'deleted', updated_at = now() where id = $1 returning id`, [plugin.id]).then(
    (r) => r.rowCount,
    (error: Error) => error,
  )
  await deleter.query(deleted === 1 ? 'commit' : 'rollback')
  const resumed = await resume.then(
    (p) => p.status,
    (error: Error) => error,
  )
  t.equal(resumed, 'active', 'the resume succeeded')
  t.equal(deleted, 1, 'and so did the delete, after it')
  const { rows } = await sql<{ status: string; n: number }>`
    select status::text, count(*)::int as n from deliveries where plugin_id = ${plugin.id} group by status
  `.execute(db)
  t.same(rows, [{ status: 'cancelled', n: 3 }], 'its deliveries all cancelled, none left parked or due')
  t.equal((await sql<{ status: string }>`select status from plugins where id = ${plugin.id}`.execute(db)).rows[0]!.status, 'deleted')
})
