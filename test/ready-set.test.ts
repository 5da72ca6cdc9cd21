import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import type pg from 'pg'
import { redeliver } from '../src/deliveries/delivery.retry.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin, recoverDeliveries, updatePlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct, updateProduct } from '../src/products/product.repository.ts'
import { beginClaim, claimArguments, claimDeliveries, CLAIM_PLANNER_SETTINGS, CLAIM_VISITS_MIN, finishClaim, prepareClaimSql, prepareVisitSql, visitOf } from '../src/relay/sql/claim.ts'
import { recordOutcomes, type RecordedOutcome } from '../src/relay/sql/record-outcomes.ts'
import { markReadySql, READY_ON_CONFLICT } from '../src/relay/sql/ready.ts'
import { releaseDeliveries } from '../src/relay/sql/release.ts'
import { testDatabase, type TestDatabase } from './helpers/db.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * The ready set (db/0008, src/relay/sql/claim.ts): the claim visits only plugins
 * with due work, reads only what it claims on tables never analyzed, and no
 * transition of a delivery leaves it behind a due_at in the future.
 */

const policy = { afterFailures: 100, afterDays: 5 }
const CAP = 20

const plugin = (database: TestDatabase, slug: string, extra: { ordered?: boolean; events?: string[] } = {}) =>
  insertPlugin(database.db, DEFAULT_TENANT, {
    slug, name: slug, webhook_url: 'http://127.0.0.1:1/x', events: extra.events ?? ['product.created'], ordered: extra.ordered,
  })

const outcome = (row: { id: number; plugin_id: string; attempts: number }, leaseId: string, status: RecordedOutcome['status'], delayMs = 0): RecordedOutcome => ({
  id: row.id, pluginId: row.plugin_id, leaseId, attempt: row.attempts + 1, statusCode: status === 'sent' ? 200 : 500,
  error: null, durationMs: 1, status, delayMs,
})

/** A claim as a relay makes it, and the outcome of everything it took. */
async function claimAndRecord(pool: pg.Pool, status: RecordedOutcome['status'] = 'sent', delayMs = 0) {
  const leaseId = randomUUID()
  const rows = await claimDeliveries(pool, 50, leaseId, 60_000, null, CAP)
  if (rows.length) await recordOutcomes(pool, rows.map((r) => outcome(r, leaseId, status, delayMs)), policy)
  return rows
}

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Actual Rows': number
  'Actual Loops': number
  'Rows Removed by Filter'?: number
  'Rows Removed by Index Recheck'?: number
  'Subplan Name'?: string
  'Index Name'?: string
  'Shared Hit Blocks'?: number
  'Shared Read Blocks'?: number
  Plans?: PlanNode[]
}

/**
 * Rows each table's scans read (returned, or read and filtered out), over every loop.
 * `visited`: the plugins the claim looked at.
 */
function rowsRead(plan: PlanNode, read: Record<string, number> = {}, nodes: string[] = [], visited = { n: 0 }, pages: Record<string, number> = {}) {
  if (plan['Subplan Name'] === 'CTE visit') visited.n = plan['Actual Rows']
  // an index scan's pages: its index's and the heap pages of the rows it reads
  const index = plan['Index Name']
  if (index && plan['Node Type'].startsWith('Index')) pages[index] = (pages[index] ?? 0) + (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0)
  const relation = plan['Relation Name']
  // a ModifyTable node writes the rows its children read: not a read of its own
  if (relation && plan['Node Type'] !== 'ModifyTable') {
    const rows = (plan['Actual Rows'] + (plan['Rows Removed by Filter'] ?? 0) + (plan['Rows Removed by Index Recheck'] ?? 0)) * plan['Actual Loops']
    read[relation] = (read[relation] ?? 0) + rows
    nodes.push(`${plan['Node Type']} on ${relation}${plan['Index Name'] ? ` using ${plan['Index Name']}` : ''}: ${rows}`)
  }
  for (const child of plan.Plans ?? []) rowsRead(child, read, nodes, visited, pages)
  return { read, nodes, visited: visited.n, pages }
}

/** EXPLAIN (ANALYZE) of one prepared statement, its plan's reads. */
async function explain(client: pg.PoolClient, execute: string) {
  const { rows } = await client.query(`explain (analyze, buffers, format json) ${execute}`)
  return rowsRead(rows[0]['QUERY PLAN'][0].Plan as PlanNode)
}

