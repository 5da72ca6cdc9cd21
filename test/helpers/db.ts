import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { sql } from 'kysely'
import { createDatabase, type DatabaseHandle } from '../../src/db/database.ts'

export interface TestDatabase extends DatabaseHandle {
  url: string
  name: string
}

function adminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL
  if (!url) throw new Error('TEST_PG_ADMIN_URL is unset: run the suite with `npm test` (test/harness/run.ts)')
  return url
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A fresh, migrated database of this test's own (a copy of the template), dropped at teardown. */
export async function testDatabase(t: Test): Promise<TestDatabase> {
  const name = `bcs_test_${randomBytes(6).toString('hex')}`
  await admin((c) => c.query(`create database ${name} template ${process.env.TEST_PG_TEMPLATE ?? 'bcs_test_template'}`))
  const url = new URL(adminUrl())
  url.pathname = `/${name}`
  const handle = createDatabase(url.toString(), 5)
  t.teardown(async () => {
    await handle.destroy()
    await admin((c) => c.query(`drop database if exists ${name} with (force)`))
  })
  return { ...handle, url: url.toString(), name }
}

/** Row counts of every table: "the database is exactly as it was". */
export async function rowCounts(db: DatabaseHandle['db']): Promise<Record<string, number>> {
  const { rows } = await sql<{ table: string; n: number }>`
    select c.relname as table,
           (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I', c.relname), false, true, '')))[1]::text::int as n
      from pg_class c join pg_namespace s on s.oid = c.relnamespace
     where s.nspname = 'public' and c.relkind = 'r' and c.relname not like 'kysely_%'
     order by 1
  `.execute(db)
  return Object.fromEntries(rows.map((r) => [r.table, r.n]))
}
