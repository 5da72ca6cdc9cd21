import { startAggregatorThread, type AggregatorThread } from '../analytics/aggregator-thread.ts'
import { loadConfig } from '../config.ts'
import { poolOptions, resolveDatabase, untilDatabaseAnswers } from '../db/connect.ts'
import { createDatabase } from '../db/database.ts'
import { migrate } from '../db/migrate.ts'
import { createLogger } from '../logger.ts'
import { Relay } from '../relay/relay.ts'
import { checkSecretsKey, loadSecretCipher } from '../secrets/secrets-key.ts'
import { fatal, onShutdown } from './shutdown.ts'

/** `bin/relay`: a relay alone, with the service's configuration. Run as many as you like. */
try {
  const config = loadConfig()
  const logger = createLogger(config, { pretty: process.argv.includes('--pretty'), name: 'relay' })
  const cipher = await loadSecretCipher(config)
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 4, poolOptions(config, logger))
  // a database that is down, restarting or failing over is waited for; a SIGTERM meanwhile ends the wait
  const waiting = new AbortController()
  let relay: Relay | undefined
  let aggregator: AggregatorThread | undefined
  onShutdown(logger, async () => {
    waiting.abort()
    await relay?.stop()
    await aggregator?.stop()
    await database.destroy()
    await embedded?.stop()
  })
  await untilDatabaseAnswers(
    async () => {
      await migrate(database.db)
      await checkSecretsKey(database.db, cipher)
    },
    { log: logger, retryMaxMs: config.DATABASE_RETRY_MAX_MS, signal: waiting.signal },
  ).catch((error) => {
    // stopped while waiting: the shutdown handler exits
    if (waiting.signal.aborted) return new Promise<never>(() => {})
    throw error
  })
  // handlers are installed above: whoever reads "relay started" may send SIGTERM the next moment
  relay = new Relay(database, url, config, logger, cipher)
  relay.start()
  // on a thread and a connection of its own: aggregating never takes the relay's thread from its deliveries
  if (config.ANALYTICS === 'on') aggregator = startAggregatorThread(url, logger)
} catch (error) {
  fatal(error)
}