/**
 * EXPLAIN (ANALYZE) of a claim as claimDeliveries makes it, both statements, in one
 * transaction that commits: it claims, and settles the ready set, for real. The
 * visit is explained, then run again for its rows (the rows it locked are this
 * transaction's: they come back held).
 */
async function explainClaim(client: pg.PoolClient, leaseId: string, limit = 50) {
  await client.query('begin')
  try {
    const visiting = await explain(client, `execute visit (${limit}, null)`)
    const { rows } = await client.query<{ plugin_id: string; held: boolean; crowded: boolean }>(`execute visit (${limit}, null)`)
    const read = { ...visiting.read }
    const nodes = [...visiting.nodes]
    let visited = 0
    let pages: Record<string, number> = {}
    if (rows.length > 0) {
      const claiming = await explain(client, `execute claim (${claimArguments(client, visitOf(rows), { limit, leaseId, leaseMs: 60_000, maxInFlight: CAP })})`)
      for (const [table, n] of Object.entries(claiming.read)) read[table] = (read[table] ?? 0) + n
      nodes.push(...claiming.nodes)
      visited = claiming.visited
      pages = claiming.pages
    }
    await client.query('commit')
    return { read, nodes, visited, pages }
  } catch (error) {
    await client.query('rollback')
    throw error
  }
}

async function prepareClaim(t: Test, database: TestDatabase, mode: 'auto' | 'force_generic_plan' | 'force_custom_plan') {
  const client = await database.pool.connect()
  t.teardown(() => client.release())
  await client.query(`set plan_cache_mode = ${mode}`)
  // what claimDeliveries plans the claim under (set local, in its transaction)
  for (const setting of CLAIM_PLANNER_SETTINGS) await client.query(`set ${setting}`)
  await client.query(prepareVisitSql('visit'))
  await client.query(prepareClaimSql('claim'))
  return client
}

t.test('a fresh burst, never analyzed: every claim reads the rows it claims and a few per plugin it visits, nothing more', async (t) => {
  const database = await testDatabase(t)
  // no statistics at all, and none on the way: autovacuum may not analyze these tables during the test
  for (const table of ['deliveries', 'events', 'plugins', 'plugin_ready', 'delivery_attempts', 'products']) {
    await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(database.db)
  }
  const a = await plugin(database, 'a')
  const b = await plugin(database, 'b')
  await plugin(database, 'in-order', { ordered: true, events: ['product.updated'] })
  // and many plugins of other tenants with nothing to do
  await sql`
    insert into plugins (tenant_id, slug, name, webhook_url, events)
    select gen_random_uuid(), 'idle', 'idle', 'http://127.0.0.1:1/x', '{product.created}' from generate_series(1, 2000)
  `.execute(database.db)
  // the burst, through the real write path: 2,500 products, 2 deliveries each; 20 updates for the ordered plugin
  const ids: string[] = []
  for (let i = 0; i < 2500; i += 25) {
    const written = await Promise.all(Array.from({ length: 25 }, (_, j) => createProduct(database.db, DEFAULT_TENANT, { name: `p${i + j}` })))
    ids.push(...written.map((w) => w.value.id))
  }
  for (const id of ids.slice(0, 20)) await updateProduct(database.db, DEFAULT_TENANT, id, { name: 'changed' })

  const generic = await prepareClaim(t, database, 'force_generic_plan')
  const custom = await prepareClaim(t, database, 'force_custom_plan')
  let claims = 0
  let claimed = 0
  let worst = { excess: -Infinity, read: 0, rows: 0, nodes: [] as string[] }
  const seqScans = new Set<string>()
  for (;;) {
    const leaseId = randomUUID()
    // the generic plan (what a relay runs after its first few claims) and the custom one, in turn
    const { read, nodes, visited } = await explainClaim(claims % 2 ? custom : generic, leaseId)
    for (const node of nodes) if (node.startsWith('Seq Scan')) seqScans.add(node.replace(/: \d+$/, ''))
    const { rows } = await sql<{ id: number; plugin_id: string; attempts: number }>`
      select id, plugin_id, attempts from deliveries where lease_id = ${leaseId}::uuid`.execute(database.db)
    claims++
    if (rows.length === 0) break
    claimed += rows.length
    // each claimed row is read twice (chosen, then updated by id); each visited plugin costs
    // a few more: its in-flight count (0 here: outcomes are recorded between claims), its
    // next due time (one index entry per partial index), an ordered plugin's head
    const excess = (read.deliveries ?? 0) - 2 * rows.length - 4 * visited
    if (excess > worst.excess) worst = { excess, read: read.deliveries ?? 0, rows: rows.length, nodes }
    await recordOutcomes(database.pool, rows.map((r) => outcome(r, leaseId, 'sent')), policy)
    if (claims > 1000) break
  }
  t.equal(claimed, 5020, 'the whole burst was claimed, each delivery once')
  t.ok(worst.excess <= 0, `no claim read more than twice what it claimed plus 4 rows per plugin visited (worst: read ${worst.read} rows of deliveries to claim ${worst.rows})`)
  if (worst.excess > 0) t.comment(worst.nodes.join('\n'))
  t.same([...seqScans], [], 'no claim scans a table')
  const { rows: stats } = await sql<{ relname: string; reltuples: number; analyzed: boolean }>`
    select c.relname, c.reltuples, (s.last_analyze is not null or s.last_autoanalyze is not null) as analyzed
      from pg_class c join pg_stat_user_tables s on s.relid = c.oid
     where c.relname in ('deliveries', 'plugin_ready')`.execute(database.db)
  t.same(stats.map((s) => [s.relname, s.reltuples, s.analyzed]).sort(), [['deliveries', -1, false], ['plugin_ready', -1, false]], 'and nothing was ever analyzed')
  const { rows: left } = await sql<{ n: number }>`select count(*)::int as n from plugin_ready`.execute(database.db)
  t.equal(left[0]!.n, 0, 'drained, the ready set is empty')
  t.ok(a && b)
})

