import { parentPort, threadId, workerData } from 'node:worker_threads'
import { loadConfig } from '../config.ts'
import { poolOptions } from '../db/connect.ts'
import { createDatabase } from '../db/database.ts'
import { createLogger } from '../logger.ts'
import { Aggregator } from './aggregator.ts'

/**
 * What runs on the aggregator's thread (aggregator-thread.ts): the aggregator's loop on one
 * connection, until the relay says 'stop'; it then finishes its run, closes the connection
 * and lets the thread end.
 */
const { databaseUrl } = workerData as { databaseUrl: string }
const config = loadConfig()
const logger = createLogger(config, { name: 'aggregator' })
const database = createDatabase(databaseUrl, 1, poolOptions(config, logger))
const aggregator = new Aggregator(database.db, config, logger)
aggregator.start()
logger.info({ thread: threadId, intervalMs: config.ANALYTICS_INTERVAL_MS }, 'analytics aggregator started on its own thread')
parentPort!.on('message', (message) => {
  if (message !== 'stop') return
  void (async () => {
    await aggregator.stop()
    await database.destroy()
    parentPort!.close()
  })()
})
