import t from 'tap'
import { sql } from 'kysely'
import { createDatabase } from '../src/db/database.ts'
import { nameStatement } from '../src/db/named-statements.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { insertPlugin } from '../src/plugins/plugin.repository.ts'
import { createProduct } from '../src/products/product.repository.ts'
import { testDatabase } from './helpers/db.ts'

const WRITE_STATEMENTS = ['bcs_emit', 'bcs_mark_ready', 'bcs_ordered_turns']

t.test("a write's statements are prepared once per connection and planned for their first runs only", async (t) => {
  const database = await testDatabase(t)
  // one connection: a session's prepared statements are visible in that session alone
  const one = createDatabase(database.url, 1)
  t.teardown(() => one.destroy())
  for (let i = 0; i < 10; i++) {
    await insertPlugin(one.db, DEFAULT_TENANT, { slug: `p${i}`, name: `p${i}`, webhook_url: 'http://127.0.0.1:1/x', events: ['product.created'], ordered: i === 0 })
  }
  const writes = 20
  for (let i = 0; i < writes; i++) await createProduct(one.db, DEFAULT_TENANT, { name: `product ${i}` })

  const { rows } = await sql<{ name: string; generic_plans: number; custom_plans: number }>`
    select name, generic_plans::integer, custom_plans::integer
      from pg_prepared_statements
     where name = any (${WRITE_STATEMENTS}::text[])
     order by name
  `.execute(one.db)
  t.same(rows.map((r) => r.name), WRITE_STATEMENTS, 'the fan-out, the ready rows and the ordered turns are prepared statements')
  for (const r of rows) {
    t.equal(r.generic_plans + r.custom_plans, writes, `${r.name} ran once per write`)
    // PostgreSQL plans a prepared statement for its first five runs, then keeps one plan if it costs no more
    t.ok(r.custom_plans <= 5, `${r.name}: planned ${r.custom_plans} times, then ran its one plan ${r.generic_plans} times`)
  }
  const { rows: made } = await sql<{ n: number }>`select count(*)::integer as n from deliveries`.execute(one.db)
  t.equal(made[0]!.n, writes * 10, 'and every write fanned out to the ten plugins')
})

t.test('a statement name belongs to one text', async (t) => {
  nameStatement('bcs_test_one', 'select 1')
  nameStatement('bcs_test_one', 'select 1')
  t.throws(() => nameStatement('bcs_test_one', 'select 2'), /taken by another text/)
  t.throws(() => nameStatement('bcs_test_two', 'select 1'), /taken by another text/)
})
