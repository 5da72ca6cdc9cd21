import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import type { DB } from './schema.ts'

// bigint ids and count(*) as numbers: ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export type Database = Kysely<DB>

export interface DatabaseHandle {
  db: Database
  pool: pg.Pool
  destroy(): Promise<void>
}

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    // fail fast while the database is down instead of queueing requests forever
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  })
  // an idle client losing its connection must not crash the process; the pool replaces it
  pool.on('error', () => {})
  // nor a checked-out one between two statements of a transaction (pg-pool listens on idle
  // clients only): the transaction's next statement fails instead, and its caller handles that
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

export function createDatabase(connectionString: string, max = 10): DatabaseHandle {
  const pool = createPool(connectionString, max)
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  return { db, pool, destroy: () => db.destroy() }
}
