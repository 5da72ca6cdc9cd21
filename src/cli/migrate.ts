import { loadConfig } from '../config.ts'
import { resolveDatabase } from '../db/connect.ts'
import { createDatabase } from '../db/database.ts'
import { migrate } from '../db/migrate.ts'
import { createLogger } from '../logger.ts'
import { fatal } from './shutdown.ts'

/** `npm run migrate`: applies pending migrations; exits non-zero, loudly, if one fails. */
try {
  const config = loadConfig()
  const logger = createLogger(config)
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 1)
  try {
    const applied = await migrate(database.db)
    logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date')
  } finally {
    await database.destroy()
    await embedded?.stop()
  }
} catch (error) {
  fatal(error)
}
