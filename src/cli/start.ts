import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { startService } from '../service.ts'
import { fatal, onShutdown } from './shutdown.ts'

/** `npm start` / `npm run dev`: the API and the in-process relay. */
try {
  const config = loadConfig()
  const logger = createLogger(config, { pretty: process.argv.includes('--pretty') })
  const service = await startService(config, logger)
  onShutdown(logger, () => service.stop())
  logger.info(`BetterCallSold plugin system listening on http://localhost:${config.PORT}`)
} catch (error) {
  fatal(error)
}
