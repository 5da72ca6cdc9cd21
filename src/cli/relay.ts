import { Aggregator } from '../analytics/aggregator.ts'
import { loadConfig } from '../config.ts'
import { resolveDatabase } from '../db/connect.ts'
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
  const database = createDatabase(url, 4)
  await migrate(database.db)
  await checkSecretsKey(database.db, cipher)
  const relay = new Relay(database, url, config, logger, cipher)
  // one connection of its own, beside the relay's pool: aggregating never delays a claim or an outcome
  const analyticsDatabase = config.ANALYTICS === 'on' ? createDatabase(url, 1) : undefined
  const aggregator = analyticsDatabase ? new Aggregator(analyticsDatabase.db, config, logger) : undefined
  // handlers first: whoever reads "relay started" may send SIGTERM the next moment,
  // and a process preempted between that line and installing them would die of it
  onShutdown(logger, async () => {
    await relay.stop()
    await aggregator?.stop()
    await analyticsDatabase?.destroy()
    await database.destroy()
    await embedded?.stop()
  })
  relay.start()
  aggregator?.start()
} catch (error) {
  fatal(error)
}
