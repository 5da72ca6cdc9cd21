import { loadConfig } from '../config.ts'
import { resolveDatabase } from '../db/connect.ts'
import { createDatabase } from '../db/database.ts'
import { migrate } from '../db/migrate.ts'
import { createLogger } from '../logger.ts'
import { Relay } from '../relay/relay.ts'
import { fatal, onShutdown } from './shutdown.ts'

/** `bin/relay`: a relay alone, with the service's configuration. Run as many as you like. */
try {
  const config = loadConfig()
  const logger = createLogger(config, { pretty: process.argv.includes('--pretty'), name: 'relay' })
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 4)
  await migrate(database.db)
  const relay = new Relay(database, url, config, logger)
  relay.start()
  onShutdown(logger, async () => {
    await relay.stop()
    await database.destroy()
    await embedded?.stop()
  })
} catch (error) {
  fatal(error)
}
