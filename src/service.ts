import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.ts'
import { openServerWarning, type Config } from './config.ts'
import { poolOptions, resolveDatabase, untilDatabaseAnswers } from './db/connect.ts'
import { createDatabase, createPool } from './db/database.ts'
import { migrate } from './db/migrate.ts'
import { DatabaseReadiness } from './db/readiness.ts'
import { Dispatcher } from './relay/dispatcher.ts'
import { Relay } from './relay/relay.ts'
import { checkSecretsKey, loadSecretCipher } from './secrets/secrets-key.ts'
import { SigningKeys } from './secrets/signing-keys.ts'

export interface Service {
  app: FastifyInstance
  relay?: Relay
  /** graceful: stop taking requests, drain the relay, close the database */
  stop(): Promise<void>
}

/**
 * The API and, unless RELAY=off, its in-process relay, on a migrated database.
 * The API listens before the database answers: while it waits (as long as it
 * takes, see untilDatabaseAnswers), /health says so and every other route
 * answers 503. Resolves once the database is migrated and the relay started;
 * rejects for what waiting cannot cure.
 */
export async function startService(config: Config, logger: Logger, options: { listen?: boolean } = {}): Promise<Service> {
  // first: production without SECRETS_KEY stops here, before anything is started
  const cipher = await loadSecretCipher(config)
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 10, poolOptions(config, logger))
  // the probes' own connection: a busy API pool does not read as an outage
  const probePool = createPool(url, 1, { ...poolOptions(config, logger), connectTimeoutMs: Math.min(2000, config.DATABASE_CONNECT_TIMEOUT_MS) })
  const readiness = new DatabaseReadiness(probePool)
  // the relay has its own small pool, so API traffic never starves claims and outcomes
  const relayDatabase = config.RELAY === 'on' ? createDatabase(url, 4, poolOptions(config, logger)) : undefined
  const relay = relayDatabase ? new Relay(relayDatabase, url, config, logger, cipher) : undefined
  const dispatcher = relay?.dispatcher ?? new Dispatcher(database.pool, config, logger, new SigningKeys(database.db, cipher))
  const app = await buildApp({ config, database, readiness, dispatcher, relay, logger, cipher })

  const closeAll = async () => {
    await app.close()
    await relay?.stop()
    if (!relay) await dispatcher.close()
    await relayDatabase?.destroy()
    await database.destroy()
    await probePool.end()
    await embedded?.stop()
  }
  try {
    if (options.listen !== false) {
      const warning = openServerWarning(config)
      if (warning) logger.warn(warning)
      await app.listen({ port: config.PORT, host: config.HOST }).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'EADDRINUSE'
          ? Object.assign(new Error(`port ${config.PORT} on ${config.HOST} is already in use (is another server running?): stop it, or start on another port with PORT=<n>`), { code: error.code })
          : error
      })
    }
    await untilDatabaseAnswers(
      async () => {
        await migrate(database.db)
        await checkSecretsKey(database.db, cipher)
      },
      { log: logger, retryMaxMs: config.DATABASE_RETRY_MAX_MS },
    )
  } catch (error) {
    await closeAll().catch(() => {})
    throw error
  }
  readiness.markStarted()
  relay?.start()
  return { app, relay, stop: closeAll }
}
