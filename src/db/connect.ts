import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { PoolOptions } from './database.ts'
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts'
import { isDatabaseUnavailable } from './unavailable.ts'

export interface ResolvedDatabase {
  url: string
  /** set when this process started the embedded server (stop it last) */
  embedded?: EmbeddedPostgres
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR
 * (started, or joined if running). An embedded server that dies under us is
 * started again, with backoff, on the same port: the pools reconnect by themselves.
 */
export async function resolveDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'EMBEDDED_PG_PORT' | 'DATABASE_RETRY_MAX_MS'>,
  log: Logger,
): Promise<ResolvedDatabase> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL }
  const dir = path.join(config.DATA_DIR, 'pg')
  let stopped = false
  const start = (): Promise<EmbeddedPostgres> =>
    startEmbeddedPostgres({
      dir,
      port: config.EMBEDDED_PG_PORT,
      log: (line) => log.debug({ postgres: line }),
      onExit: (how) => {
        if (stopped) return
        log.error({ how }, 'embedded PostgreSQL exited; starting it again')
        void restart()
      },
    })
  const restart = async () => {
    for (let attempt = 0; !stopped; attempt++) {
      // a killed server's backends may hold its shared memory for a moment
      await sleep(startRetryDelayMs(attempt, config.DATABASE_RETRY_MAX_MS))
      if (stopped) return
      try {
        current = await start()
        log.info({ port: current.port }, 'embedded PostgreSQL started again')
        return
      } catch (error) {
        log.warn({ attempt: attempt + 1, error: (error as Error).message }, 'embedded PostgreSQL did not start; trying again')
      }
    }
  }
  let current = await start()
  log.info({ dir, port: current.port }, 'embedded PostgreSQL ready')
  const url = await ensureDatabase(current.adminUrl, 'bettercallsold')
  const embedded: EmbeddedPostgres = {
    adminUrl: current.adminUrl,
    port: current.port,
    stop: () => {
      stopped = true
      return current.stop()
    },
  }
  return { url, embedded }
}

/** Pool settings from the configuration: how long an outage may hold a query. */
export function poolOptions(config: Pick<Config, 'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_STATEMENT_TIMEOUT_MS'>, log: Logger): PoolOptions {
  return { log, connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS, statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS }
}

/** Delay before attempt `n` (0-based) at start: 250 ms doubling up to `maxMs`, with jitter so that many processes do not retry in step. */
export const startRetryDelayMs = (attempt: number, maxMs: number, random = Math.random): number =>
  Math.round(Math.min(maxMs, 250 * 2 ** attempt) * (0.75 + random() / 4))

/**
 * Runs `work` (connect, migrate, check) until the database answers it. While the
 * database is unreachable it waits and tries again, for as long as it takes,
 * one warn line per attempt; an error that waiting cannot cure (bad credentials,
 * a missing database, a failed migration) is thrown at once, for the process to
 * exit non-zero.
 */
export async function untilDatabaseAnswers<T>(
  work: () => Promise<T>,
  options: { log: Logger; retryMaxMs: number; signal?: AbortSignal },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (!isDatabaseUnavailable(error) || options.signal?.aborted) throw error
      const retryInMs = startRetryDelayMs(attempt, options.retryMaxMs)
      // the message only: a stack trace per attempt says nothing the first did not
      options.log.warn({ attempt: attempt + 1, retryInMs, error: (error as Error).message }, 'waiting for the database')
      await sleep(retryInMs, undefined, { signal: options.signal })
    }
  }
}
