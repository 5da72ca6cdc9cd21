import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { testDatabase } from './helpers/db.ts'
import { startReceiver } from './helpers/receiver.ts'
import { spawnRelay } from './helpers/relay-process.ts'

t.test('debug', async (t) => {
  const database = await testDatabase(t)
  const receiver = await startReceiver(t, 200)
  await insertPlugin(database.db, DEFAULT_TENANT, { slug: 'p', name: 'P', webhook_url: receiver.url, events: ['product.created'] })
  const env = { RELAY_CONCURRENCY: '10', WEBHOOK_TIMEOUT_MS: '1000', RELAY_LEASE_MARGIN_MS: '500' }
  const relays = [spawnRelay(t, database.url, env), spawnRelay(t, database.url, env)]
  let written = 0
  const writer = (async () => { for (let i = 0; i < 300; i++) { await createProduct(database.db, DEFAULT_TENANT, { name: `p${i}` }); written++ } })()
  while (receiver.received.length < 1) await sleep(10)
  relays[1]!.child.kill('SIGKILL')
  await relays[1]!.exited
  relays[1] = spawnRelay(t, database.url, env)
  for (let i = 0; i < 8; i++) {
    await sleep(1000)
    console.log('t', i, 'received', receiver.received.length, 'written', written)
    console.log(JSON.stringify((await sql`select status, lease_id is not null as leased, next_attempt_at > now() as future, count(*) from deliveries group by 1,2,3`.execute(database.db)).rows))
    console.log(JSON.stringify((await sql`select *, due_at > now() as future from plugin_ready`.execute(database.db)).rows))
    console.log(JSON.stringify((await sql`select pid, application_name, state, wait_event_type, wait_event, left(query, 40) as q from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(database.db)).rows))
  }
  await writer
  console.log(relays[0]!.output().slice(-1500)); console.log(relays[1]!.output().slice(-1500))
  t.ok(true)
})
