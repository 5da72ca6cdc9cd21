import t from 'tap'
import fs from 'node:fs/promises'
import path from 'node:path'
import { spawn } from 'node:child_process'
import pg from 'pg'
import type { Test } from 'tap'
import { sql } from 'kysely'
import { createDatabase } from '../src/db/database.ts'
import { MIGRATIONS_DIR, migrate } from '../src/db/migrate.ts'

/** An empty database (not a template copy), dropped at teardown. */
async function emptyDatabase(t: Test): Promise<string> {
  const admin = process.env.TEST_PG_ADMIN_URL!
  const name = `bcs_test_empty_${Math.random().toString(36).slice(2, 10)}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(`create database ${name}`)
  await client.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    await c.query(`drop database if exists ${name} with (force)`)
    await c.end()
  })
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

t.test('two processes migrating one database at once apply each migration exactly once', async (t) => {
  const url = await emptyDatabase(t)
  const a = createDatabase(url, 2)
  const b = createDatabase(url, 2)
  t.teardown(async () => {
    await a.destroy()
    await b.destroy()
  })
  const [fromA, fromB] = await Promise.all([migrate(a.db), migrate(b.db)])
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'))
  t.equal(fromA.length + fromB.length, files.length, 'between them, every migration once')
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(a.db)
  t.equal(rows[0]!.n, files.length)
  t.same(await migrate(a.db), [], 'a third run has nothing to do')
})

t.test('a failing migration throws, loudly, and leaves nothing half-applied', async (t) => {
  const url = await emptyDatabase(t)
  const dir = t.testdir({ '0001_ok.sql': 'create table ok (id int);', '0002_bad.sql': 'create table bad (id int); select 1/0;' })
  const database = createDatabase(url, 1)
  t.teardown(() => database.destroy())
  await t.rejects(migrate(database.db, dir), { name: 'MigrationError', message: /0002_bad failed: division by zero/ })
  const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_name in ('ok', 'bad')`.execute(database.db)
  t.same(rows.map((r) => r.name), [], 'the run is one transaction: all of it rolled back')
})

t.test('a migration from a parallel branch, numbered below one already applied, is applied too', async (t) => {
  const url = await emptyDatabase(t)
  const dir = t.testdir({ '0001_a.sql': 'create table a (id int);', '0003_c.sql': 'create table c (id int);' })
  const database = createDatabase(url, 1)
  t.teardown(() => database.destroy())
  t.same(await migrate(database.db, dir), ['0001_a', '0003_c'])
  await fs.writeFile(path.join(dir, '0002_b.sql'), 'create table b (id int);')
  t.same(await migrate(database.db, dir), ['0002_b'], 'applied, not refused as "corrupted migrations"')
  t.same(await migrate(database.db, dir), [], 'and once')
})

t.test('npm run migrate exits non-zero with one line when the database is unreachable', async (t) => {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin/migrate')], {
    env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c))
  t.equal(await new Promise((resolve) => child.on('exit', resolve)), 1)
  t.match(stderr, /^bettercallsold: MigrationError: .*ECONNREFUSED/)
})