t.test('a fresh burst of 20,000 for one plugin, never analyzed: each look-up reads its own index under its limit', async (t) => {
  const database = await testDatabase(t)
  for (const table of ['deliveries', 'events', 'plugins', 'plugin_ready']) {
    await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(database.db)
  }
  const busy = await plugin(database, 'busy')
  // set-based: the write path is covered above; here the table's size is what matters
  // (at 5,000 rows the default estimates still happened to pick the right indexes)
  await sql`
    with e as (
      insert into events (id, tenant_id, type, body)
      select gen_random_uuid(), ${DEFAULT_TENANT}, 'product.created', '{}' from generate_series(1, 20000)
      returning id
    )
    insert into deliveries (tenant_id, event_id, plugin_id) select ${DEFAULT_TENANT}, id, ${busy.id}::uuid from e
  `.execute(database.db)
  await sql`insert into plugin_ready (plugin_id, due_at) values (${busy.id}::uuid, now())`.execute(database.db)
  const generic = await prepareClaim(t, database, 'force_generic_plan')
  const custom = await prepareClaim(t, database, 'force_custom_plan')
  let claimed = 0
  const worst = { read: 0, rows: 0, nodes: [] as string[] }
  const pendingPages: number[] = []
  for (let claims = 0; claimed < 20_000 && claims < 1000; claims++) {
    const leaseId = randomUUID()
    // every 5th claim explained (generic and custom in turn), the others as a relay makes
    // them (of 100, to be quick: the table's growth, not the number of claims, matters). The plans turned as the table grew with the drain's dead row versions: before
    // db/0019 and CLAIM_PLANNER_SETTINGS, the last 4,000 were read whole by every claim
    let rows: { id: number; plugin_id: string; attempts: number }[]
    if (claims % 5 === 0) {
      const { read, nodes, pages } = await explainClaim(claims % 10 ? custom : generic, leaseId, 50)
      pendingPages.push(pages.deliveries_plugin_pending ?? 0)
      rows = (await sql<{ id: number; plugin_id: string; attempts: number }>`
        select id, plugin_id, attempts from deliveries where lease_id = ${leaseId}::uuid`.execute(database.db)).rows
      if ((read.deliveries ?? 0) - 2 * rows.length > worst.read - 2 * worst.rows) worst.read = read.deliveries ?? 0, worst.rows = rows.length, worst.nodes = nodes
    } else {
      rows = await claimDeliveries(database.pool, 100, leaseId, 60_000, null, 100)
    }
    if (rows.length === 0) break
    claimed += rows.length
    await recordOutcomes(database.pool, rows.map((r) => outcome(r, leaseId, 'sent')), policy)
  }
  t.equal(claimed, 20_000, 'the whole burst was claimed')
  // the rows claimed (chosen, then updated by id) and one entry per look-up of the next due time
  t.ok(worst.read <= 2 * worst.rows + 4, `no claim read more than it claimed (worst: ${worst.read} rows of deliveries for ${worst.rows})`)
  if (worst.read > 2 * worst.rows + 4) t.comment(worst.nodes.join('\n'))
  // Rows read count only live rows: a scan also steps over the dead index entries of
  // every delivery claimed before (autovacuum is off, as it is behind a burst), and
  // from '-infinity' those grew with the drain, from 6 pages to 248 per claim at its
  // end. From the ready set's floor (db/0022) each claim starts at its own rows.
  const first = pendingPages.slice(0, 5)
  const last = pendingPages.slice(-5)
  t.comment(`pages of deliveries_plugin_pending per explained claim, first: ${first.join(' ')}, last: ${last.join(' ')}`)
  t.ok(Math.max(...pendingPages) <= 40, `no claim read more than 40 pages of deliveries_plugin_pending and its rows (most: ${Math.max(...pendingPages)})`)
})

