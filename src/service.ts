import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.ts'
import type { Config } from './config.ts'
import { resolveDatabase } from './db/connect.ts'
import { createDatabase } from './db/database.ts'
import { migrate } from './db/migrate.ts'
import { Dispatcher } from './relay/dispatcher.ts'
import { Relay } from './relay/relay.ts'

export interface Service {
  app: FastifyInstance
  relay?: Relay
  /** graceful: stop taking requests, drain the relay, close the database */
  stop(): Promise<void>
}

/** The API and, unless RELAY=off, its in-process relay, on a migrated database. */
export async function startService(config: Config, logger: Logger, options: { listen?: boolean } = {}): Promise<Service> {
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 10)
  await migrate(database.db)
  // the relay has its own small pool, so API traffic never starves claims and outcomes
  const relayDatabase = config.RELAY === 'on' ? createDatabase(url, 4) : undefined
  const relay = relayDatabase ? new Relay(relayDatabase, url, config, logger) : undefined
  const dispatcher = relay?.dispatcher ?? new Dispatcher(database.pool, config, logger)
  const app = await buildApp({ config, database, dispatcher, relay, logger })
  if (options.listen !== false) await app.listen({ port: config.PORT, host: config.HOST })
  relay?.start()

  return {
    app,
    relay,
    async stop() {
      await app.close()
      await relay?.stop()
      if (!relay) await dispatcher.close()
      await relayDatabase?.destroy()
      await database.destroy()
      await embedded?.stop()
    },
  }
}
