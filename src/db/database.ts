import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import type { Logger } from 'pino'
import { NamingClient } from './named-statements.ts'
import type { DB } from './schema.ts'

// bigint ids and count(*) as numbers: ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export type Database = Kysely<DB>

export interface DatabaseHandle {
  db: Database
  pool: pg.Pool
  destroy(): Promise<void>
}

export interface PoolOptions {
  /** where a lost connection is reported (once per connection, at warn) */
  log?: Logger
  /** how long a query waits for a connection (a new one, or a free one of the pool) before it fails */
  connectTimeoutMs?: number
  /** the server cancels a statement running longer than this; 0 = no limit */
  statementTimeoutMs?: number
}

/**
 * The one 'error' listener every pg client needs. A client whose connection is
 * cut (failover, restart, crash) emits 'error'; with no listener, Node throws it
 * and the process dies. The query that was running fails on its own (the API
 * answers 503, the relay's loops retry): the event itself needs nothing but a
 * listener, and a line in the log.
 */
export function survivesConnectionLoss(client: pg.ClientBase, log?: Logger, what = 'database connection'): void {
  let reported = false
  client.on('error', (error: Error) => {
    if (reported) return
    reported = true
    log?.warn({ error: error.message }, `${what} lost`)
  })
}

export function createPool(connectionString: string, max = 10, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    // the write path's registered statements go out named (src/db/named-statements.ts)
    Client: NamingClient,
    connectionString,
    max,
    // fail fast while the database is down instead of queueing requests forever
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  })
  // An idle client's error is emitted by the pool (which drops the client): the pool needs
  // its listener. A client in use (by a query, or held by a transaction) emits on itself,
  // and pg-pool removes its own listener while the client is checked out: every client
  // gets ours for its whole life, from the moment it connects.
  pool.on('error', () => {})
  pool.on('connect', (client) => survivesConnectionLoss(client, options.log))
  return pool
}

export function createDatabase(connectionString: string, max = 10, options: PoolOptions = {}): DatabaseHandle {
  const pool = createPool(connectionString, max, options)
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  return { db, pool, destroy: () => db.destroy() }
}