t.test('an idle poll reads nothing, however many plugins there are; a busy one visits only the busy', async (t) => {
  const database = await testDatabase(t)
  await sql`
    insert into plugins (tenant_id, slug, name, webhook_url, events)
    select gen_random_uuid(), 'idle', 'idle', 'http://127.0.0.1:1/x', '{product.created}' from generate_series(1, 20000)
  `.execute(database.db)
  const client = await prepareClaim(t, database, 'auto')
  const idle = await explainClaim(client, randomUUID())
  t.equal(Object.values(idle.read).reduce((a, b) => a + b, 0), 0, `an idle claim beside 20,000 active plugins reads one empty index range (${JSON.stringify(idle.read)})`)

  const busy = await Promise.all(Array.from({ length: 10 }, (_, i) => plugin(database, `busy${i}`)))
  for (let i = 0; i < 30; i++) await createProduct(database.db, DEFAULT_TENANT, { name: `p${i}` })
  const claim = await explainClaim(client, randomUUID())
  t.equal(claim.visited, 10, 'a claim visits the 10 plugins with due work, not the 20,010')
  t.equal(busy.length, 10)
  // the claims after it, with those in flight, still visit those 10 alone
  for (let i = 0; i < 3; i++) {
    const next = await explainClaim(client, randomUUID())
    t.equal(next.visited, 10, `claim ${i + 2} visits 10 plugins`)
  }
})

t.test('more plugins due at their cap than one claim visits: a plugin with one delivery still gets its turn', async (t) => {
  const database = await testDatabase(t)
  const busy = CLAIM_VISITS_MIN * 3
  for (let i = 0; i < busy; i++) await plugin(database, `busy${i}`)
  const quiet = await plugin(database, 'quiet', { events: ['product.updated'] })
  const [first] = await Promise.all([createProduct(database.db, DEFAULT_TENANT, { name: 'a' }), createProduct(database.db, DEFAULT_TENANT, { name: 'b' })])
  // every busy plugin takes one, and is at its cap of 1 with one more due: still due, still in the set
  let taken = 0
  while (taken < busy) taken += (await claimDeliveries(database.pool, 50, randomUUID(), 60_000, null, 1)).length
  await updateProduct(database.db, DEFAULT_TENANT, first!.value.id, { name: 'quiet one' })
  let claims = 0
  let got: string | undefined
  while (!got && claims < 20) {
    claims++
    // a claim of 1 visits CLAIM_VISITS_MIN plugins; those it visited go to the back of the queue
    got = (await claimDeliveries(database.pool, 1, randomUUID(), 60_000, null, 1))[0]?.plugin_id
  }
  t.equal(got, quiet.id, 'the quiet plugin is served')
  t.ok(claims <= Math.ceil((busy + 1) / CLAIM_VISITS_MIN) + 1, `within ${claims} claims, beside ${busy} plugins at their cap`)
})

