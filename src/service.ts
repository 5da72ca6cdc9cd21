import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { Aggregator } from './analytics/aggregator.ts'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import { resolveDatabase } from './db/connect.ts'
import { createDatabase } from './db/database.ts'
import { migrate } from './db/migrate.ts'
import { Dispatcher } from './relay/dispatcher.ts'
import { Relay } from './relay/relay.ts'
import { checkSecretsKey, loadSecretCipher } from './secrets/secrets-key.ts'
import { SigningKeys } from './secrets/signing-keys.ts'

export interface Service {
  app: FastifyInstance
  relay?: Relay
  /** the analytics aggregator and alerts, unless ANALYTICS=off */
  aggregator?: Aggregator
  /** graceful: stop taking requests, drain the relay, close the database */
  stop(): Promise<void>
}

/** The API and, unless RELAY=off, its in-process relay, on a migrated database. */
export async function startService(config: Config, logger: Logger, options: { listen?: boolean } = {}): Promise<Service> {
  // first: production without SECRETS_KEY stops here, before anything is started
  const cipher = await loadSecretCipher(config)
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 10)
  await migrate(database.db)
  await checkSecretsKey(database.db, cipher).catch(async (error: unknown) => {
    await database.destroy()
    await embedded?.stop()
    throw error
  })
  // the relay has its own small pool, so API traffic never starves claims and outcomes
  const relayDatabase = config.RELAY === 'on' ? createDatabase(url, 4) : undefined
  const relay = relayDatabase ? new Relay(relayDatabase, url, config, logger, cipher) : undefined
  const dispatcher = relay?.dispatcher ?? new Dispatcher(database.pool, config, logger, new SigningKeys(database.db, cipher))
  const app = await buildApp({ config, database, dispatcher, relay, logger, cipher })
  if (options.listen !== false) await app.listen({ port: config.PORT, host: config.HOST })
  relay?.start()
  // one connection of its own: a long aggregation never takes a connection the API or the relay needs
  const analyticsDatabase = config.ANALYTICS === 'on' ? createDatabase(url, 1) : undefined
  const aggregator = analyticsDatabase ? new Aggregator(analyticsDatabase.db, config, logger) : undefined
  aggregator?.start()

  return {
    app,
    relay,
    aggregator,
    async stop() {
      await app.close()
      await aggregator?.stop()
      await analyticsDatabase?.destroy()
      await relay?.stop()
      if (!relay) await dispatcher.close()
      await relayDatabase?.destroy()
      await database.destroy()
      await embedded?.stop()
    },
  }
}
