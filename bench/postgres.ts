import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { startEmbeddedPostgres } from '../src/db/embedded.ts'
import { freePort } from '../test/helpers/net.ts'

/**
 * The bench's PostgreSQL: its own embedded server in a temporary directory, or
 * (`--pg-url`, for the tap test) a server already running, in which the bench
 * only creates and drops databases of its own.
 */
export interface BenchPostgres {
  version: string
  /** pg_stat_statements is loaded (the bench's own server; not a server given with --pg-url) */
  statements: boolean
  /** commit timestamps are kept (track_commit_timestamp; the bench's own server) */
  commitTimes: boolean
  /** URL of database `name` on this server */
  url(name: string): string
  /** a fresh database copied from `template` (or empty), with a unique name */
  create(prefix: string, template?: string): Promise<string>
  drop(name: string): Promise<void>
  stop(): Promise<void>
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function startBenchPostgres(existingAdminUrl?: string): Promise<BenchPostgres> {
  let adminUrl = existingAdminUrl
  let stopServer = async () => {}
  if (!adminUrl) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-bench-pg-'))
    await fs.chmod(dir, 0o755)
    const options = { dir: path.join(dir, 'pg'), port: await freePort(), persistent: true }
    const first = await startEmbeddedPostgres(options)
    // pg_stat_statements must be loaded at start: one restart, so the bench can say which statements the time went to
    await withClient(first.adminUrl, async (c) => {
      await c.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`)
      // planning counts too: a complex statement re-planned on every call costs as much as running it
      await c.query(`alter system set pg_stat_statements.track_planning = on`)
      // commit times: the latency scenario measures from the commit, not from the request
      await c.query(`alter system set track_commit_timestamp = on`)
    })
    await first.stop()
    const embedded = await startEmbeddedPostgres(options)
    adminUrl = embedded.adminUrl
    stopServer = async () => {
      await embedded.stop()
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
  const admin = adminUrl
  // every database of this run shares the prefix, so a crashed run's leftovers are recognisable
  const run = `bench_${randomBytes(3).toString('hex')}`
  const created = new Set<string>()
  const version = await withClient(admin, async (c) => (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v)
  const statements = await withClient(admin, async (c) =>
    (await c.query<{ v: string }>("select current_setting('shared_preload_libraries') as v")).rows[0]!.v.includes('pg_stat_statements'),
  )
  const commitTimes = await withClient(admin, async (c) => (await c.query<{ v: string }>("select current_setting('track_commit_timestamp') as v")).rows[0]!.v === 'on')
  const url = (name: string) => {
    const u = new URL(admin)
    u.pathname = `/${name}`
    return u.toString()
  }
  const drop = async (name: string) => {
    await withClient(admin, (c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`))
    created.delete(name)
  }
  return {
    version,
    statements,
    commitTimes,
    url,
    async create(prefix, template) {
      const name = `${run}_${prefix}_${randomBytes(2).toString('hex')}`
      // file_copy: a template of a million rows is copied in seconds, not WAL-logged block by block
      await withClient(admin, (c) =>
        c.query(`create database ${c.escapeIdentifier(name)}${template ? ` template ${c.escapeIdentifier(template)} strategy file_copy` : ''}`),
      )
      created.add(name)
      return name
    },
    drop,
    async stop() {
      for (const name of [...created]) await drop(name).catch(() => {})
      await stopServer()
    },
  }
}

/**
 * The starting gate of a drain: a transaction holding `table` in access exclusive
 * mode. Workers start, connect, and block on their first claim; `open()` commits
 * once all of them wait, so every contender starts at the same instant and none is
 * charged its process start-up.
 */
export async function holdTable(databaseUrl: string, table: string) {
  const holder = new pg.Client({ connectionString: databaseUrl })
  // a second connection watches: inside the holder's transaction pg_stat_activity is a snapshot that never changes
  const watcher = new pg.Client({ connectionString: databaseUrl })
  await Promise.all([holder.connect(), watcher.connect()])
  await holder.query('begin')
  await holder.query(`lock table ${table} in access exclusive mode`)
  return {
    /** resolves once `n` applications named `appPrefix…` have a connection waiting on a lock */
    async waitForWaiters(appPrefix: string, n: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const { rows } = await watcher.query<{ n: number }>(
          `select count(distinct application_name)::int as n
             from pg_stat_activity
            where datname = current_database() and application_name like $1 and wait_event_type = 'Lock'`,
          [`${appPrefix}%`],
        )
        if (rows[0]!.n >= n) return
        if (Date.now() > deadline) {
          const activity = await watcher.query(
            `select application_name, state, wait_event_type, wait_event, left(query, 80) as query
               from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
          )
          throw new Error(`only ${rows[0]!.n} of ${n} ${appPrefix}* processes reached the gate in ${timeoutMs} ms; activity: ${JSON.stringify(activity.rows)}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
    async open() {
      await holder.query('commit')
    },
    async close() {
      await Promise.all([holder.end().catch(() => {}), watcher.end().catch(() => {})])
    },
  }
}

export interface StatementStats {
  query: string
  calls: number
  rows: number
  /** total execution time, ms */
  totalMs: number
  /** total planning time, ms */
  planMs: number
}

/** Forgets what pg_stat_statements has counted so far (server-wide: one run at a time). */
export async function resetStatements(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (c) => c.query('select pg_stat_statements_reset()'))
}

/** The statements of this database by execution time since the last reset, the bench's own left out. */
export async function topStatements(databaseUrl: string, limit = 8): Promise<StatementStats[]> {
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<StatementStats>(
      `select regexp_replace(query, '\\s+', ' ', 'g') as query, calls::int as calls, rows::int as rows, total_exec_time as "totalMs", total_plan_time as "planMs"
         from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query not ilike '%pg_stat%' and query not ilike '%count(*)::int as n%'
        order by total_exec_time + total_plan_time desc
        limit $1`,
      [limit],
    )
    return rows
  })
}