t.test('no transition strands a due delivery', async (t) => {
  const database = await testDatabase(t)
  const { pool, db } = database
  const p = await plugin(database, 'p')
  const undelivered = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from deliveries where status in ('pending', 'retry')`.execute(db)).rows[0]!.n

  await t.test('a retry due before the end of its lease', async (t) => {
    await createProduct(db, DEFAULT_TENANT, { name: 'a' })
    const leaseId = randomUUID()
    const [row] = await claimDeliveries(pool, 10, leaseId, 60_000, null, CAP)
    // an empty claim now moves the plugin to the end of that 60 s lease
    t.same(await claimDeliveries(pool, 10, randomUUID(), 60_000, null, CAP), [])
    await recordOutcomes(pool, [outcome(row!, leaseId, 'retry', 0)], policy)
    const [again] = await claimAndRecord(pool)
    t.equal(again?.id, row!.id, 'the retry is claimed at once, not when the lease would have ended')
  })

  await t.test('a release at shutdown', async (t) => {
    await createProduct(db, DEFAULT_TENANT, { name: 'b' })
    const leaseId = randomUUID()
    const [row] = await claimDeliveries(pool, 10, leaseId, 60_000, null, CAP)
    t.same(await claimDeliveries(pool, 10, randomUUID(), 60_000, null, CAP), [])
    t.equal(await releaseDeliveries(pool, [{ id: row!.id, leaseId }]), 1)
    const [again] = await claimAndRecord(pool)
    t.equal(again?.id, row!.id, 'the released delivery is claimed at once')
  })

  await t.test('the lease of a relay that died', async (t) => {
    await createProduct(db, DEFAULT_TENANT, { name: 'c' })
    const [row] = await claimDeliveries(pool, 10, randomUUID(), 300, null, CAP)
    t.same(await claimDeliveries(pool, 10, randomUUID(), 60_000, null, CAP), [], 'in flight: nothing to claim')
    const again = await waitFor(async () => (await claimAndRecord(pool))[0], { message: 'the expired lease claimed again' })
    t.equal(again.id, row!.id, 'once its 300 ms lease ran out, it was claimed again')
  })

  await t.test('a paused plugin resumed, a disabled plugin enabled', async (t) => {
    await updatePlugin(db, DEFAULT_TENANT, 'p', { status: 'paused' })
    await createProduct(db, DEFAULT_TENANT, { name: 'parked' })
    t.same(await claimAndRecord(pool), [], 'paused: nothing')
    await updatePlugin(db, DEFAULT_TENANT, 'p', { status: 'active' })
    t.equal((await claimAndRecord(pool)).length, 1, 'resumed: its parked delivery goes')

    await createProduct(db, DEFAULT_TENANT, { name: 'while disabled' })
    await sql`update plugins set status = 'disabled' where id = ${p.id}::uuid`.execute(db)
    t.same(await claimAndRecord(pool), [], 'disabled: nothing, and the plugin leaves the ready set')
    t.equal((await sql<{ n: number }>`select count(*)::int as n from plugin_ready`.execute(db)).rows[0]!.n, 0)
    await updatePlugin(db, DEFAULT_TENANT, 'p', { status: 'active' })
    t.equal((await claimAndRecord(pool)).length, 1, 'enabled: the delivery it kept goes')
  })

  await t.test('a manual retry and a recover of failed deliveries', async (t) => {
    await createProduct(db, DEFAULT_TENANT, { name: 'd' })
    const [failed] = await claimAndRecord(pool, 'failed')
    t.same(await claimAndRecord(pool), [], 'settled: nothing to claim')
    await redeliver(db, DEFAULT_TENANT, failed!.id)
    const [retried] = await claimAndRecord(pool, 'failed')
    t.equal(retried?.id, failed!.id, 'retried by hand, it is claimed at once')
    t.same(await claimAndRecord(pool), [])
    t.equal(await recoverDeliveries(db, DEFAULT_TENANT, 'p', new Date(Date.now() - 60_000).toISOString()), 1)
    const [recovered] = await claimAndRecord(pool)
    t.equal(recovered?.id, failed!.id, 'recovered, it is claimed at once')
  })

  await t.test('a write whose transaction is open while a claim finds nothing', async (t) => {
    // a stale entry: due, with nothing behind it (a claim will want to remove it)
    await sql`insert into plugin_ready (plugin_id, due_at) values (${p.id}::uuid, now())
              on conflict (plugin_id) do update set due_at = now()`.execute(db)
    const client = await pool.connect()
    t.teardown(() => client.release())
    await client.query('begin')
    // the fan-out of an open transaction holds the plugin's ready row
    await client.query(`insert into events (id, tenant_id, type, body) values ($1, $2, 'product.created', '{}')`, [randomUUID(), DEFAULT_TENANT])
    await client.query(`
      with d as (insert into deliveries (tenant_id, event_id, plugin_id) select $1, id, $2 from events order by created_at desc limit 1 returning plugin_id)
      insert into plugin_ready (plugin_id, due_at) select plugin_id, now() from d
      ${READY_ON_CONFLICT}`,
    [DEFAULT_TENANT, p.id])
    t.same(await claimAndRecord(pool), [], 'the claim does not see it, and does not wait for it')
    await client.query('commit')
    t.equal((await claimAndRecord(pool)).length, 1, 'committed, it is claimed')
  })

  t.equal(await undelivered(), 0, 'nothing left undelivered')
})

/**
 * A fan-out on its own connection, left open: one event and one delivery for the
 * plugin, then markReady's statement, as the write path runs it last. Returns the
 * delivery's key and the statement's promise (it may be waiting for a lock).
 */
async function openFanOut(t: Test, database: TestDatabase, pluginId: string) {
  const client = await database.pool.connect()
  t.teardown(() => client.release())
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid
  await client.query('begin')
  const eventId = randomUUID()
  await client.query(`insert into events (id, tenant_id, type, body) values ($1, $2, 'product.created', '{}')`, [eventId, DEFAULT_TENANT])
  const { rows } = await client.query<{ id: string; next_attempt_at: Date }>(
    'insert into deliveries (tenant_id, event_id, plugin_id) values ($1, $2, $3) returning id, next_attempt_at',
    [DEFAULT_TENANT, eventId, pluginId],
  )
  const mark = markReadySql([pluginId]).compile(database.db)
  const marked = client.query(mark.sql, [...mark.parameters])
  return { client, pid, delivery: { id: Number(rows[0]!.id), at: rows[0]!.next_attempt_at }, marked }
}

const waitingForLock = async (db: TestDatabase['db'], pid: number) =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where pid = ${pid} and wait_event_type = 'Lock'`.execute(db)).rows[0]!.n > 0

t.test('writes to a plugin already due share its ready row; a claim meanwhile raises nothing over the one still open', async (t) => {
  const database = await testDatabase(t)
  const { pool, db } = database
  const p = await plugin(database, 'p')
  await createProduct(db, DEFAULT_TENANT, { name: 'first' })
  // the plugin's row admits a delivery due now: the fan-outs below share it
  const open = await openFanOut(t, database, p.id)
  await open.marked

  // a whole write through the API's path, while the first is still open: before, it
  // waited for that commit (the rows were upserted, one writer at a time)
  let done = false
  const written = createProduct(db, DEFAULT_TENANT, { name: 'beside' }).then(() => ((done = true), 'committed' as const))
  // or it waits for a lock (any backend of this database but the open write's)
  const blocked = waitFor(async () => done || (await sql<{ n: number }>`
    select count(*)::int as n from pg_stat_activity
     where datname = current_database() and pid <> ${open.pid} and wait_event_type = 'Lock'`.execute(db)).rows[0]!.n > 0,
  { timeoutMs: 60_000, message: 'the second write, or a wait' }).then(() => 'waited' as const)
  t.equal(await Promise.race([written, blocked]), 'committed', 'the second write committed while the first held the row')
  await blocked

  // a claim now: the row is held, so the claim takes what it sees and settles nothing
  const leaseId = randomUUID()
  const rows = await claimDeliveries(pool, 50, leaseId, 60_000, null, CAP)
  t.equal(rows.length, 2, 'the two committed deliveries are claimed')
  await recordOutcomes(pool, rows.map((r) => outcome(r, leaseId, 'sent')), policy)
  t.same(await claimAndRecord(pool), [], 'and nothing more is visible')
  const { rows: ready } = await sql<{ due: boolean; floor: boolean }>`
    select due_at <= now() as due, (pending_floor, pending_floor_id) <= (${open.delivery.at}::timestamptz, ${open.delivery.id}::bigint) as floor
      from plugin_ready where plugin_id = ${p.id}::uuid`.execute(db)
  t.same(ready, [{ due: true, floor: true }], 'the row is still due, its floor still at or below the open write\'s delivery')

  await open.client.query('commit')
  const [last] = await claimAndRecord(pool)
  t.equal(last?.id, open.delivery.id, 'committed, the open write\'s delivery is claimed')
})

t.test('a write that meets a claim holding the ready row waits for it, then finds the row raised and lowers it', async (t) => {
  const database = await testDatabase(t)
  const { pool, db } = database
  const p = await plugin(database, 'p')
  await createProduct(db, DEFAULT_TENANT, { name: 'in flight' })
  // one delivery in flight for a minute: the row stays due, its floor at that delivery
  t.equal((await claimDeliveries(pool, 10, randomUUID(), 60_000, null, CAP)).length, 1)

  // a claim, its first statement done: it holds the plugin's ready row
  const claim = await pool.connect()
  t.teardown(() => claim.release())
  const visit = await beginClaim(claim, 10, null)
  t.same(visit.held, [p.id], 'the claim holds the row')

  // a write reaches markReady and waits for the claim
  const open = await openFanOut(t, database, p.id)
  await waitFor(() => waitingForLock(db, open.pid), { message: 'the write waiting for the claim' })

  // the claim's snapshot misses the write: it sees only the delivery in flight, and
  // moves the row to the end of that lease, a minute away
  const leaseId = randomUUID()
  t.same(await finishClaim(claim, visit, { limit: 10, leaseId, leaseMs: 60_000, maxInFlight: CAP }), [], 'the claim takes nothing')

  // the write decides on the row as the claim left it: not due, so it lowers it
  await open.marked
  await open.client.query('commit')
  const { rows: ready } = await sql<{ due: boolean }>`select due_at <= now() as due from plugin_ready where plugin_id = ${p.id}::uuid`.execute(db)
  t.same(ready, [{ due: true }], 'due again')
  const [next] = await claimAndRecord(pool)
  t.equal(next?.id, open.delivery.id, 'and the write\'s delivery is claimed now, not when the lease ends')
})

t.test('a claim whose statements were half prepared on a connection leaves it usable', async (t) => {
  const database = await testDatabase(t)
  await plugin(database, 'p')
  await createProduct(database.db, DEFAULT_TENANT, { name: 'a' })
  const client = await database.pool.connect()
  t.teardown(() => client.release())
  // the second statement's name is taken: the first prepares, the second fails
  await client.query('prepare bcs_claim as select 1')
  await t.rejects(beginClaim(client, 10, null), /already exists/)
  const visit = await beginClaim(client, 10, null)
  const rows = await finishClaim(client, visit, { limit: 10, leaseId: randomUUID(), leaseMs: 60_000, maxInFlight: CAP })
  t.equal(rows.length, 1, 'the next claim on that connection prepares both and claims')
})

t.test('writers, claims and outcomes racing: every delivery is claimed, none is left behind', async (t) => {
  const database = await testDatabase(t)
  const { pool, db } = database
  const plugins = await Promise.all(['r1', 'r2', 'r3'].map((slug) => plugin(database, slug)))
  let writing = true
  let written = 0
  const writers = Array.from({ length: 3 }, async () => {
    while (writing) {
      await createProduct(db, DEFAULT_TENANT, { name: 'race' })
      written++
    }
  })
  const delivered = new Map<number, number>()
  let claiming = true
  const claimers = Array.from({ length: 3 }, async (_, n) => {
    while (claiming) {
      const leaseId = randomUUID()
      const rows = await claimDeliveries(pool, 7, leaseId, 60_000, null, 5)
      // a third of the first attempts are retried at once, the others sent
      const outcomes = rows.map((r) => outcome(r, leaseId, r.attempts === 0 && r.id % 3 === n ? 'retry' : 'sent', 0))
      if (outcomes.length) await recordOutcomes(pool, outcomes, policy)
      for (const o of outcomes) if (o.status === 'sent') delivered.set(o.id, (delivered.get(o.id) ?? 0) + 1)
    }
  })
  await waitFor(() => written >= 600, { timeoutMs: 60_000, message: '600 writes' })
  writing = false
  await Promise.all(writers)
  const total = written * plugins.length
  await waitFor(() => delivered.size >= total, { timeoutMs: 30_000, message: `all ${total} deliveries sent (${delivered.size} so far)` }).catch(() => {})
  claiming = false
  await Promise.all(claimers)
  t.equal(delivered.size, total, `all ${total} deliveries were claimed and sent, none stranded`)
  t.same([...delivered.values()].filter((n) => n > 1), [], 'none twice')
})
