import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { deletePlugin, insertPlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../src/relay/backoff.ts'
import { parseRetryAfter } from '../src/relay/http-client.ts'
import { runMaintenance } from '../src/relay/maintenance.ts'
import { OutcomeRecorder } from '../src/relay/outcome-recorder.ts'
import { nextStep } from '../src/relay/retry-policy.ts'
import { claimDeliveries, type Claimed } from '../src/relay/sql/claim.ts'
import { recordOutcomes, type RecordedOutcome } from '../src/relay/sql/record-outcomes.ts'
import { testDatabase, type TestDatabase } from './helpers/db.ts'
import { waitFor } from './helpers/wait.ts'

const policy = { afterFailures: 100, afterDays: 5 }
const quiet = pino({ level: 'silent' })

/** Rejects if `promise` has not settled within `seconds`: a write that never returns is the defect. */
function settles<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${seconds} s`)), seconds * 1000)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** `n` claimed deliveries of one plugin, each from its own product.created. */
async function claimed(database: TestDatabase, n: number, slug = 'p'): Promise<{ rows: Claimed[]; leaseId: string }> {
  await insertPlugin(database.db, DEFAULT_TENANT, { slug, name: slug, webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'] })
  for (let i = 0; i < n; i++) await createProduct(database.db, DEFAULT_TENANT, { name: `p${i}` })
  const leaseId = randomUUID()
  const rows = await claimDeliveries(database.pool, n, leaseId, 60_000, null, n)
  return { rows, leaseId }
}

const outcomeOf = (row: Claimed, leaseId: string, extra: Partial<RecordedOutcome> = {}): RecordedOutcome => ({
  id: row.id, pluginId: row.plugin_id, leaseId, attempt: 1, statusCode: 500, error: 'HTTP 500', durationMs: 3,
  status: 'retry', delayMs: 1000, ...extra,
})

t.test('Retry-After: only digits or a future HTTP date count; each malformed form is ignored', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  for (const value of ['-1', '1.5', '0x10', '1e3', '+5', '', ' ', 'soon', '2030-01-01', 'Thu, 01 Jan 2026', 'Sun, 06 Nov 1994 08:49:37 GMT', '9'.repeat(100)]) {
    t.equal(parseRetryAfter(value, now), undefined, `Retry-After: ${JSON.stringify(value)}`)
  }
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter(' 120 ', now), 120_000)
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000, 'a future IMF-fixdate')
  t.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), undefined, 'a past date says nothing')

  const config = { WEBHOOK_MAX_RETRIES: 5, WEBHOOK_RETRY_BASE_MS: 10_000, RETRY_AFTER_MAX_MS: 3_600_000 }
  const failed = { ok: false, statusCode: 503, error: 'HTTP 503', durationMs: 1 }
  const half = () => 0.5
  t.equal(nextStep({ ...failed, retryAfterMs: 0 }, 1, null, config, { random: half }).delayMs, 10_000, 'Retry-After: 0 is floored at the backoff')
  t.equal(nextStep({ ...failed, retryAfterMs: 120_000 }, 1, null, config, { random: half }).delayMs, 120_000, 'a longer one is honoured')
  t.equal(nextStep({ ...failed, retryAfterMs: 1e15 }, 1, null, config, { random: half }).delayMs, 3_600_000, 'an endless one is capped')
})

t.test('the backoff is capped: no retry of any policy waits past a day', async (t) => {
  for (let retry = 1; retry <= 20; retry++) {
    const delay = retryDelayMs(retry, 3_600_000, () => 1)
    t.ok(Number.isSafeInteger(delay) && delay <= MAX_RETRY_DELAY_MS, `retry ${retry}: ${delay} ms`)
  }
})

t.test('a delay past PostgreSQL\'s integer is recorded (capped), and does not hold the outcomes behind it', async (t) => {
  const database = await testDatabase(t)
  const { rows, leaseId } = await claimed(database, 2)
  const recorder = new OutcomeRecorder(database.pool, quiet, policy)
  const [huge, next] = await settles(
    Promise.all([recorder.record(outcomeOf(rows[0]!, leaseId, { delayMs: 3e9 })), recorder.record(outcomeOf(rows[1]!, leaseId))]),
    15,
    'recording a 3·10⁹ ms delay',
  )
  t.same([huge, next], [true, true], 'both outcomes are recorded')
  const { rows: due } = await sql<{ days: number }>`
    select extract(epoch from next_attempt_at - now()) / 86400 as days from deliveries where id = ${rows[0]!.id}
  `.execute(database.db)
  t.ok(due[0]!.days > 20 && due[0]!.days < 25, `due in ${Number(due[0]!.days).toFixed(1)} days, not never`)
})

t.test('an attempt whose delivery retention deleted meanwhile is dropped, not retried for ever with its batch', async (t) => {
  const database = await testDatabase(t)
  const { rows, leaseId } = await claimed(database, 2)
  const [gone, kept] = rows as [Claimed, Claimed]
  // the plugin's deliveries were cancelled while one was in flight (cancel clears the lease) and are old
  await sql`update deliveries set status = 'cancelled', lease_id = null, created_at = now() - interval '40 days' where id = ${gone.id}`.execute(database.db)
  // a claimed (leased) settled row is never deleted
  await sql`update deliveries set status = 'failed', created_at = now() - interval '40 days' where id = ${kept.id}`.execute(database.db)
  const result = await runMaintenance(database.db, 30)
  t.equal(result.deliveriesDeleted, 1, 'retention deleted the cancelled one only')
  await sql`update deliveries set status = 'pending' where id = ${kept.id}`.execute(database.db)

  const recorder = new OutcomeRecorder(database.pool, quiet, policy)
  const first = recorder.record(outcomeOf(gone, leaseId))
  const second = recorder.record(outcomeOf(kept, leaseId, { status: 'sent', statusCode: 200, error: null }))
  t.same(await settles(Promise.all([first, second]), 15, 'the batch with a deleted delivery'), [false, true])
  const attempts = await sql<{ delivery_id: number }>`select delivery_id from delivery_attempts`.execute(database.db)
  t.same(attempts.rows.map((r) => Number(r.delivery_id)), [kept.id], 'the kept delivery\'s attempt alone is on record')
})

t.test('a batch the database refuses is split: the others are recorded, the refused one is given up and its slot freed', async (t) => {
  const database = await testDatabase(t)
  const { rows, leaseId } = await claimed(database, 5)
  const recorder = new OutcomeRecorder(database.pool, quiet, policy)
  // not a uuid: refused whatever the recorder cleans (no receiver can cause this one; it stands for any refusal)
  const refused = recorder.record(outcomeOf(rows[0]!, leaseId, { pluginId: 'not-a-uuid' }))
  const others = rows.slice(1).map((row) => recorder.record(outcomeOf(row, leaseId, { status: 'sent', statusCode: 200, error: null })))
  t.same(await settles(Promise.all([refused, ...others]), 15, 'a batch with a refused outcome'), [false, true, true, true, true])
  const sent = await sql<{ n: number }>`select count(*)::int as n from deliveries where status = 'sent'`.execute(database.db)
  t.equal(sent.rows[0]!.n, 4)
})

t.test('an outcome retried after an ambiguous commit adds no second attempt line', async (t) => {
  const database = await testDatabase(t)
  const { rows, leaseId } = await claimed(database, 1)
  const outcome = outcomeOf(rows[0]!, leaseId, { status: 'sent', statusCode: 200, error: null })
  t.same([...(await recordOutcomes(database.pool, [outcome], policy))], [rows[0]!.id])
  // the commit's answer was lost: the recorder writes the same batch again
  t.same([...(await recordOutcomes(database.pool, [outcome], policy))], [], 'the repeat is fenced off')
  const attempts = await sql<{ n: number }>`select count(*)::int as n from delivery_attempts`.execute(database.db)
  t.equal(attempts.rows[0]!.n, 1, 'one attempt, one line')
})

t.test('deleting a plugin while its failed outcome is being recorded does not deadlock', async (t) => {
  const database = await testDatabase(t)
  const { rows, leaseId } = await claimed(database, 1)
  const row = rows[0]!
  const holder = new pg.Client({ connectionString: database.url })
  // pg_stat_activity is read once per transaction: the watcher is not the holder
  const watcher = new pg.Client({ connectionString: database.url })
  await Promise.all([holder.connect(), watcher.connect()])
  t.teardown(() => Promise.all([holder.end(), watcher.end()]))
  const waiting = async (n: number) =>
    waitFor(
      async () => {
        const { rows } = await watcher.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)
        return rows[0].n >= n
      },
      { message: `${n} statement(s) waiting on a lock` },
    )
  // a third party holds the delivery's row; the outcome statement queues for it, then the deletion
  await holder.query('begin')
  await holder.query('select id from deliveries where id = $1 for update', [row.id])
  const outcome = recordOutcomes(database.pool, [outcomeOf(row, leaseId, { status: 'failed' })], policy).then(
    () => 'recorded',
    (e: Error) => e.message,
  )
  await waiting(1)
  const deletion = deletePlugin(database.db, DEFAULT_TENANT, 'p').then(
    () => 'deleted',
    (e: Error) => e.message,
  )
  await waiting(2)
  await holder.query('commit')
  t.same(await settles(Promise.all([outcome, deletion]), 15, 'the outcome and the deletion'), ['recorded', 'deleted'])
})
